// Reading CRI log files the way pods/log serves them: partial lines, both streams, tailLines
// (also on a big file), since, timestamps, limitBytes, and follow with the container's end and
// a rotation of the file.
#include "cluster/kubelet/container_logs.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "../test_support.hpp"
#include "cluster/api/errors.hpp"

using kcube::apiserver::LogRequest;
using kcube::kubelet::open_container_log;
using namespace std::chrono_literals;
namespace stdfs = std::filesystem;

namespace {

void append(const stdfs::path& file, const std::string& text) {
    std::ofstream out(file, std::ios::binary | std::ios::app);
    out << text;
}

// Everything the stream gives until it ends (or `timeout` passes: then what came so far plus
// "<timeout>").
std::string read_all(kcube::apiserver::LogStream& stream, std::chrono::milliseconds timeout = 10s) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        auto piece = stream.read(100ms);
        if (!piece) return out;
        out += *piece;
    }
    return out + "<timeout>";
}

std::string read_log(const stdfs::path& file, const LogRequest& request) {
    auto stream = open_container_log(file, request, [] { return false; });
    return read_all(*stream);
}

const std::string kSample =
    "2024-05-01T10:00:00.100000000Z stdout F first\n"
    "2024-05-01T10:00:01.5Z stderr F oops\n"
    "2024-05-01T10:00:02.000000001+00:00 stdout P par\n"
    "2024-05-01T10:00:02.2Z stdout P ti\n"
    "2024-05-01T10:00:02.3Z stdout F al\n"
    "not a cri line\n"
    "2024-05-01T12:00:03+02:00 stdout F third\n";

}  // namespace

TEST_CASE("container logs: CRI lines, partial lines joined, both streams, bad lines skipped") {
    kcube::testing::TempDir tmp;
    const auto file = tmp / "0.log";
    append(file, kSample);
    CHECK(read_log(file, {}) == "first\noops\npartial\nthird\n");
}

TEST_CASE("container logs: timestamps as upstream prints them (RFC3339Nano, one per line)") {
    kcube::testing::TempDir tmp;
    const auto file = tmp / "0.log";
    append(file, kSample);
    LogRequest request;
    request.timestamps = true;
    CHECK(read_log(file, request) ==
          "2024-05-01T10:00:00.1Z first\n"
          "2024-05-01T10:00:01.5Z oops\n"
          "2024-05-01T10:00:02.000000001Z partial\n"
          "2024-05-01T12:00:03+02:00 third\n");
}

TEST_CASE("container logs: tailLines counts the file's lines from its end") {
    kcube::testing::TempDir tmp;
    const auto file = tmp / "0.log";
    append(file, kSample);
    LogRequest request;
    request.tail_lines = 2;
    CHECK(read_log(file, request) == "third\n");  // the bad line is one of the two
    request.tail_lines = 4;
    CHECK(read_log(file, request) == "tial\nthird\n");
    request.tail_lines = 0;
    CHECK(read_log(file, request) == "");
    request.tail_lines = 100;
    CHECK(read_log(file, request) == "first\noops\npartial\nthird\n");

    // An incomplete last line (still being written) is not one of the tail's lines.
    append(file, "2024-05-01T10:00:04Z stdout F fourth\n2024-05-01T10:00:05Z stdout F fif");
    request.tail_lines = 1;
    CHECK(read_log(file, request) == "fourth\n");
    // Without tailLines it is shown as it is.
    CHECK(read_log(file, {}) == "first\noops\npartial\nthird\nfourth\nfif");
}

TEST_CASE("container logs: tailLines on a big file") {
    kcube::testing::TempDir tmp;
    const auto file = tmp / "0.log";
    {
        std::ofstream out(file, std::ios::binary);
        for (int i = 0; i < 200000; ++i)
            out << "2024-05-01T10:00:00.123456789Z stdout F line " << i << "\n";
    }
    LogRequest request;
    request.tail_lines = 3;
    const auto begin = std::chrono::steady_clock::now();
    CHECK(read_log(file, request) == "line 199997\nline 199998\nline 199999\n");
    CHECK(std::chrono::steady_clock::now() - begin < 1s);
    request.tail_lines = 5000;  // more than one block back
    const std::string tail = read_log(file, request);
    CHECK(tail.rfind("line 195000\n", 0) == 0);
    CHECK(std::count(tail.begin(), tail.end(), '\n') == 5000);
}

TEST_CASE("container logs: sinceTime and sinceSeconds") {
    kcube::testing::TempDir tmp;
    const auto file = tmp / "0.log";
    append(file, kSample);
    LogRequest request;
    request.since_time = "2024-05-01T10:00:02Z";
    CHECK(read_log(file, request) == "partial\nthird\n");
    request.since_time = "2024-05-01T12:00:00+02:00";  // 10:00:00Z
    CHECK(read_log(file, request) == "first\noops\npartial\nthird\n");

    const auto old_file = tmp / "1.log";
    append(old_file, "2020-01-01T00:00:00Z stdout F old\n");
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    char stamp[64];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    append(old_file, std::string(stamp) + " stdout F new\n");
    LogRequest recent;
    recent.since_seconds = 60;
    CHECK(read_log(old_file, recent) == "new\n");
}

TEST_CASE("container logs: limitBytes cuts the output") {
    kcube::testing::TempDir tmp;
    const auto file = tmp / "0.log";
    append(file, kSample);
    LogRequest request;
    request.limit_bytes = 8;
    CHECK(read_log(file, request) == "first\noo");
    request.limit_bytes = 6;
    CHECK(read_log(file, request) == "first\n");
    request.timestamps = true;
    request.limit_bytes = 10;
    CHECK(read_log(file, request) == "2024-05-01");
}

TEST_CASE("container logs: a missing file is upstream's 400") {
    kcube::testing::TempDir tmp;
    try {
        open_container_log(tmp / "nope.log", {}, [] { return true; });
        FAIL("expected an ApiError");
    } catch (const kcube::api::ApiError& e) {
        CHECK(e.code() == 400);
        CHECK(std::string(e.what()) == "failed to open log file \"" + (tmp / "nope.log").string() +
                                           "\": open " + (tmp / "nope.log").string() +
                                           ": no such file or directory");
    }
}

TEST_CASE("container logs: follow waits for lines, follows a rotation, ends with the container") {
    kcube::testing::TempDir tmp;
    const auto file = tmp / "0.log";
    append(file, "2024-05-01T10:00:00Z stdout F one\n");
    std::atomic<bool> running = true;
    LogRequest request;
    request.follow = true;
    auto stream = open_container_log(file, request, [&] { return running.load(); });
    CHECK(stream->read(1s) == std::optional<std::string>("one\n"));
    // Nothing new: an empty piece after the wait, quickly.
    const auto begin = std::chrono::steady_clock::now();
    CHECK(stream->read(200ms) == std::optional<std::string>(""));
    CHECK(std::chrono::steady_clock::now() - begin < 1s);

    // A line written (in two writes, the first incomplete) wakes the reader at once.
    std::thread writer([&] {
        std::this_thread::sleep_for(100ms);
        append(file, "2024-05-01T10:00:01Z stdout F tw");
        std::this_thread::sleep_for(100ms);
        append(file, "o\n");
    });
    std::string got;
    const auto wrote = std::chrono::steady_clock::now();
    while (got != "two\n" && std::chrono::steady_clock::now() - wrote < 5s)
        got += stream->read(2s).value_or("<end>");
    writer.join();
    CHECK(got == "two\n");
    CHECK(std::chrono::steady_clock::now() - wrote < 1s);

    // The runtime's log is rotated: renamed, and a new file opened at the same path.
    append(file, "2024-05-01T10:00:02Z stdout F three\n");
    stdfs::rename(file, tmp / "0.log.20240501-100002");
    append(file, "2024-05-01T10:00:03Z stdout F four\n");
    got.clear();
    while (got.size() < 11)
        got += stream->read(2s).value_or("<end>");
    CHECK(got == "three\nfour\n");

    // The container stops after a last line: the stream gives it, then ends.
    append(file, "2024-05-01T10:00:04Z stderr F last\n");
    running = false;
    CHECK(read_all(*stream, 5s) == "last\n");
    CHECK_FALSE(stream->read(10ms).has_value());
}

TEST_CASE("container logs: follow with tailLines starts at the tail and keeps going") {
    kcube::testing::TempDir tmp;
    const auto file = tmp / "0.log";
    append(file, kSample);
    LogRequest request;
    request.follow = true;
    request.tail_lines = 1;
    request.timestamps = true;
    auto stream = open_container_log(file, request, [] { return true; });
    CHECK(stream->read(1s) == std::optional<std::string>("2024-05-01T12:00:03+02:00 third\n"));
    append(file, "2024-05-01T10:00:05Z stdout F more\n");
    std::string got;
    for (int i = 0; i < 20 && got.empty(); ++i)
        got = stream->read(100ms).value_or("<end>");
    CHECK(got == "2024-05-01T10:00:05Z more\n");
}
