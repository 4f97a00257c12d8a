#include "cluster/kubelet/pod_runtime.hpp"

#include <algorithm>
#include <fstream>
#include <map>

#include "cluster/kubelet/container_config.hpp"

namespace kcube::kubelet {
namespace {

std::string label(const google::protobuf::Map<std::string, std::string>& labels,
                  const std::string& key) {
    auto it = labels.find(key);
    return it == labels.end() ? std::string() : it->second;
}

// What the container wrote to its terminationMessagePath (at most 4 KiB, as upstream reads),
// else the runtime's own message.
std::string termination_message(const cri::v1::ContainerStatus& status) {
    const std::string file = termination_message_file(status);
    if (!file.empty() && status.state() == cri::v1::CONTAINER_EXITED) {
        std::ifstream in(file, std::ios::binary);
        std::string text(4096, '\0');
        in.read(text.data(), static_cast<std::streamsize>(text.size()));
        text.resize(static_cast<std::size_t>(in.gcount()));
        if (!text.empty()) return text;
    }
    return status.message();
}

}  // namespace

const SandboxRecord* PodRuntime::latest_sandbox() const {
    return sandboxes.empty() ? nullptr : &sandboxes.front();
}

const ContainerRecord* PodRuntime::latest(const std::string& name) const {
    for (const auto& c : containers)
        if (c.name == name) return &c;
    return nullptr;
}

const ContainerRecord* PodRuntime::previous(const std::string& name) const {
    bool seen = false;
    for (const auto& c : containers) {
        if (c.name != name) continue;
        if (seen) return &c;
        seen = true;
    }
    return nullptr;
}

const ContainerRecord* PodRuntime::latest_in(const std::string& sandbox_id,
                                             const std::string& name) const {
    for (const auto& c : containers)
        if (c.name == name && c.sandbox_id == sandbox_id) return &c;
    return nullptr;
}

std::vector<PodRuntime> load_pod_runtime(cri::CriClient& cri, const std::string& ns,
                                         const std::string& name) {
    std::map<std::string, PodRuntime> by_uid;
    cri::v1::PodSandboxFilter sandbox_filter;
    (*sandbox_filter.mutable_label_selector())[kPodNamespaceLabel] = ns;
    (*sandbox_filter.mutable_label_selector())[kPodNameLabel] = name;
    (*sandbox_filter.mutable_label_selector())[kManagedLabel] = "true";
    for (const auto& sandbox : cri.list_pod_sandbox(sandbox_filter)) {
        const std::string uid = label(sandbox.labels(), kPodUidLabel);
        auto& pod = by_uid[uid];
        pod.uid = uid;
        pod.sandboxes.push_back({sandbox.id(), sandbox.metadata().attempt(),
                                 sandbox.state() == cri::v1::SANDBOX_READY, sandbox.created_at()});
    }
    cri::v1::ContainerFilter container_filter;
    (*container_filter.mutable_label_selector())[kPodNamespaceLabel] = ns;
    (*container_filter.mutable_label_selector())[kPodNameLabel] = name;
    (*container_filter.mutable_label_selector())[kManagedLabel] = "true";
    for (const auto& container : cri.list_containers(container_filter)) {
        const std::string uid = label(container.labels(), kPodUidLabel);
        ContainerRecord record;
        record.id = container.id();
        record.sandbox_id = container.pod_sandbox_id();
        record.name = label(container.labels(), kContainerNameLabel);
        record.attempt = container.metadata().attempt();
        record.init = label(container.annotations(), kInitContainerAnnotation) == "true";
        record.state = container.state();
        record.created_at = container.created_at();
        record.image = container.image().image();
        record.image_ref = container.image_ref();
        try {
            const auto status = cri.container_status(container.id()).status();
            record.state = status.state();
            record.started_at = status.started_at();
            record.finished_at = status.finished_at();
            record.exit_code = status.exit_code();
            record.reason = status.reason();
            record.message = termination_message(status);
            record.log_path = status.log_path();
            if (!status.image_ref().empty()) record.image_ref = status.image_ref();
        } catch (const cri::CriError& e) {
            if (!e.not_found()) throw;
            continue;  // removed between the list and the status
        }
        auto& pod = by_uid[uid];
        pod.uid = uid;
        pod.containers.push_back(std::move(record));
    }
    std::vector<PodRuntime> out;
    for (auto& [uid, pod] : by_uid) {
        std::sort(pod.sandboxes.begin(), pod.sandboxes.end(),
                  [](const auto& a, const auto& b) { return a.created_at > b.created_at; });
        std::sort(pod.containers.begin(), pod.containers.end(),
                  [](const auto& a, const auto& b) { return a.created_at > b.created_at; });
        out.push_back(std::move(pod));
    }
    return out;
}

RuntimeSummary summarize_runtime(cri::CriClient& cri) {
    RuntimeSummary summary;
    cri::v1::PodSandboxFilter sandbox_filter;
    (*sandbox_filter.mutable_label_selector())[kManagedLabel] = "true";
    for (const auto& sandbox : cri.list_pod_sandbox(sandbox_filter)) {
        summary.items.push_back({label(sandbox.labels(), kPodNamespaceLabel) + "/" +
                                     label(sandbox.labels(), kPodNameLabel),
                                 label(sandbox.labels(), kPodUidLabel), sandbox.id(),
                                 10 + static_cast<int>(sandbox.state())});
    }
    cri::v1::ContainerFilter container_filter;
    (*container_filter.mutable_label_selector())[kManagedLabel] = "true";
    for (const auto& container : cri.list_containers(container_filter)) {
        summary.items.push_back({label(container.labels(), kPodNamespaceLabel) + "/" +
                                     label(container.labels(), kPodNameLabel),
                                 label(container.labels(), kPodUidLabel), container.id(),
                                 static_cast<int>(container.state())});
    }
    return summary;
}

}  // namespace kcube::kubelet
