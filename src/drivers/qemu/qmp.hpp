#pragma once
// A QMP (QEMU Machine Protocol) connection over QEMU's unix socket: QEMU greets, kcube enables
// commands (qmp_capabilities), then each command is answered in order. Asynchronous events
// (SHUTDOWN, POWERDOWN, ...) that arrive in between are kept for take_events().
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"

namespace kcube::drivers::qemu {

class QmpClient {
  public:
    // Connects and negotiates capabilities, retrying the connect until `timeout` (QEMU makes
    // the socket shortly after it starts). Throws Error(kDriver, QEMU_QMP) when it cannot.
    static QmpClient connect(const std::filesystem::path& socket,
                             std::chrono::milliseconds timeout);

    // Runs `command`; returns its "return" value. Throws Error(kDriver, QEMU_QMP) with QEMU's
    // error description, or when QEMU does not answer within `timeout` or goes away.
    boost::json::value execute(const std::string& command,
                               const boost::json::object& arguments = {},
                               std::chrono::milliseconds timeout = std::chrono::seconds(10));

    // query-status's "status": "running", "paused", "shutdown", "prelaunch", ...
    std::string status();

    // The events received so far, oldest first; returns them once.
    std::vector<boost::json::object> take_events();

  private:
    explicit QmpClient(UniqueFd fd) : fd_(std::move(fd)) {}
    // The next message (a line of JSON); throws on timeout or a closed socket.
    boost::json::object read_message(std::chrono::steady_clock::time_point deadline);

    UniqueFd fd_;
    std::string buffer_;
    std::vector<boost::json::object> events_;
};

}  // namespace kcube::drivers::qemu
