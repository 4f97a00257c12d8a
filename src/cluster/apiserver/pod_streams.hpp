#pragma once
// What the API server needs from the kubelet to serve pods/log, pods/exec, pods/attach and
// pods/portforward. The kubelet implements it; the API server holds it through
// Router::set_pod_streams(). Nothing here depends on the CRI or on Beast.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kcube::apiserver {

// The query of a pods/log request (core/v1 PodLogOptions).
struct LogRequest {
    // Resolved by the Router before the kubelet is asked (the pod's only or default-container
    // annotated container when the request names none), so never empty there.
    std::string container;
    bool follow = false;
    bool previous = false;
    bool timestamps = false;
    std::optional<std::int64_t> tail_lines;
    std::optional<std::int64_t> since_seconds;
    std::optional<std::string> since_time;  // RFC 3339
    std::optional<std::int64_t> limit_bytes;
};

// A container's log as the client reads it.
class LogStream {
  public:
    virtual ~LogStream() = default;
    // The next piece of output, waiting up to `wait` for some: "" when there was none yet,
    // nullopt when the log has ended (not following, or the container is gone for good).
    virtual std::optional<std::string> read(std::chrono::milliseconds wait) = 0;
};

// An exec/attach session's switches (from the query: stdin, stdout, stderr, tty).
struct SessionOptions {
    bool with_stdin = false;
    bool with_stdout = true;
    bool with_stderr = true;
    bool tty = false;
};

// Where the runtime serves a streaming session: a plain-HTTP URL on the runtime's streaming
// server, e.g. http://127.0.0.1:40123/exec/Ab3dE. The API server relays the client's upgraded
// connection to it.
struct StreamEndpoint {
    std::string url;
};

class PodStreams {
  public:
    virtual ~PodStreams() = default;
    // Each throws api::ApiError with upstream's status and message when the pod or container
    // does not exist, is not running (e.g. 400 `container "web" in pod "web-1" is waiting to
    // start: ContainerCreating`). The Router has already checked the container's name.
    virtual std::unique_ptr<LogStream> logs(const std::string& ns, const std::string& pod,
                                            const LogRequest& request) = 0;
    virtual StreamEndpoint exec(const std::string& ns, const std::string& pod,
                                const std::string& container,
                                const std::vector<std::string>& command,
                                const SessionOptions& options) = 0;
    virtual StreamEndpoint attach(const std::string& ns, const std::string& pod,
                                  const std::string& container, const SessionOptions& options) = 0;
    virtual StreamEndpoint port_forward(const std::string& ns, const std::string& pod,
                                        const std::vector<std::int32_t>& ports) = 0;
};

}  // namespace kcube::apiserver
