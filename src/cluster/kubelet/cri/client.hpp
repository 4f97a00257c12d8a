#pragma once
// A CRI v1 client (RuntimeService + ImageService) over a unix socket, for the kubelet.
//
// Rich inputs and outputs (sandbox and container configs, statuses, stats, images) are the
// protobuf messages generated from cri.proto: the kubelet builds them field by field from a pod
// spec, and a hand-written mirror of ~40 messages would only be a second copy to keep in step.
// Simple results (ids, URLs, version, exec output) are plain C++. gRPC itself stays behind the
// pimpl: including this header pulls in protobuf's message headers, never grpc++.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "cluster/kubelet/cri/cri.pb.h"

namespace kcube::kubelet::cri {

namespace v1 = ::runtime::v1;

// gRPC's status codes (same numbers), so callers can branch without gRPC headers.
enum class StatusCode : int {
    kOk = 0,
    kCancelled = 1,
    kUnknown = 2,
    kInvalidArgument = 3,
    kDeadlineExceeded = 4,
    kNotFound = 5,
    kAlreadyExists = 6,
    kPermissionDenied = 7,
    kResourceExhausted = 8,
    kFailedPrecondition = 9,
    kAborted = 10,
    kOutOfRange = 11,
    kUnimplemented = 12,
    kInternal = 13,
    kUnavailable = 14,
    kDataLoss = 15,
    kUnauthenticated = 16,
};

// "NOT_FOUND", "UNAVAILABLE", ... as gRPC spells them.
const char* status_code_name(StatusCode code);

// A failed CRI call: which rpc, the gRPC status code, and the runtime's own message.
// what() reads e.g. "CRI RunPodSandbox failed (UNKNOWN): failed to reserve sandbox name ...".
class CriError : public std::runtime_error {
  public:
    CriError(std::string rpc, StatusCode code, std::string message);

    const std::string& rpc() const noexcept { return rpc_; }
    StatusCode code() const noexcept { return code_; }
    const std::string& message() const noexcept { return message_; }
    bool not_found() const noexcept { return code_ == StatusCode::kNotFound; }
    // The runtime is not (yet, or no longer) answering on its socket.
    bool unavailable() const noexcept { return code_ == StatusCode::kUnavailable; }

  private:
    std::string rpc_;
    StatusCode code_;
    std::string message_;
};

struct CriClientOptions {
    std::filesystem::path socket;  // the runtime's unix socket
    // Deadline of every call except image pulls (upstream kubelet: runtime-request-timeout 2m).
    std::chrono::milliseconds timeout = std::chrono::minutes(2);
    // Deadline of PullImage, which downloads; zero means none.
    std::chrono::milliseconds pull_timeout = std::chrono::minutes(15);
};

struct RuntimeVersion {
    std::string version;              // the CRI client version the runtime saw, e.g. 0.1.0
    std::string runtime_name;         // containerd
    std::string runtime_version;      // v1.6.20
    std::string runtime_api_version;  // v1
};

struct RuntimeCondition {
    std::string type;  // RuntimeReady, NetworkReady
    bool status = false;
    std::string reason;
    std::string message;
};

struct RuntimeStatus {
    std::vector<RuntimeCondition> conditions;
    // The condition of this type, if the runtime reported it.
    const RuntimeCondition* find(const std::string& type) const;
    bool runtime_ready() const;
    bool network_ready() const;
};

struct ExecSyncResult {
    std::string out;  // the command's stdout
    std::string err;  // the command's stderr
    int exit_code = 0;
};

// What an exec or attach session streams.
struct StreamOptions {
    bool tty = false;
    bool with_stdin = false;
    bool with_stdout = true;
    bool with_stderr = true;  // must be false with a TTY (the runtime merges it into stdout)
};

// Thread-safe: one client may serve every kubelet worker at once.
class CriClient {
  public:
    explicit CriClient(CriClientOptions options);
    ~CriClient();
    CriClient(const CriClient&) = delete;
    CriClient& operator=(const CriClient&) = delete;

    const std::filesystem::path& socket() const;

    // ---- runtime -------------------------------------------------------------------------
    RuntimeVersion version();
    RuntimeStatus status();

    // ---- pod sandboxes -------------------------------------------------------------------
    // Returns the sandbox id.
    std::string run_pod_sandbox(const v1::PodSandboxConfig& config,
                                const std::string& runtime_handler = {});
    void stop_pod_sandbox(const std::string& sandbox_id);
    void remove_pod_sandbox(const std::string& sandbox_id);
    v1::PodSandboxStatusResponse pod_sandbox_status(const std::string& sandbox_id,
                                                    bool verbose = false);
    std::vector<v1::PodSandbox> list_pod_sandbox(const v1::PodSandboxFilter& filter = {});

    // ---- containers ----------------------------------------------------------------------
    // Returns the container id.
    std::string create_container(const std::string& sandbox_id, const v1::ContainerConfig& config,
                                 const v1::PodSandboxConfig& sandbox_config);
    void start_container(const std::string& container_id);
    // Signals the container (SIGTERM, or the image's stop signal) and kills it after
    // `grace` seconds. The call's deadline is extended by the grace period.
    void stop_container(const std::string& container_id, std::chrono::seconds grace);
    void remove_container(const std::string& container_id);
    std::vector<v1::Container> list_containers(const v1::ContainerFilter& filter = {});
    v1::ContainerStatusResponse container_status(const std::string& container_id,
                                                 bool verbose = false);
    // Makes the runtime reopen the container's log file (after the kubelet rotated it).
    void reopen_container_log(const std::string& container_id);

    // ---- exec, attach, port-forward ------------------------------------------------------
    // Runs `cmd` in the container and waits; `timeout` zero waits as long as it takes.
    ExecSyncResult exec_sync(const std::string& container_id, const std::vector<std::string>& cmd,
                             std::chrono::seconds timeout);
    // These return the URL on the runtime's streaming server that serves the session.
    std::string exec(const std::string& container_id, const std::vector<std::string>& cmd,
                     const StreamOptions& options);
    std::string attach(const std::string& container_id, const StreamOptions& options);
    std::string port_forward(const std::string& sandbox_id, const std::vector<int32_t>& ports);

    // ---- stats ---------------------------------------------------------------------------
    v1::ContainerStats container_stats(const std::string& container_id);
    std::vector<v1::ContainerStats> list_container_stats(
        const v1::ContainerStatsFilter& filter = {});

    // ---- images --------------------------------------------------------------------------
    // All images, or those matching `image` (a reference) when it is not empty.
    std::vector<v1::Image> list_images(const std::string& image = {});
    // The image, or nothing when the runtime does not have it.
    std::optional<v1::Image> image_status(const std::string& image);
    // Pulls `image` and returns its image reference (the id the runtime knows it by).
    std::string pull_image(const std::string& image, const v1::AuthConfig* auth = nullptr,
                           const v1::PodSandboxConfig* sandbox_config = nullptr);
    void remove_image(const std::string& image);
    std::vector<v1::FilesystemUsage> image_fs_info();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kcube::kubelet::cri
