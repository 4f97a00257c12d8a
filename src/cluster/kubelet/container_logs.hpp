#pragma once
// Reading a container's log file, written by the runtime in the CRI log format
// ("2024-05-01T10:00:00.123456789Z stdout F text", P for a partial line), the way pods/log
// serves it: tailLines, sinceSeconds/sinceTime, timestamps, limitBytes, and follow (which also
// follows the file into the next one after a rotation, and ends when the container stops).
#include <filesystem>
#include <functional>
#include <memory>

#include "cluster/apiserver/pod_streams.hpp"

namespace kcube::kubelet {

// `still_running` is asked while following at the end of the file: once it answers false and
// nothing more was written, the stream ends. Throws api::ApiError when the file cannot be opened:
// 400 with upstream's text (`failed to open log file "PATH": open PATH: no such file or
// directory`), the status upstream's kubelet gives every log-reading failure.
std::unique_ptr<apiserver::LogStream> open_container_log(const std::filesystem::path& file,
                                                         const apiserver::LogRequest& request,
                                                         std::function<bool()> still_running);

}  // namespace kcube::kubelet
