#include "cluster/kubelet/container_logs.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>

#include "cluster/api/errors.hpp"
#include "common/unique_fd.hpp"

namespace kcube::kubelet {
namespace {

using Clock = std::chrono::steady_clock;

// How often a follower at the end of the file asks whether the container still runs, and the
// longest it sleeps without looking at the file (upstream's logForceCheckPeriod).
constexpr auto kRunningCheckPeriod = std::chrono::seconds(1);
// Bytes read from the file at a time, and roughly the most one read() returns.
constexpr std::size_t kReadBlock = 64 * 1024;

// Go's error text for a failed open ("open /x: no such file or directory"): strerror with its
// first letter lowered, as Go's syscall errors read.
std::string go_open_error(const std::filesystem::path& file, int error) {
    std::string text = std::strerror(error);
    if (!text.empty())
        text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
    return "open " + file.string() + ": " + text;
}

bool parse_digits(std::string_view text, int& value) {
    if (text.empty()) return false;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    return error == std::errc() && end == text.data() + text.size();
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// An RFC 3339 time with optional fraction ("2024-05-01T10:00:00.123456789Z", "...+02:00") as
// nanoseconds since the epoch.
std::optional<std::int64_t> parse_rfc3339(std::string_view text) {
    if (text.size() < 20 || text[4] != '-' || text[7] != '-' ||
        (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':') {
        return std::nullopt;
    }
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!parse_digits(text.substr(0, 4), year) || !parse_digits(text.substr(5, 2), month) ||
        !parse_digits(text.substr(8, 2), day) || !parse_digits(text.substr(11, 2), hour) ||
        !parse_digits(text.substr(14, 2), minute) || !parse_digits(text.substr(17, 2), second)) {
        return std::nullopt;
    }
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
        return std::nullopt;
    }
    std::size_t i = 19;
    std::int64_t nanos = 0;
    if (i < text.size() && text[i] == '.') {
        ++i;
        int digits = 0;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
            if (digits < 9) {
                nanos = nanos * 10 + (text[i] - '0');
                ++digits;
            }
            ++i;
        }
        if (digits == 0) return std::nullopt;
        for (; digits < 9; ++digits)
            nanos *= 10;
    }
    if (i >= text.size()) return std::nullopt;
    std::int64_t offset_seconds = 0;
    if (text[i] == 'Z' || text[i] == 'z') {
        ++i;
    } else if (text[i] == '+' || text[i] == '-') {
        int offset_hours = 0, offset_minutes = 0;
        if (text.size() - i != 6 || text[i + 3] != ':' ||
            !parse_digits(text.substr(i + 1, 2), offset_hours) ||
            !parse_digits(text.substr(i + 4, 2), offset_minutes)) {
            return std::nullopt;
        }
        offset_seconds = (offset_hours * 60 + offset_minutes) * 60 * (text[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return std::nullopt;
    }
    if (i != text.size()) return std::nullopt;
    const std::int64_t seconds =
        days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
        hour * 3600 + minute * 60 + second - offset_seconds;
    return seconds * 1'000'000'000 + nanos;
}

// The timestamp as upstream prints it: parsed, then formatted with Go's RFC3339Nano, which drops
// trailing zeros of the fraction (and the dot with them) and writes a zero offset as "Z".
std::string format_timestamp(std::string_view text) {
    std::string out(text.substr(0, 19));
    std::size_t i = 19;
    if (i < text.size() && text[i] == '.') {
        std::size_t end = i + 1;
        while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end])))
            ++end;
        std::string_view fraction = text.substr(i + 1, std::min<std::size_t>(end - i - 1, 9));
        while (!fraction.empty() && fraction.back() == '0')
            fraction.remove_suffix(1);
        if (!fraction.empty()) out += "." + std::string(fraction);
        i = end;
    }
    const std::string_view zone = text.substr(std::min(i, text.size()));
    out += (zone == "z" || zone == "Z" || zone == "+00:00" || zone == "-00:00") ? "Z"
                                                                                : std::string(zone);
    return out;
}

// One line of the CRI log format: "<time> <stdout|stderr> <tags> <content>", tags being
// ':'-separated with P (partial) or F (full) first.
struct CriLine {
    std::int64_t time = 0;
    std::string_view timestamp;
    bool stderr_stream = false;
    bool partial = false;
    std::string_view content;  // with its newline, except for partial lines
};

// `line` is one line of the file, with its '\n' when it had one. nullopt: not a CRI log line
// (upstream skips those too).
std::optional<CriLine> parse_cri_line(std::string_view line) {
    CriLine parsed;
    const auto time_end = line.find(' ');
    if (time_end == std::string_view::npos) return std::nullopt;
    parsed.timestamp = line.substr(0, time_end);
    const auto time = parse_rfc3339(parsed.timestamp);
    if (!time) return std::nullopt;
    parsed.time = *time;
    line.remove_prefix(time_end + 1);
    const auto stream_end = line.find(' ');
    if (stream_end == std::string_view::npos) return std::nullopt;
    const std::string_view stream = line.substr(0, stream_end);
    if (stream != "stdout" && stream != "stderr") return std::nullopt;
    parsed.stderr_stream = stream == "stderr";
    line.remove_prefix(stream_end + 1);
    const auto tags_end = line.find(' ');
    if (tags_end == std::string_view::npos) return std::nullopt;
    std::string_view tags = line.substr(0, tags_end);
    parsed.partial = tags.substr(0, tags.find(':')) == "P";
    parsed.content = line.substr(tags_end + 1);
    if (parsed.partial && !parsed.content.empty() && parsed.content.back() == '\n') {
        parsed.content.remove_suffix(1);
    }
    return parsed;
}

// Where the last `lines` lines of the file start: just after the (lines+1)-th '\n' from its end,
// as upstream's tail finds it, so a last line without its '\n' (still being written) is not
// counted. Reads backwards from the end in blocks, so that a big log costs only what the tail
// needs.
off_t tail_start(int fd, std::int64_t lines) {
    struct stat info {};
    if (::fstat(fd, &info) != 0) return 0;
    off_t end = info.st_size;
    std::string block(kReadBlock, '\0');
    std::int64_t newlines = 0;
    while (end > 0) {
        const off_t begin = std::max<off_t>(0, end - static_cast<off_t>(block.size()));
        const auto want = static_cast<std::size_t>(end - begin);
        std::size_t got = 0;
        while (got < want) {
            const ssize_t n =
                ::pread(fd, block.data() + got, want - got, begin + static_cast<off_t>(got));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return 0;
            got += static_cast<std::size_t>(n);
        }
        for (std::size_t i = want; i-- > 0;) {
            if (block[i] == '\n' && ++newlines > lines) return begin + static_cast<off_t>(i) + 1;
        }
        end = begin;
    }
    return 0;
}

class CriLogStream : public apiserver::LogStream {
  public:
    CriLogStream(std::filesystem::path file, const apiserver::LogRequest& request,
                 std::function<bool()> still_running)
        : path_(std::move(file)), request_(request), still_running_(std::move(still_running)) {
        file_ = open_file();
        if (!file_) {
            throw api::bad_request("failed to open log file \"" + path_.string() +
                                   "\": " + go_open_error(path_, errno));
        }
        if (request_.since_time) {
            if (const auto since = parse_rfc3339(*request_.since_time)) since_ = *since;
        } else if (request_.since_seconds) {
            since_ = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count() -
                     *request_.since_seconds * 1'000'000'000;
        }
        if (request_.limit_bytes) remaining_bytes_ = *request_.limit_bytes;
        if (request_.tail_lines && *request_.tail_lines >= 0) {
            const off_t start = tail_start(file_.get(), *request_.tail_lines);
            ::lseek(file_.get(), start, SEEK_SET);
            // Without follow, upstream writes at most tailLines lines even if the file grew
            // meanwhile.
            if (!request_.follow) lines_left_ = *request_.tail_lines;
        }
    }

    std::optional<std::string> read(std::chrono::milliseconds wait) override {
        const auto deadline = Clock::now() + wait;
        for (;;) {
            if (ended_) return std::nullopt;
            std::string out = drain();
            if (!out.empty()) return out;
            if (ended_) return std::nullopt;
            if (!request_.follow) {
                // The rest, an incomplete last line included, then the end.
                out = flush_incomplete();
                ended_ = true;
                if (out.empty()) return std::nullopt;
                return out;
            }
            // Following, at the end of the file.
            if (rotated()) {
                switch_to_new_file();
                continue;
            }
            if (!inotify_) {
                watch();
                continue;  // something may have been written before the watch began
            }
            const auto now = Clock::now();
            if (now - last_running_check_ >= kRunningCheckPeriod) {
                last_running_check_ = now;
                if (!still_running_()) {
                    // Whatever was written before it stopped, then the end.
                    out = drain();
                    if (!out.empty()) return out;
                    if (rotated()) {
                        switch_to_new_file();
                        continue;
                    }
                    ended_ = true;
                    return std::nullopt;
                }
            }
            if (now >= deadline) return std::string();
            const auto sleep = std::min<Clock::duration>(deadline - now, kRunningCheckPeriod);
            wait_for_change(std::chrono::duration_cast<std::chrono::milliseconds>(sleep));
        }
    }

  private:
    UniqueFd open_file() const { return UniqueFd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC)); }

    // Reads what the file has now (up to about kReadBlock bytes) and formats its complete
    // lines.
    std::string drain() {
        std::string out;
        std::string block(kReadBlock, '\0');
        while (out.size() < kReadBlock && !ended_) {
            const ssize_t n = ::read(file_.get(), block.data(), block.size());
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            pending_.append(block.data(), static_cast<std::size_t>(n));
            std::size_t start = 0;
            for (std::size_t newline;
                 !ended_ && (newline = pending_.find('\n', start)) != std::string::npos;
                 start = newline + 1) {
                emit(std::string_view(pending_).substr(start, newline + 1 - start), out);
            }
            pending_.erase(0, ended_ ? pending_.size() : start);
        }
        return out;
    }

    std::string flush_incomplete() {
        std::string out;
        if (!pending_.empty()) emit(pending_, out);
        pending_.clear();
        return out;
    }

    // Appends one file line to `out` as the client sees it.
    void emit(std::string_view raw, std::string& out) {
        if (lines_left_ && *lines_left_ <= 0) {
            ended_ = true;
            return;
        }
        const auto line = parse_cri_line(raw);
        if (!line) return;
        if (lines_left_) --*lines_left_;
        if (line->time < since_) return;
        bool& at_line_start = line->stderr_stream ? stderr_at_line_start_ : stdout_at_line_start_;
        std::string text;
        if (request_.timestamps && at_line_start) text = format_timestamp(line->timestamp) + " ";
        text += line->content;
        at_line_start = line->content.empty() || line->content.back() == '\n';
        if (remaining_bytes_) {
            if (static_cast<std::int64_t>(text.size()) >= *remaining_bytes_) {
                text.resize(static_cast<std::size_t>(*remaining_bytes_));
                ended_ = true;
            }
            *remaining_bytes_ -= static_cast<std::int64_t>(text.size());
        }
        out += text;
    }

    // Whether the path now names another file than the one open (the runtime reopened its log
    // after a rotation), which is read once this one is drained.
    bool rotated() const {
        struct stat open_info {
        }, path_info{};
        if (::fstat(file_.get(), &open_info) != 0 || ::stat(path_.c_str(), &path_info) != 0) {
            return false;
        }
        return open_info.st_ino != path_info.st_ino || open_info.st_dev != path_info.st_dev;
    }

    void switch_to_new_file() {
        UniqueFd next = open_file();
        if (!next) return;
        file_ = std::move(next);
        // An incomplete line at the end of the old file stays incomplete.
        pending_.clear();
        if (inotify_) watch();
    }

    // Watches the open file for writes and the directory for the file's replacement.
    void watch() {
        inotify_ = UniqueFd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
        if (!inotify_) {
            // Without inotify (no instances left), polling once a second still follows.
            inotify_ = UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
            polling_ = true;
            return;
        }
        ::inotify_add_watch(inotify_.get(), path_.c_str(),
                            IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF);
        ::inotify_add_watch(inotify_.get(), path_.parent_path().c_str(), IN_CREATE | IN_MOVED_TO);
    }

    void wait_for_change(std::chrono::milliseconds timeout) {
        if (polling_) {
            ::poll(nullptr, 0, static_cast<int>(timeout.count()));
            return;
        }
        pollfd descriptor{inotify_.get(), POLLIN, 0};
        if (::poll(&descriptor, 1, static_cast<int>(timeout.count())) > 0) {
            alignas(inotify_event) char events[4096];
            while (::read(inotify_.get(), events, sizeof events) > 0) {
            }
        }
    }

    std::filesystem::path path_;
    apiserver::LogRequest request_;
    std::function<bool()> still_running_;
    UniqueFd file_;
    UniqueFd inotify_;
    bool polling_ = false;
    std::string pending_;  // read, not yet a complete line
    std::int64_t since_ = std::numeric_limits<std::int64_t>::min();
    std::optional<std::int64_t> remaining_bytes_;
    std::optional<std::int64_t> lines_left_;
    bool stdout_at_line_start_ = true;
    bool stderr_at_line_start_ = true;
    bool ended_ = false;
    Clock::time_point last_running_check_{};
};

}  // namespace

std::unique_ptr<apiserver::LogStream> open_container_log(const std::filesystem::path& file,
                                                         const apiserver::LogRequest& request,
                                                         std::function<bool()> still_running) {
    return std::make_unique<CriLogStream>(file, request, std::move(still_running));
}

}  // namespace kcube::kubelet
