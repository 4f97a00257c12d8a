#include "common/fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <random>
#include <thread>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace kcube::fs {
namespace {

// Turns a failed system call on `path` into an Error a person can act on.
[[noreturn]] void throw_io_error(int err, std::string_view action, const stdfs::path& path) {
    std::string what = std::string(action) + " " + path.string() + ": " + errno_text(err);
    switch (err) {
        case ENOSPC:
        case EDQUOT:
            throw Error(ExitCode::kHost, "HOST_DISK_FULL", what,
                        "Free some disk space on the file system holding " +
                            path.parent_path().string() + " and run the command again.");
        case EACCES:
        case EPERM:
        case EROFS:
            throw Error(ExitCode::kHost, "HOST_PERMISSION", what,
                        "Check the owner and mode of " + path.string() +
                            ", or point $KCUBE_HOME at a directory you can write.");
        case ENOENT:
            throw Error(ExitCode::kNotFound, "FILE_NOT_FOUND", what);
        default:
            throw Error(ExitCode::kHost, "HOST_IO", what);
    }
}

std::string random_suffix() {
    std::random_device rd;
    return std::to_string(rd() % 1000000);
}

}  // namespace

std::string read_file(const stdfs::path& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) throw_io_error(errno, "cannot open", path);
    std::string content;
    char buffer[64 * 1024];
    for (;;) {
        ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_io_error(errno, "cannot read", path);
        }
        if (n == 0) break;
        content.append(buffer, static_cast<size_t>(n));
    }
    return content;
}

void ensure_dir(const stdfs::path& dir, mode_t mode) {
    if (dir.empty() || stdfs::is_directory(dir)) return;
    ensure_dir(dir.parent_path(), mode);
    if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
        throw_io_error(errno, "cannot create directory", dir);
    }
}

void write_file_atomic(const stdfs::path& path, std::string_view content, mode_t mode) {
    const stdfs::path dir = path.has_parent_path() ? path.parent_path() : stdfs::path(".");
    ensure_dir(dir);
    // Built with += rather than "." + ..., which trips a GCC 12 -Wrestrict false positive at -O3.
    std::string temp_name = ".";
    temp_name += path.filename().string();
    temp_name += ".tmp-";
    temp_name += random_suffix();
    const stdfs::path temp = dir / temp_name;
    bool renamed = false;
    try {
        UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
        if (fd.get() < 0) throw_io_error(errno, "cannot create", temp);
        // The umask may have narrowed `mode`; a kubeconfig must still end up exactly 0600.
        if (::fchmod(fd.get(), mode) != 0) throw_io_error(errno, "cannot chmod", temp);
        size_t written = 0;
        while (written < content.size()) {
            ssize_t n = ::write(fd.get(), content.data() + written, content.size() - written);
            if (n < 0) {
                if (errno == EINTR) continue;
                throw_io_error(errno, "cannot write", temp);
            }
            written += static_cast<size_t>(n);
        }
        if (::fsync(fd.get()) != 0) throw_io_error(errno, "cannot sync", temp);
        if (fd.close() != 0) throw_io_error(errno, "cannot close", temp);
        if (::rename(temp.c_str(), path.c_str()) != 0)
            throw_io_error(errno, "cannot replace", path);
        renamed = true;
        UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (dir_fd.get() >= 0) ::fsync(dir_fd.get());
    } catch (...) {
        if (!renamed) ::unlink(temp.c_str());
        throw;
    }
}

FileLock::FileLock(const stdfs::path& path, std::chrono::milliseconds timeout)
    : lock_path_(path.string() + ".lock") {
    ensure_dir(lock_path_.parent_path());
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int fd = ::open(lock_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            ::close(fd);
            return;
        }
        if (errno != EEXIST) throw_io_error(errno, "cannot create lock", lock_path_);
        if (std::chrono::steady_clock::now() >= deadline) {
            throw Error(ExitCode::kHost, "HOST_FILE_LOCKED",
                        "timed out waiting for the lock " + lock_path_.string(),
                        "Another kcube or kubectl process is writing " + path.string() +
                            ". If none is running, remove " + lock_path_.string() + ".");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

FileLock::~FileLock() {
    ::unlink(lock_path_.c_str());
}

}  // namespace kcube::fs
