#include "common/fs.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/error.hpp"
#include "test_support.hpp"

using kcube::Error;
using kcube::ExitCode;
namespace fs = kcube::fs;

TEST_CASE("write_file_atomic creates parents, sets the mode and replaces content") {
    kcube::testing::TempDir tmp;
    const auto file = tmp / "a/b/config.yaml";
    fs::write_file_atomic(file, "one\n", 0600);
    CHECK(fs::read_file(file) == "one\n");
    struct stat st {};
    REQUIRE(::stat(file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    fs::write_file_atomic(file, "two\n", 0644);
    CHECK(fs::read_file(file) == "two\n");
    REQUIRE(::stat(file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0644);
    // No temporary files are left beside it.
    int entries = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(file.parent_path())) {
        ++entries;
    }
    CHECK(entries == 1);
}

TEST_CASE("read_file of a missing file names it") {
    kcube::testing::TempDir tmp;
    try {
        fs::read_file(tmp / "nope");
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK(e.exit_code() == ExitCode::kNotFound);
        CHECK(std::string(e.what()).find("nope") != std::string::npos);
    }
}

TEST_CASE("write_file_atomic into an unwritable directory is a host error and keeps the old file") {
    if (::geteuid() == 0) {
        // root ignores directory modes; use a path under a regular file instead.
        kcube::testing::TempDir tmp;
        fs::write_file_atomic(tmp / "file", "x");
        CHECK_THROWS_AS(fs::write_file_atomic(tmp / "file/child", "y"), Error);
        CHECK(fs::read_file(tmp / "file") == "x");
        return;
    }
    kcube::testing::TempDir tmp;
    fs::write_file_atomic(tmp / "ro/file", "old");
    ::chmod((tmp / "ro").c_str(), 0500);
    try {
        fs::write_file_atomic(tmp / "ro/file", "new");
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK(e.reason() == "HOST_PERMISSION");
    }
    ::chmod((tmp / "ro").c_str(), 0700);
    CHECK(fs::read_file(tmp / "ro/file") == "old");
}

TEST_CASE("FileLock excludes a second holder until released") {
    kcube::testing::TempDir tmp;
    const auto target = tmp / "kubeconfig";
    {
        fs::FileLock first(target);
        CHECK(std::filesystem::exists(tmp / "kubeconfig.lock"));
        CHECK_THROWS_AS(fs::FileLock(target, std::chrono::milliseconds(50)), Error);
    }
    CHECK_FALSE(std::filesystem::exists(tmp / "kubeconfig.lock"));
    fs::FileLock again(target, std::chrono::milliseconds(50));
}
