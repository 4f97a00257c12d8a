#include "cluster/kubelet/kubelet.hpp"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <map>
#include <thread>

#include "cluster/api/errors.hpp"
#include "cluster/api/meta.hpp"
#include "cluster/api/selectors.hpp"
#include "cluster/api/service.hpp"
#include "cluster/controllers/runtime/event_recorder.hpp"
#include "cluster/controllers/runtime/informer.hpp"
#include "cluster/controllers/runtime/object_util.hpp"
#include "cluster/controllers/runtime/work_queue.hpp"
#include "cluster/kubelet/container_logs.hpp"
#include "cluster/kubelet/node_status.hpp"
#include "cluster/kubelet/pod_runtime.hpp"
#include "cluster/kubelet/pod_sync.hpp"
#include "cluster/kubelet/probes.hpp"

namespace kcube::kubelet {
namespace json = boost::json;
using controllers::array_at;
using controllers::object_at;
using controllers::string_at;

namespace {

// What of a pod the kubelet acts on; status-only changes (its own writes, mostly) are not.
std::string pod_fingerprint(const json::object& pod) {
    json::object view;
    if (const auto* spec = pod.if_contains("spec")) view["spec"] = *spec;
    if (const auto* meta = object_at(pod, "metadata")) {
        for (const char* field :
             {"uid", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations"})
            if (const auto* v = meta->if_contains(field)) view[field] = *v;
    }
    return json::serialize(view);
}

}  // namespace

struct Kubelet::Impl {
    api::ResourceService& service;
    cri::CriClient& cri;
    KubeletOptions options;
    std::shared_ptr<const api::ResourceInfo> pods_info;
    controllers::InformerSet informers;
    controllers::Informer& pods;
    controllers::EventRecorder events;
    controllers::WorkQueue queue;
    VolumeManager volumes;
    ProbeManager probes;
    NodeStatusReporter node_status;
    PodSync pod_sync;
    std::vector<std::jthread> workers;
    std::jthread relist;
    bool running = false;

    Impl(api::ResourceService& s, cri::CriClient& c, KubeletOptions o)
        : service(s),
          cri(c),
          options(std::move(o)),
          pods_info(s.registry().find("", "v1", "pods")),
          informers(s),
          pods(informers.get("", "v1", "pods")),
          events(s),
          volumes(s, options.paths, options.tokens),
          probes(c, [this](const std::string& key) { queue.add(key); }),
          node_status(s, c,
                      NodeStatusOptions{options.node_name, options.node_ip, options.pod_cidr,
                                        options.kubelet_version, options.data_dir}),
          pod_sync(s, c, pods, events, volumes, probes, options,
                   [this](const std::string& key, std::chrono::milliseconds delay) {
                       if (delay.count() <= 0)
                           queue.add(key);
                       else
                           queue.add_after(key, delay);
                   }) {}

    bool on_node(const json::object& pod) const {
        return api::field_value(pod, "spec.nodeName") == options.node_name;
    }

    void start() {
        probes.set_on_failure([this](const std::string& key, const std::string& uid,
                                     const std::string& container, ProbeType,
                                     const std::string& message) {
            auto pod = pods.get(key);
            if (!pod || api::meta_string(*pod, "uid") != uid) return;
            events.record(*pod, "kubelet", "Warning", "Unhealthy", message,
                          "spec.containers{" + container + "}");
        });
        node_status.start();
        pods.on_change(
            [this](const controllers::ObjectPtr& old, const controllers::ObjectPtr& now) {
                const auto& any = now ? now : old;
                if (!on_node(*any) && !(old && on_node(*old))) return;
                if (old && now && pod_fingerprint(*old) == pod_fingerprint(*now)) return;
                queue.add(controllers::object_key(*any));
            });
        informers.start();
        for (int i = 0; i < options.workers; ++i)
            workers.emplace_back([this](std::stop_token stop) { work(stop); });
        relist = std::jthread([this](std::stop_token stop) { relist_loop(stop); });
        running = true;
    }

    void work(std::stop_token stop) {
        while (auto key = queue.get(stop)) {
            try {
                pod_sync.sync(*key);
                queue.forget(*key);
            } catch (const std::exception& e) {
                spdlog::warn("kubelet: syncing pod {}: {}", *key, e.what());
                queue.add_rate_limited(*key);
            }
            queue.done(*key);
        }
    }

    // Upstream's PLEG: list the runtime now and then, and sync the pods whose containers or
    // sandboxes changed state (a container exited, containerd restarted...). Every
    // resync_period every pod on the node is synced too (tokens, ConfigMap contents).
    void relist_loop(std::stop_token stop) {
        std::map<std::string, std::pair<std::string, int>> last;  // id → {pod key, state}
        auto next_resync = std::chrono::steady_clock::now();
        std::mutex mutex;
        std::condition_variable_any wake;
        while (!stop.stop_requested()) {
            try {
                std::map<std::string, std::pair<std::string, int>> now;
                for (auto& item : summarize_runtime(cri).items)
                    now[item.id] = {item.pod_key, item.state};
                std::set<std::string> changed;
                for (const auto& [id, entry] : now) {
                    auto it = last.find(id);
                    if (it == last.end() || it->second.second != entry.second)
                        changed.insert(entry.first);
                }
                for (const auto& [id, entry] : last)
                    if (!now.contains(id)) changed.insert(entry.first);
                for (const auto& key : changed)
                    queue.add(key);
                last = std::move(now);
            } catch (const std::exception& e) {
                spdlog::debug("kubelet: relisting the runtime: {}", e.what());
            }
            if (std::chrono::steady_clock::now() >= next_resync) {
                next_resync = std::chrono::steady_clock::now() + options.resync_period;
                for (const auto& pod : pods.list())
                    if (on_node(*pod)) queue.add(controllers::object_key(*pod));
            }
            std::unique_lock lock(mutex);
            wake.wait_for(lock, stop, options.relist_period, [] { return false; });
        }
    }

    void stop() {
        if (!running) return;
        running = false;
        relist.request_stop();
        if (relist.joinable()) relist.join();
        queue.shut_down();
        for (auto& w : workers)
            w.request_stop();
        workers.clear();  // joins
        try {
            pod_sync.stop_all(options.shutdown_grace);
        } catch (const std::exception& e) {
            spdlog::warn("kubelet: stopping pods: {}", e.what());
        }
        node_status.stop();
        informers.stop();
        events.flush();
    }

    // ---- streaming -----------------------------------------------------------------------

    json::object pod_or_404(const std::string& ns, const std::string& name) {
        auto pod = pods.get(ns, name);
        if (!pod) throw api::not_found("", "pods", name);
        return *pod;
    }

    // The pod's runtime record of `container` (the current one, or the previous with
    // `previous`); throws upstream's 400s when there is none.
    ContainerRecord find_container(const json::object& pod, const std::string& container,
                                   bool previous) {
        const std::string ns = api::meta_string(pod, "namespace");
        const std::string name = api::meta_string(pod, "name");
        const std::string uid = api::meta_string(pod, "uid");
        for (const auto& rt : load_pod_runtime(cri, ns, name)) {
            if (rt.uid != uid) continue;
            const ContainerRecord* c = previous ? rt.previous(container) : rt.latest(container);
            if (c) return *c;
        }
        if (previous)
            throw api::bad_request("previous terminated container \"" + container + "\" in pod \"" +
                                   name + "\" not found");
        std::string reason = "ContainerCreating";
        for (const char* list : {"containerStatuses", "initContainerStatuses"}) {
            const auto* status = object_at(pod, "status");
            const auto* statuses = status ? array_at(*status, list) : nullptr;
            if (!statuses) continue;
            for (const auto& s : *statuses) {
                if (string_at(s.as_object(), "name") != container) continue;
                const std::string waiting = api::field_value(s.as_object(), "state.waiting.reason");
                if (!waiting.empty()) reason = waiting;
            }
        }
        throw api::bad_request("container \"" + container + "\" in pod \"" + name +
                               "\" is waiting to start: " + reason);
    }

    ContainerRecord running_container(const std::string& ns, const std::string& pod_name,
                                      const std::string& container) {
        const auto pod = pod_or_404(ns, pod_name);
        auto c = find_container(pod, container, false);
        if (!c.running())
            throw api::bad_request("container " + container + " is not running in pod " + pod_name);
        return c;
    }

    std::unique_ptr<apiserver::LogStream> logs(const std::string& ns, const std::string& name,
                                               const apiserver::LogRequest& request) {
        const auto pod = pod_or_404(ns, name);
        const auto c = find_container(pod, request.container, request.previous);
        std::function<bool()> still_running = [] { return false; };
        if (!request.previous) {
            still_running = [this, id = c.id] {
                try {
                    return cri.container_status(id).status().state() == cri::v1::CONTAINER_RUNNING;
                } catch (const std::exception&) {
                    return false;
                }
            };
        }
        return open_container_log(c.log_path, request, std::move(still_running));
    }

    static cri::StreamOptions stream_options(const apiserver::SessionOptions& options) {
        cri::StreamOptions out;
        out.tty = options.tty;
        out.with_stdin = options.with_stdin;
        out.with_stdout = options.with_stdout;
        out.with_stderr = options.with_stderr && !options.tty;
        return out;
    }
};

Kubelet::Kubelet(api::ResourceService& service, cri::CriClient& cri, KubeletOptions options)
    : impl_(std::make_unique<Impl>(service, cri, std::move(options))) {}

Kubelet::~Kubelet() {
    stop();
}

void Kubelet::start() {
    impl_->start();
}

void Kubelet::stop() {
    impl_->stop();
}

std::unique_ptr<apiserver::LogStream> Kubelet::logs(const std::string& ns, const std::string& pod,
                                                    const apiserver::LogRequest& request) {
    return impl_->logs(ns, pod, request);
}

apiserver::StreamEndpoint Kubelet::exec(const std::string& ns, const std::string& pod,
                                        const std::string& container,
                                        const std::vector<std::string>& command,
                                        const apiserver::SessionOptions& options) {
    const auto c = impl_->running_container(ns, pod, container);
    return {impl_->cri.exec(c.id, command, Impl::stream_options(options))};
}

apiserver::StreamEndpoint Kubelet::attach(const std::string& ns, const std::string& pod,
                                          const std::string& container,
                                          const apiserver::SessionOptions& options) {
    const auto c = impl_->running_container(ns, pod, container);
    return {impl_->cri.attach(c.id, Impl::stream_options(options))};
}

apiserver::StreamEndpoint Kubelet::port_forward(const std::string& ns, const std::string& pod,
                                                const std::vector<std::int32_t>& ports) {
    const auto object = impl_->pod_or_404(ns, pod);
    const std::string uid = api::meta_string(object, "uid");
    for (const auto& rt : load_pod_runtime(impl_->cri, ns, pod)) {
        if (rt.uid != uid) continue;
        if (const auto* sandbox = rt.latest_sandbox(); sandbox && sandbox->ready)
            return {impl_->cri.port_forward(sandbox->id, ports)};
    }
    throw api::bad_request("pod " + pod + " does not have a running sandbox");
}

}  // namespace kcube::kubelet
