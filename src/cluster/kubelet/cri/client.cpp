#include "cluster/kubelet/cri/client.hpp"

#include <grpcpp/grpcpp.h>

#include <array>

#include "cluster/kubelet/cri/cri.grpc.pb.h"

namespace kcube::kubelet::cri {

namespace {

// The CRI client version the kubelet announces in Version (upstream's kubeRuntimeAPIVersion).
constexpr const char* kClientApiVersion = "0.1.0";

// Sandbox configs and container lists can be large with many pods (upstream allows 16 MiB).
constexpr int kMaxMessageBytes = 16 * 1024 * 1024;

std::shared_ptr<grpc::Channel> open_channel(const std::filesystem::path& socket) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(kMaxMessageBytes);
    args.SetMaxSendMessageSize(kMaxMessageBytes);
    // The runtime is a local process that the node restarts within a second when it dies.
    // gRPC's default reconnect back-off (1 s growing to 120 s) would leave the kubelet cut off
    // long after it is back, so retry a local socket quickly and never wait long.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    const std::string target = "unix://" + std::filesystem::absolute(socket).string();
    return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

// One unary call with a deadline; a non-OK status becomes CriError.
template <typename Stub, typename Request, typename Response>
Response invoke(Stub& stub,
                grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                const char* rpc, const Request& request, std::chrono::milliseconds timeout) {
    grpc::ClientContext context;
    if (timeout.count() > 0) context.set_deadline(std::chrono::system_clock::now() + timeout);
    Response response;
    const grpc::Status status = (stub.*method)(&context, request, &response);
    if (!status.ok()) {
        throw CriError(rpc, static_cast<StatusCode>(status.error_code()), status.error_message());
    }
    return response;
}

template <typename Item>
std::vector<Item> to_vector(const google::protobuf::RepeatedPtrField<Item>& items) {
    return {items.begin(), items.end()};
}

}  // namespace

const char* status_code_name(StatusCode code) {
    static constexpr std::array<const char*, 17> kNames = {"OK",
                                                           "CANCELLED",
                                                           "UNKNOWN",
                                                           "INVALID_ARGUMENT",
                                                           "DEADLINE_EXCEEDED",
                                                           "NOT_FOUND",
                                                           "ALREADY_EXISTS",
                                                           "PERMISSION_DENIED",
                                                           "RESOURCE_EXHAUSTED",
                                                           "FAILED_PRECONDITION",
                                                           "ABORTED",
                                                           "OUT_OF_RANGE",
                                                           "UNIMPLEMENTED",
                                                           "INTERNAL",
                                                           "UNAVAILABLE",
                                                           "DATA_LOSS",
                                                           "UNAUTHENTICATED"};
    const auto index = static_cast<size_t>(code);
    return index < kNames.size() ? kNames[index] : "UNKNOWN";
}

CriError::CriError(std::string rpc, StatusCode code, std::string message)
    : std::runtime_error("CRI " + rpc + " failed (" + status_code_name(code) + "): " + message),
      rpc_(std::move(rpc)),
      code_(code),
      message_(std::move(message)) {}

const RuntimeCondition* RuntimeStatus::find(const std::string& type) const {
    for (const auto& condition : conditions) {
        if (condition.type == type) return &condition;
    }
    return nullptr;
}

bool RuntimeStatus::runtime_ready() const {
    const auto* condition = find("RuntimeReady");
    return condition != nullptr && condition->status;
}

bool RuntimeStatus::network_ready() const {
    const auto* condition = find("NetworkReady");
    return condition != nullptr && condition->status;
}

struct CriClient::Impl {
    explicit Impl(CriClientOptions opts)
        : options(std::move(opts)),
          channel(open_channel(options.socket)),
          runtime(v1::RuntimeService::NewStub(channel)),
          images(v1::ImageService::NewStub(channel)) {}

    template <typename Request, typename Response>
    Response call(grpc::Status (v1::RuntimeService::Stub::*method)(grpc::ClientContext*,
                                                                   const Request&, Response*),
                  const char* rpc, const Request& request) {
        return invoke(*runtime, method, rpc, request, options.timeout);
    }

    template <typename Request, typename Response>
    Response call(grpc::Status (v1::ImageService::Stub::*method)(grpc::ClientContext*,
                                                                 const Request&, Response*),
                  const char* rpc, const Request& request) {
        return invoke(*images, method, rpc, request, options.timeout);
    }

    CriClientOptions options;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<v1::RuntimeService::Stub> runtime;
    std::unique_ptr<v1::ImageService::Stub> images;
};

using RuntimeStub = v1::RuntimeService::Stub;
using ImageStub = v1::ImageService::Stub;

CriClient::CriClient(CriClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

CriClient::~CriClient() = default;

const std::filesystem::path& CriClient::socket() const {
    return impl_->options.socket;
}

RuntimeVersion CriClient::version() {
    v1::VersionRequest request;
    request.set_version(kClientApiVersion);
    const auto response = impl_->call(&RuntimeStub::Version, "Version", request);
    return {response.version(), response.runtime_name(), response.runtime_version(),
            response.runtime_api_version()};
}

RuntimeStatus CriClient::status() {
    const auto response = impl_->call(&RuntimeStub::Status, "Status", v1::StatusRequest{});
    RuntimeStatus status;
    for (const auto& condition : response.status().conditions()) {
        status.conditions.push_back(
            {condition.type(), condition.status(), condition.reason(), condition.message()});
    }
    return status;
}

std::string CriClient::run_pod_sandbox(const v1::PodSandboxConfig& config,
                                       const std::string& runtime_handler) {
    v1::RunPodSandboxRequest request;
    *request.mutable_config() = config;
    request.set_runtime_handler(runtime_handler);
    return impl_->call(&RuntimeStub::RunPodSandbox, "RunPodSandbox", request).pod_sandbox_id();
}

void CriClient::stop_pod_sandbox(const std::string& sandbox_id) {
    v1::StopPodSandboxRequest request;
    request.set_pod_sandbox_id(sandbox_id);
    impl_->call(&RuntimeStub::StopPodSandbox, "StopPodSandbox", request);
}

void CriClient::remove_pod_sandbox(const std::string& sandbox_id) {
    v1::RemovePodSandboxRequest request;
    request.set_pod_sandbox_id(sandbox_id);
    impl_->call(&RuntimeStub::RemovePodSandbox, "RemovePodSandbox", request);
}

v1::PodSandboxStatusResponse CriClient::pod_sandbox_status(const std::string& sandbox_id,
                                                           bool verbose) {
    v1::PodSandboxStatusRequest request;
    request.set_pod_sandbox_id(sandbox_id);
    request.set_verbose(verbose);
    return impl_->call(&RuntimeStub::PodSandboxStatus, "PodSandboxStatus", request);
}

std::vector<v1::PodSandbox> CriClient::list_pod_sandbox(const v1::PodSandboxFilter& filter) {
    v1::ListPodSandboxRequest request;
    *request.mutable_filter() = filter;
    return to_vector(impl_->call(&RuntimeStub::ListPodSandbox, "ListPodSandbox", request).items());
}

std::string CriClient::create_container(const std::string& sandbox_id,
                                        const v1::ContainerConfig& config,
                                        const v1::PodSandboxConfig& sandbox_config) {
    v1::CreateContainerRequest request;
    request.set_pod_sandbox_id(sandbox_id);
    *request.mutable_config() = config;
    *request.mutable_sandbox_config() = sandbox_config;
    return impl_->call(&RuntimeStub::CreateContainer, "CreateContainer", request).container_id();
}

void CriClient::start_container(const std::string& container_id) {
    v1::StartContainerRequest request;
    request.set_container_id(container_id);
    impl_->call(&RuntimeStub::StartContainer, "StartContainer", request);
}

void CriClient::stop_container(const std::string& container_id, std::chrono::seconds grace) {
    v1::StopContainerRequest request;
    request.set_container_id(container_id);
    request.set_timeout(grace.count());
    invoke(*impl_->runtime, &RuntimeStub::StopContainer, "StopContainer", request,
           impl_->options.timeout + grace);
}

void CriClient::remove_container(const std::string& container_id) {
    v1::RemoveContainerRequest request;
    request.set_container_id(container_id);
    impl_->call(&RuntimeStub::RemoveContainer, "RemoveContainer", request);
}

std::vector<v1::Container> CriClient::list_containers(const v1::ContainerFilter& filter) {
    v1::ListContainersRequest request;
    *request.mutable_filter() = filter;
    return to_vector(
        impl_->call(&RuntimeStub::ListContainers, "ListContainers", request).containers());
}

v1::ContainerStatusResponse CriClient::container_status(const std::string& container_id,
                                                        bool verbose) {
    v1::ContainerStatusRequest request;
    request.set_container_id(container_id);
    request.set_verbose(verbose);
    return impl_->call(&RuntimeStub::ContainerStatus, "ContainerStatus", request);
}

void CriClient::reopen_container_log(const std::string& container_id) {
    v1::ReopenContainerLogRequest request;
    request.set_container_id(container_id);
    impl_->call(&RuntimeStub::ReopenContainerLog, "ReopenContainerLog", request);
}

ExecSyncResult CriClient::exec_sync(const std::string& container_id,
                                    const std::vector<std::string>& cmd,
                                    std::chrono::seconds timeout) {
    v1::ExecSyncRequest request;
    request.set_container_id(container_id);
    for (const auto& arg : cmd)
        request.add_cmd(arg);
    request.set_timeout(timeout.count());
    // The runtime enforces `timeout` itself; the call's deadline only guards against a runtime
    // that never answers, so it is the command's time plus the usual request time.
    const auto deadline =
        timeout.count() > 0 ? impl_->options.timeout + timeout : std::chrono::milliseconds(0);
    const auto response =
        invoke(*impl_->runtime, &RuntimeStub::ExecSync, "ExecSync", request, deadline);
    return {response.stdout(), response.stderr(), response.exit_code()};
}

std::string CriClient::exec(const std::string& container_id, const std::vector<std::string>& cmd,
                            const StreamOptions& options) {
    v1::ExecRequest request;
    request.set_container_id(container_id);
    for (const auto& arg : cmd)
        request.add_cmd(arg);
    request.set_tty(options.tty);
    request.set_stdin(options.with_stdin);
    request.set_stdout(options.with_stdout);
    request.set_stderr(options.with_stderr);
    return impl_->call(&RuntimeStub::Exec, "Exec", request).url();
}

std::string CriClient::attach(const std::string& container_id, const StreamOptions& options) {
    v1::AttachRequest request;
    request.set_container_id(container_id);
    request.set_tty(options.tty);
    request.set_stdin(options.with_stdin);
    request.set_stdout(options.with_stdout);
    request.set_stderr(options.with_stderr);
    return impl_->call(&RuntimeStub::Attach, "Attach", request).url();
}

std::string CriClient::port_forward(const std::string& sandbox_id,
                                    const std::vector<int32_t>& ports) {
    v1::PortForwardRequest request;
    request.set_pod_sandbox_id(sandbox_id);
    for (const int32_t port : ports)
        request.add_port(port);
    return impl_->call(&RuntimeStub::PortForward, "PortForward", request).url();
}

v1::ContainerStats CriClient::container_stats(const std::string& container_id) {
    v1::ContainerStatsRequest request;
    request.set_container_id(container_id);
    return impl_->call(&RuntimeStub::ContainerStats, "ContainerStats", request).stats();
}

std::vector<v1::ContainerStats> CriClient::list_container_stats(
    const v1::ContainerStatsFilter& filter) {
    v1::ListContainerStatsRequest request;
    *request.mutable_filter() = filter;
    return to_vector(
        impl_->call(&RuntimeStub::ListContainerStats, "ListContainerStats", request).stats());
}

std::vector<v1::Image> CriClient::list_images(const std::string& image) {
    v1::ListImagesRequest request;
    if (!image.empty()) request.mutable_filter()->mutable_image()->set_image(image);
    return to_vector(impl_->call(&ImageStub::ListImages, "ListImages", request).images());
}

std::optional<v1::Image> CriClient::image_status(const std::string& image) {
    v1::ImageStatusRequest request;
    request.mutable_image()->set_image(image);
    auto response = impl_->call(&ImageStub::ImageStatus, "ImageStatus", request);
    if (!response.has_image()) return std::nullopt;
    return std::move(*response.mutable_image());
}

std::string CriClient::pull_image(const std::string& image, const v1::AuthConfig* auth,
                                  const v1::PodSandboxConfig* sandbox_config) {
    v1::PullImageRequest request;
    request.mutable_image()->set_image(image);
    if (auth != nullptr) *request.mutable_auth() = *auth;
    if (sandbox_config != nullptr) *request.mutable_sandbox_config() = *sandbox_config;
    return invoke(*impl_->images, &ImageStub::PullImage, "PullImage", request,
                  impl_->options.pull_timeout)
        .image_ref();
}

void CriClient::remove_image(const std::string& image) {
    v1::RemoveImageRequest request;
    request.mutable_image()->set_image(image);
    impl_->call(&ImageStub::RemoveImage, "RemoveImage", request);
}

std::vector<v1::FilesystemUsage> CriClient::image_fs_info() {
    return to_vector(impl_->call(&ImageStub::ImageFsInfo, "ImageFsInfo", v1::ImageFsInfoRequest{})
                         .image_filesystems());
}

}  // namespace kcube::kubelet::cri
