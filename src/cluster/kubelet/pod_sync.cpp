#include "cluster/kubelet/pod_sync.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <future>

#include "cluster/api/errors.hpp"
#include "cluster/api/meta.hpp"
#include "cluster/api/resources.hpp"
#include "cluster/api/selectors.hpp"
#include "cluster/api/service.hpp"
#include "cluster/controllers/runtime/event_recorder.hpp"
#include "cluster/controllers/runtime/informer.hpp"
#include "cluster/controllers/runtime/object_util.hpp"
#include "cluster/kubelet/container_config.hpp"
#include "cluster/kubelet/kubelet.hpp"
#include "cluster/kubelet/probes.hpp"
#include "cluster/kubelet/volumes.hpp"

namespace kcube::kubelet {
namespace json = boost::json;
namespace stdfs = std::filesystem;
using namespace std::chrono_literals;
using controllers::array_at;
using controllers::int_at;
using controllers::object_at;
using controllers::string_at;
using Clock = std::chrono::system_clock;

namespace {

constexpr const char* kComponent = "kubelet";
// Orphans (pods force-deleted, or deleted while the node was down) get this grace period.
constexpr std::chrono::seconds kOrphanGrace{1};

// Go's time.Duration formatting for whole seconds: 10s, 1m20s, 5m0s.
std::string go_duration(std::chrono::seconds d) {
    const auto total = d.count();
    if (total < 60) return std::to_string(total) + "s";
    return std::to_string(total / 60) + "m" + std::to_string(total % 60) + "s";
}

Clock::time_point from_nanos(std::int64_t nanos) {
    return Clock::time_point(
        std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(nanos)));
}

std::string restart_policy(const json::object& pod) {
    const auto* spec = object_at(pod, "spec");
    std::string policy = spec ? string_at(*spec, "restartPolicy") : "";
    return policy.empty() ? "Always" : policy;
}

std::chrono::seconds grace_period(const json::object& pod) {
    if (const auto* meta = object_at(pod, "metadata");
        meta && meta->contains("deletionGracePeriodSeconds"))
        return std::chrono::seconds(int_at(*meta, "deletionGracePeriodSeconds", 30));
    const auto* spec = object_at(pod, "spec");
    return std::chrono::seconds(spec ? int_at(*spec, "terminationGracePeriodSeconds", 30) : 30);
}

std::string field_path(const json::object& pod, const std::string& container) {
    const auto* spec = object_at(pod, "spec");
    if (spec)
        if (const auto* inits = array_at(*spec, "initContainers"))
            for (const auto& c : *inits)
                if (c.is_object() && string_at(c.as_object(), "name") == container)
                    return "spec.initContainers{" + container + "}";
    return "spec.containers{" + container + "}";
}

// The exec command of a lifecycle hook (postStart/preStop), if it has one.
std::vector<std::string> hook_command(const json::object& container, const char* hook) {
    std::vector<std::string> command;
    const auto* lifecycle = object_at(container, "lifecycle");
    const auto* handler = lifecycle ? object_at(*lifecycle, hook) : nullptr;
    const auto* exec = handler ? object_at(*handler, "exec") : nullptr;
    const auto* words = exec ? array_at(*exec, "command") : nullptr;
    if (words)
        for (const auto& w : *words)
            if (w.is_string()) command.emplace_back(w.as_string());
    return command;
}

}  // namespace

struct PodSync::Impl {
    api::ResourceService& service;
    cri::CriClient& cri;
    controllers::Informer& pods;
    controllers::EventRecorder& events;
    VolumeManager& volumes;
    ProbeManager& probes;
    const KubeletOptions& options;
    Requeue requeue;
    std::shared_ptr<const api::ResourceInfo> pods_info;

    RestartBackoff crash_backoff{10s, 300s};
    RestartBackoff pull_backoff{10s, 300s};

    // What a pass remembers about a pod between passes.
    struct Memo {
        std::string sandbox_id;
        std::string pod_ip;
        std::string last_written_status;                       // canonical JSON
        std::map<std::string, Clock::time_point> pull_failed;  // container → when
        std::map<std::string, std::string> pull_error;         // container → message
    };
    // A pod's containers being stopped on a thread of their own (grace periods can be long).
    struct Kill {
        std::jthread thread;
        std::atomic<bool> done{false};
    };
    std::mutex mutex;
    std::map<std::string, Memo> memos;                   // by pod uid
    std::map<std::string, std::unique_ptr<Kill>> kills;  // by pod uid
    std::set<std::string> killed;                        // uids whose kill has finished

    Impl(api::ResourceService& s, cri::CriClient& c, controllers::Informer& p,
         controllers::EventRecorder& e, VolumeManager& v, ProbeManager& pr, const KubeletOptions& o,
         Requeue r)
        : service(s),
          cri(c),
          pods(p),
          events(e),
          volumes(v),
          probes(pr),
          options(o),
          requeue(std::move(r)),
          pods_info(s.registry().find("", "v1", "pods")) {}

    ~Impl() {
        std::lock_guard lock(mutex);
        kills.clear();  // joins
    }

    void event(const json::object& pod, const std::string& type, const std::string& reason,
               const std::string& message, const std::string& container = {}) {
        events.record(pod, kComponent, type, reason, message,
                      container.empty() ? std::string() : field_path(pod, container));
    }

    // ---- stopping ------------------------------------------------------------------------

    void stop_container(const json::object* pod, const ContainerRecord& c,
                        std::chrono::seconds grace, const std::string& why) {
        if (pod) {
            if (const auto* spec = find_container_spec(*pod, c.name)) {
                auto command = hook_command(*spec, "preStop");
                if (!command.empty()) {
                    const auto started = Clock::now();
                    try {
                        cri.exec_sync(c.id, command, grace);
                    } catch (const cri::CriError& e) {
                        event(*pod, "Warning", "FailedPreStopHook",
                              "PreStopHook failed: " + e.message(), c.name);
                    }
                    const auto spent =
                        std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started);
                    grace = std::max(std::chrono::seconds(2), grace - spent);
                }
            }
            event(*pod, "Normal", "Killing", why.empty() ? "Stopping container " + c.name : why,
                  c.name);
        }
        try {
            cri.stop_container(c.id, grace);
        } catch (const cri::CriError& e) {
            if (!e.not_found()) throw;
        }
    }

    // Stops every running container (in parallel) and every ready sandbox of `rt`.
    void stop_pod(const json::object* pod, const PodRuntime& rt, std::chrono::seconds grace) {
        std::vector<std::future<void>> stops;
        for (const auto& c : rt.containers) {
            if (!c.running() && c.state != cri::v1::CONTAINER_CREATED) continue;
            stops.push_back(std::async(std::launch::async, [this, pod, c, grace] {
                try {
                    stop_container(pod, c, grace, {});
                } catch (const std::exception& e) {
                    spdlog::warn("kubelet: stopping container {}: {}", c.id, e.what());
                }
            }));
        }
        for (auto& s : stops)
            s.get();
        for (const auto& sandbox : rt.sandboxes) {
            if (!sandbox.ready) continue;
            try {
                cri.stop_pod_sandbox(sandbox.id);
            } catch (const cri::CriError& e) {
                if (!e.not_found()) throw;
            }
        }
    }

    // Starts stopping the pod `uid` on a thread unless that is under way; true once done.
    bool kill_async(const std::string& key, const std::string& uid, std::optional<json::object> pod,
                    PodRuntime rt, std::chrono::seconds grace) {
        std::lock_guard lock(mutex);
        if (killed.contains(uid)) return true;
        auto& kill = kills[uid];
        if (kill && kill->done) {
            kills.erase(uid);
            killed.insert(uid);
            return true;
        }
        if (kill) return false;
        kill = std::make_unique<Kill>();
        Kill* raw = kill.get();
        kill->thread =
            std::jthread([this, key, raw, pod = std::move(pod), rt = std::move(rt), grace] {
                try {
                    stop_pod(pod ? &*pod : nullptr, rt, grace);
                } catch (const std::exception& e) {
                    spdlog::warn("kubelet: stopping pod {}: {}", key, e.what());
                }
                raw->done = true;
                requeue(key, 0ms);
            });
        return false;
    }

    // Removes what is left of a stopped pod: its sandboxes (and their containers), volumes,
    // probes and memory.
    void remove_pod(const PodRuntime& rt) {
        for (const auto& sandbox : rt.sandboxes) {
            try {
                cri.remove_pod_sandbox(sandbox.id);
            } catch (const cri::CriError& e) {
                if (!e.not_found()) throw;
            }
        }
        probes.remove(rt.uid);
        volumes.teardown(rt.uid);
        crash_backoff.forget_prefix(rt.uid + "/");
        pull_backoff.forget_prefix(rt.uid + "/");
        std::lock_guard lock(mutex);
        memos.erase(rt.uid);
        killed.erase(rt.uid);
    }

    static bool anything_running(const PodRuntime& rt) {
        for (const auto& c : rt.containers)
            if (c.running() || c.state == cri::v1::CONTAINER_CREATED) return true;
        for (const auto& s : rt.sandboxes)
            if (s.ready) return true;
        return false;
    }

    void cleanup_orphan(const std::string& key, const PodRuntime& rt) {
        if (anything_running(rt) && !kill_async(key, rt.uid, std::nullopt, rt, kOrphanGrace))
            return;
        remove_pod(rt);
    }

    // A pod being deleted: stop it within its grace period, then remove it from the runtime
    // and the API.
    void terminate(const std::string& key, const json::object& pod, const PodRuntime& rt) {
        if (anything_running(rt) && !kill_async(key, rt.uid, pod, rt, grace_period(pod))) return;
        remove_pod(rt);
        api::DeleteOptions options;
        options.grace_period_seconds = 0;
        options.precondition_uid = rt.uid;
        try {
            service.remove(*pods_info, api::meta_string(pod, "namespace"),
                           api::meta_string(pod, "name"), options);
        } catch (const api::ApiError& e) {
            if (e.code() != 404 && e.code() != 409) throw;
        }
    }

    // ---- starting ------------------------------------------------------------------------

    struct Pass {
        const std::string& key;
        const json::object& pod;
        const PodRuntime& rt;
        std::string uid;
        std::string sandbox_id;
        cri::v1::PodSandboxConfig sandbox_config;
        std::string pod_ip;
        PodVolumes volumes;
        std::map<std::string, ContainerWaiting> waiting;
        bool changed = false;  // the runtime changed: reload before computing status
    };

    std::string pull_key(const Pass& pass, const std::string& container) const {
        return pass.uid + "/" + container;
    }

    // The image to run, pulled as the pull policy says; nullopt (and a waiting reason) when
    // it is not there and cannot be had yet.
    std::optional<std::string> ensure_image(Pass& pass, const json::object& container) {
        const std::string name = string_at(container, "name");
        const std::string image = string_at(container, "image");
        std::string policy = string_at(container, "imagePullPolicy");
        if (policy.empty()) policy = "IfNotPresent";
        std::optional<cri::v1::Image> present;
        try {
            present = cri.image_status(image);
        } catch (const cri::CriError& e) {
            if (!e.not_found()) throw;
        }
        if (policy == "Never" && !present) {
            const std::string message =
                "Container image \"" + image + "\" is not present with pull policy of Never";
            pass.waiting[name] = {"ErrImageNeverPull", message};
            event(pass.pod, "Warning", "ErrImageNeverPull", message, name);
            return std::nullopt;
        }
        if (present && policy != "Always") {
            event(pass.pod, "Normal", "Pulled",
                  "Container image \"" + image + "\" already present on machine", name);
            return image;
        }
        const std::string key = pull_key(pass, name);
        Clock::time_point failed_at;
        std::string last_error;
        {
            std::lock_guard lock(mutex);
            auto& memo = memos[pass.uid];
            if (auto it = memo.pull_failed.find(name); it != memo.pull_failed.end())
                failed_at = it->second;
            last_error = memo.pull_error[name];
        }
        std::chrono::seconds window{};
        Clock::duration remaining{};
        if (failed_at != Clock::time_point{} &&
            pull_backoff.in_backoff(key, failed_at, Clock::now(), window, remaining)) {
            const std::string message = "Back-off pulling image \"" + image + "\"";
            pass.waiting[name] = {"ImagePullBackOff", message};
            event(pass.pod, "Normal", "BackOff", message, name);
            event(pass.pod, "Warning", "Failed", "Error: ImagePullBackOff", name);
            requeue(pass.key, std::chrono::duration_cast<std::chrono::milliseconds>(remaining));
            return std::nullopt;
        }
        event(pass.pod, "Normal", "Pulling", "Pulling image \"" + image + "\"", name);
        const auto started = std::chrono::steady_clock::now();
        try {
            cri.pull_image(image);
        } catch (const cri::CriError& e) {
            const auto now = Clock::now();
            pull_backoff.next(key, now);
            {
                std::lock_guard lock(mutex);
                auto& memo = memos[pass.uid];
                memo.pull_failed[name] = now;
                memo.pull_error[name] = e.message();
            }
            const std::string message = "Failed to pull image \"" + image + "\": " + e.message();
            pass.waiting[name] = {"ErrImagePull", message};
            event(pass.pod, "Warning", "Failed", message, name);
            event(pass.pod, "Warning", "Failed", "Error: ErrImagePull", name);
            // Look again soon, to show ImagePullBackOff while the back-off runs.
            requeue(pass.key, 1s);
            return std::nullopt;
        }
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        char took[32];
        std::snprintf(took, sizeof took, "%.3fs", seconds);
        event(pass.pod, "Normal", "Pulled",
              "Successfully pulled image \"" + image + "\" in " + took, name);
        return image;
    }

    void start_container(Pass& pass, const json::object& container) {
        const std::string name = string_at(container, "name");
        const ContainerRecord* before = pass.rt.latest(name);
        const std::uint32_t attempt = before ? before->attempt + 1 : 0;
        auto image = ensure_image(pass, container);
        if (!image) return;
        ContainerInputs inputs{.pod = pass.pod, .container = container, .volumes = pass.volumes};
        inputs.pod_ip = pass.pod_ip;
        inputs.host_ip = options.node_ip;
        inputs.node_name = options.node_name;
        inputs.attempt = attempt;
        inputs.log_path = KubeletPaths::container_log_name(name, attempt);
        inputs.image = *image;
        inputs.cluster_domain = options.dns.cluster_domain;
        try {
            if (auto status = cri.image_status(*image)) {
                if (status->has_uid())
                    inputs.image_user = std::to_string(status->uid().value());
                else
                    inputs.image_user = status->username();
            }
        } catch (const cri::CriError&) {
        }
        cri::v1::ContainerConfig config;
        try {
            config = build_container_config(service, inputs);
        } catch (const ContainerConfigError& e) {
            pass.waiting[name] = {"CreateContainerConfigError", e.what()};
            event(pass.pod, "Warning", "Failed", std::string("Error: ") + e.what(), name);
            requeue(pass.key, 5s);
            return;
        }

        std::error_code ignored;
        stdfs::create_directories(
            options.paths.pod_log_dir(api::meta_string(pass.pod, "namespace"),
                                      api::meta_string(pass.pod, "name"), pass.uid) /
                name,
            ignored);
        std::string id;
        try {
            id = cri.create_container(pass.sandbox_id, config, pass.sandbox_config);
        } catch (const cri::CriError& e) {
            pass.waiting[name] = {"CreateContainerError", e.message()};
            event(pass.pod, "Warning", "Failed", "Error: " + e.message(), name);
            requeue(pass.key, 10s);
            return;
        }
        pass.changed = true;
        event(pass.pod, "Normal", "Created", "Created container " + name, name);
        try {
            cri.start_container(id);
        } catch (const cri::CriError& e) {
            event(pass.pod, "Warning", "Failed", "Error: " + e.message(), name);
            return;  // the container shows as exited and is restarted by policy
        }
        event(pass.pod, "Normal", "Started", "Started container " + name, name);
        if (auto command = hook_command(container, "postStart"); !command.empty()) {
            bool failed = false;
            std::string message;
            try {
                auto result = cri.exec_sync(id, command, 0s);
                failed = result.exit_code != 0;
                message = result.out + result.err;
            } catch (const cri::CriError& e) {
                failed = true;
                message = e.message();
            }
            if (failed) {
                event(pass.pod, "Warning", "FailedPostStartHook",
                      "PostStartHook failed: " + message, name);
                try {
                    cri.stop_container(id, grace_period(pass.pod));
                } catch (const cri::CriError&) {
                }
            }
        }
    }

    // An exited container that its restart policy restarts: now, or after the crash-loop
    // back-off.
    void restart_container(Pass& pass, const json::object& container, const ContainerRecord& c) {
        const std::string name = string_at(container, "name");
        const std::string key = pass.uid + "/" + name;
        const auto since = c.finished_at > 0 ? from_nanos(c.finished_at) : Clock::now();
        std::chrono::seconds window{};
        Clock::duration remaining{};
        if (crash_backoff.in_backoff(key, since, Clock::now(), window, remaining)) {
            const std::string pod_ref = api::meta_string(pass.pod, "name") + "_" +
                                        api::meta_string(pass.pod, "namespace") + "(" + pass.uid +
                                        ")";
            pass.waiting[name] = {"CrashLoopBackOff", "back-off " + go_duration(window) +
                                                          " restarting failed container=" + name +
                                                          " pod=" + pod_ref};
            event(pass.pod, "Warning", "BackOff",
                  "Back-off restarting failed container " + name + " in pod " + pod_ref, name);
            requeue(pass.key,
                    std::chrono::duration_cast<std::chrono::milliseconds>(remaining) + 50ms);
            return;
        }
        crash_backoff.next(key, since);
        start_container(pass, container);
    }

    bool should_restart(const json::object& pod, const ContainerRecord& c) const {
        const std::string policy = restart_policy(pod);
        return policy == "Always" || (policy == "OnFailure" && c.exit_code != 0);
    }

    // Makes sure the pod has a ready sandbox; false (with the reason in the status) if not.
    bool ensure_sandbox(Pass& pass, const SandboxRecord* sandbox) {
        const std::string ns = api::meta_string(pass.pod, "namespace");
        const std::string name = api::meta_string(pass.pod, "name");
        const auto log_dir = options.paths.pod_log_dir(ns, name, pass.uid);
        if (sandbox && sandbox->ready) {
            pass.sandbox_id = sandbox->id;
            pass.sandbox_config =
                build_sandbox_config(pass.pod, sandbox->attempt, log_dir.string(), options.dns);
            return true;
        }
        if (sandbox) {
            event(pass.pod, "Normal", "SandboxChanged",
                  "Pod sandbox changed, it will be killed and re-created.");
            // Whatever still runs in the dead sandbox goes first.
            for (const auto& c : pass.rt.containers)
                if (c.running()) stop_container(nullptr, c, 0s, {});
        }
        try {
            pass.volumes = volumes.setup(pass.pod);
        } catch (const VolumeError& e) {
            event(pass.pod, "Warning", "FailedMount", e.what());
            requeue(pass.key, 5s);
            return false;
        }
        const std::uint32_t attempt = sandbox ? sandbox->attempt + 1 : 0;
        pass.sandbox_config =
            build_sandbox_config(pass.pod, attempt, log_dir.string(), options.dns);
        std::error_code ignored;
        stdfs::create_directories(log_dir, ignored);
        try {
            pass.sandbox_id = cri.run_pod_sandbox(pass.sandbox_config);
        } catch (const cri::CriError& e) {
            event(pass.pod, "Warning", "FailedCreatePodSandBox",
                  "Failed to create pod sandbox: " + e.message());
            requeue(pass.key, 5s);
            return false;
        }
        pass.changed = true;
        return true;
    }

    std::string sandbox_ip(const std::string& sandbox_id) {
        {
            std::lock_guard lock(mutex);
            for (const auto& [uid, memo] : memos)
                if (memo.sandbox_id == sandbox_id && !memo.pod_ip.empty()) return memo.pod_ip;
        }
        const auto status = cri.pod_sandbox_status(sandbox_id).status();
        return status.network().ip();
    }

    void run(const std::string& key, const json::object& pod, const PodRuntime& rt) {
        Pass pass{key, pod, rt, rt.uid, {}, {}, {}, {}, {}, false};
        const auto* spec = object_at(pod, "spec");
        const SandboxRecord* sandbox = rt.latest_sandbox();
        bool has_run = false;
        for (const auto& c : rt.containers)
            has_run = has_run || !c.init;
        const bool dead_for_good =
            sandbox && !sandbox->ready && has_run && restart_policy(pod) == "Never";
        if (!dead_for_good && ensure_sandbox(pass, sandbox)) {
            pass.pod_ip = pod_host_network(pod) ? options.node_ip : sandbox_ip(pass.sandbox_id);
            {
                std::lock_guard lock(mutex);
                auto& memo = memos[pass.uid];
                memo.sandbox_id = pass.sandbox_id;
                memo.pod_ip = pass.pod_ip;
            }
            bool volumes_ready = true;
            if (!pass.changed) {
                try {
                    pass.volumes = volumes.setup(pod);  // refreshes tokens and contents
                } catch (const VolumeError& e) {
                    event(pod, "Warning", "FailedMount", e.what());
                    requeue(key, 5s);
                    volumes_ready = false;
                }
            }
            if (volumes_ready) start_what_is_due(pass, spec);
        }
        write_status(pass);
        collect_garbage(pass);
    }

    void start_what_is_due(Pass& pass, const json::object* spec) {
        if (!spec) return;
        // Init containers, one at a time, in order.
        if (const auto* inits = array_at(*spec, "initContainers")) {
            for (const auto& value : *inits) {
                const auto& container = value.as_object();
                const std::string name = string_at(container, "name");
                const ContainerRecord* c = pass.rt.latest_in(pass.sandbox_id, name);
                if (!c) {
                    start_container(pass, container);
                    return;
                }
                if (c->running()) return;
                if (c->state == cri::v1::CONTAINER_CREATED) {
                    cri.start_container(c->id);
                    pass.changed = true;
                    return;
                }
                if (c->exit_code == 0) continue;
                if (restart_policy(pass.pod) != "Never") restart_container(pass, container, *c);
                return;
            }
        }
        std::map<std::string, RunningContainer> running;
        if (const auto* containers = array_at(*spec, "containers")) {
            for (const auto& value : *containers) {
                const auto& container = value.as_object();
                const std::string name = string_at(container, "name");
                const ContainerRecord* c = pass.rt.latest_in(pass.sandbox_id, name);
                if (!c) {
                    start_container(pass, container);
                    continue;
                }
                if (c->state == cri::v1::CONTAINER_CREATED) {
                    cri.start_container(c->id);
                    pass.changed = true;
                    continue;
                }
                if (c->running()) {
                    const bool liveness_failed =
                        probes.result(pass.uid, name, ProbeType::kLiveness) ==
                        ProbeResult::kFailure;
                    const bool startup_failed =
                        probes.result(pass.uid, name, ProbeType::kStartup) == ProbeResult::kFailure;
                    if (liveness_failed || startup_failed) {
                        const char* probe = liveness_failed ? "liveness" : "startup";
                        stop_container(
                            &pass.pod, *c, grace_period(pass.pod),
                            "Container " + name + " failed " + probe + " probe, will be restarted");
                        pass.changed = true;
                        requeue(pass.key, 0ms);
                        continue;
                    }
                    running[name] = RunningContainer{c->id, from_nanos(c->started_at)};
                    continue;
                }
                if (c->exited() && should_restart(pass.pod, *c))
                    restart_container(pass, container, *c);
            }
        }
        probes.update(pass.pod, pass.pod_ip, running);
    }

    void write_status(Pass& pass) {
        PodRuntime reloaded;
        const PodRuntime* rt = &pass.rt;
        if (pass.changed) {
            for (auto& r : load_pod_runtime(cri, api::meta_string(pass.pod, "namespace"),
                                            api::meta_string(pass.pod, "name")))
                if (r.uid == pass.uid) reloaded = std::move(r);
            rt = &reloaded;
        }
        const std::string uid = pass.uid;
        PodStatusInputs inputs{pass.pod,
                               rt,
                               pass.sandbox_id,
                               !pass.sandbox_id.empty(),
                               pass.pod_ip,
                               options.node_ip,
                               pass.waiting,
                               [&](const std::string& c) {
                                   return probes.result(uid, c, ProbeType::kReadiness) ==
                                          ProbeResult::kSuccess;
                               },
                               [&](const std::string& c) { return probes.started(uid, c); }};
        json::object status = compute_pod_status(inputs);
        const std::string text = controllers::canonical_json(status);
        const auto* current = object_at(pass.pod, "status");
        if (current && controllers::canonical_json(*current) == text) return;
        {
            std::lock_guard lock(mutex);
            if (memos[uid].last_written_status == text) return;
        }
        const std::string ns = api::meta_string(pass.pod, "namespace");
        const std::string name = api::meta_string(pass.pod, "name");
        for (int attempt = 0; attempt < 3; ++attempt) {
            json::object fresh;
            try {
                fresh = service.get(*pods_info, ns, name);
            } catch (const api::ApiError& e) {
                if (e.code() == 404) return;
                throw;
            }
            if (api::meta_string(fresh, "uid") != uid) return;
            fresh["status"] = status;
            try {
                auto written = service.update(*pods_info, ns, name, std::move(fresh), {}, "status");
                pods.remember(std::move(written));
                std::lock_guard lock(mutex);
                memos[uid].last_written_status = text;
                return;
            } catch (const api::ApiError& e) {
                if (e.code() == 404) return;
                if (e.code() != 409) throw;
            }
        }
        requeue(pass.key, 1s);
    }

    // Keeps the newest two containers of each name (the current one and the previous, for
    // `logs --previous`) and drops sandboxes that are neither current nor hold one of those.
    void collect_garbage(const Pass& pass) {
        if (pass.changed) return;  // the next pass sees the runtime as it now is
        std::map<std::string, int> seen;
        std::set<std::string> kept_sandboxes{pass.sandbox_id};
        for (const auto& c : pass.rt.containers) {
            if (++seen[c.name] <= 2 || c.running()) {
                kept_sandboxes.insert(c.sandbox_id);
                continue;
            }
            try {
                cri.remove_container(c.id);
            } catch (const cri::CriError& e) {
                if (!e.not_found())
                    spdlog::warn("kubelet: removing container {}: {}", c.id, e.what());
            }
        }
        for (const auto& s : pass.rt.sandboxes) {
            if (s.ready || kept_sandboxes.contains(s.id)) continue;
            try {
                cri.remove_pod_sandbox(s.id);
            } catch (const cri::CriError& e) {
                if (!e.not_found())
                    spdlog::warn("kubelet: removing sandbox {}: {}", s.id, e.what());
            }
        }
    }

    // A pod that finished (Succeeded/Failed): nothing may run any more; its sandbox is
    // stopped (its IP released) but kept, with its containers' logs.
    void settle_finished(const std::string& key, const json::object& pod, const PodRuntime& rt) {
        if (!anything_running(rt)) return;
        kill_async(key, rt.uid, pod, rt, grace_period(pod));
    }

    void sync(const std::string& key) {
        const auto parts = controllers::split_key(key);
        auto pod_ptr = pods.get(key);
        const bool ours =
            pod_ptr && api::field_value(*pod_ptr, "spec.nodeName") == options.node_name;
        const std::string uid = ours ? api::meta_string(*pod_ptr, "uid") : "";
        PodRuntime current;
        current.uid = uid;
        for (auto& rt : load_pod_runtime(cri, parts.ns, parts.name)) {
            if (rt.uid == uid)
                current = std::move(rt);
            else
                cleanup_orphan(key, rt);
        }
        if (!ours) return;
        const json::object& pod = *pod_ptr;
        if (controllers::is_terminating(pod)) return terminate(key, pod, current);
        const std::string phase = controllers::pod_phase(pod);
        if (phase == "Succeeded" || phase == "Failed") return settle_finished(key, pod, current);
        run(key, pod, current);
    }

    void stop_all(std::chrono::seconds cap) {
        std::map<std::string, PodRuntime> by_key;
        for (const auto& item : summarize_runtime(cri).items)
            by_key.emplace(item.pod_key, PodRuntime{});
        std::vector<std::future<void>> stops;
        for (const auto& [key, unused] : by_key) {
            stops.push_back(std::async(std::launch::async, [this, key = key, cap] {
                const auto parts = controllers::split_key(key);
                auto pod = pods.get(key);
                const auto grace = pod ? std::min(grace_period(*pod), cap) : kOrphanGrace;
                try {
                    for (const auto& rt : load_pod_runtime(cri, parts.ns, parts.name))
                        stop_pod(
                            pod && api::meta_string(*pod, "uid") == rt.uid ? pod.get() : nullptr,
                            rt, grace);
                } catch (const std::exception& e) {
                    spdlog::warn("kubelet: stopping pod {}: {}", key, e.what());
                }
            }));
        }
        for (auto& s : stops)
            s.get();
    }
};

PodSync::PodSync(api::ResourceService& service, cri::CriClient& cri, controllers::Informer& pods,
                 controllers::EventRecorder& events, VolumeManager& volumes, ProbeManager& probes,
                 const KubeletOptions& options, Requeue requeue)
    : impl_(std::make_unique<Impl>(service, cri, pods, events, volumes, probes, options,
                                   std::move(requeue))) {}

PodSync::~PodSync() = default;

void PodSync::sync(const std::string& key) {
    impl_->sync(key);
}

void PodSync::stop_all(std::chrono::seconds grace_cap) {
    impl_->stop_all(grace_cap);
}

}  // namespace kcube::kubelet
