#include "drivers/qemu/qmp.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <thread>

#include "common/error.hpp"

namespace kcube::drivers::qemu {
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

Error qmp_error(const std::string& what) {
    return Error(ExitCode::kDriver, "QEMU_QMP", "QEMU's control socket: " + what,
                 "Check the machine's QEMU log (kcube logs), or delete and start it again.");
}

int connect_unix(const std::filesystem::path& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const std::string text = path.string();
    if (text.size() >= sizeof address.sun_path) throw qmp_error("path too long: " + text);
    std::memcpy(address.sun_path, text.c_str(), text.size() + 1);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw qmp_error(std::string("socket: ") + std::strerror(errno));
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

int remaining_ms(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left > 0 ? static_cast<int>(left) : 0;
}

}  // namespace

QmpClient QmpClient::connect(const std::filesystem::path& socket,
                             std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    int fd = -1;
    while ((fd = connect_unix(socket)) < 0) {
        if (Clock::now() >= deadline) {
            throw qmp_error("cannot connect to " + socket.string() + " (" + std::strerror(errno) +
                            ")");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    QmpClient client{UniqueFd(fd)};
    const auto greeting = client.read_message(deadline);
    if (!greeting.contains("QMP")) throw qmp_error("no QMP greeting");
    client.execute("qmp_capabilities", {}, std::chrono::milliseconds(remaining_ms(deadline)));
    return client;
}

json::object QmpClient::read_message(Clock::time_point deadline) {
    while (true) {
        if (const auto newline = buffer_.find('\n'); newline != std::string::npos) {
            const std::string line = buffer_.substr(0, newline);
            buffer_.erase(0, newline + 1);
            if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
            json::value value;
            try {
                value = json::parse(line);
            } catch (const std::exception& e) {
                throw qmp_error(std::string("unreadable message (") + e.what() + ")");
            }
            if (!value.is_object()) throw qmp_error("unexpected message: " + line);
            return std::move(value.as_object());
        }
        pollfd p{fd_.get(), POLLIN, 0};
        const int ready = ::poll(&p, 1, remaining_ms(deadline));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) throw qmp_error("no answer in time");
        char chunk[4096];
        const ssize_t n = ::recv(fd_.get(), chunk, sizeof chunk, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw qmp_error("QEMU closed the connection");
        buffer_.append(chunk, static_cast<std::size_t>(n));
    }
}

json::value QmpClient::execute(const std::string& command, const json::object& arguments,
                               std::chrono::milliseconds timeout) {
    json::object request{{"execute", command}};
    if (!arguments.empty()) request["arguments"] = arguments;
    const std::string text = json::serialize(request) + "\n";
    for (std::size_t sent = 0; sent < text.size();) {
        const ssize_t n = ::send(fd_.get(), text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw qmp_error("QEMU closed the connection");
        sent += static_cast<std::size_t>(n);
    }
    const auto deadline = Clock::now() + timeout;
    while (true) {
        auto message = read_message(deadline);
        if (message.contains("event")) {
            events_.push_back(std::move(message));
            continue;
        }
        if (auto* result = message.if_contains("return")) return *result;
        if (auto* error = message.if_contains("error"); error && error->is_object()) {
            const auto* desc = error->as_object().if_contains("desc");
            throw qmp_error(command + ": " +
                            (desc && desc->is_string() ? std::string(desc->as_string())
                                                       : json::serialize(*error)));
        }
        throw qmp_error("unexpected answer to " + command + ": " + json::serialize(message));
    }
}

std::string QmpClient::status() {
    const auto result = execute("query-status");
    if (result.is_object()) {
        if (const auto* status = result.as_object().if_contains("status");
            status && status->is_string()) {
            return std::string(status->as_string());
        }
    }
    throw qmp_error("query-status: unexpected answer " + json::serialize(result));
}

std::vector<json::object> QmpClient::take_events() {
    return std::exchange(events_, {});
}

}  // namespace kcube::drivers::qemu
