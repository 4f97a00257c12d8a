#pragma once
// File primitives for kcube's state: reads that name the file on failure, atomic writes that
// never leave a half-written file behind, and advisory locks between concurrent kcube processes.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>

namespace kcube::fs {

namespace stdfs = std::filesystem;

// Whole file contents. Throws Error (kNotFound / kState / kHost) naming the file.
std::string read_file(const stdfs::path& path);

// Writes `content` to a temporary file beside `path`, fsyncs it, renames it over `path` and
// fsyncs the directory: readers see the old or the new file, never a mix. Creates missing
// parent directories with mode 0700. Throws Error (kHost) on ENOSPC, EACCES and the like.
void write_file_atomic(const stdfs::path& path, std::string_view content, mode_t mode = 0600);

// Creates `dir` and its parents if missing; a directory kcube creates gets `mode`.
void ensure_dir(const stdfs::path& dir, mode_t mode = 0700);

// Holds `<path>.lock` (created with O_EXCL, the convention kubectl also uses for kubeconfig
// files) for its lifetime. Waits up to `timeout` for another holder, then throws Error.
class FileLock {
  public:
    explicit FileLock(const stdfs::path& path,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));
    ~FileLock();
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;

  private:
    stdfs::path lock_path_;
};

}  // namespace kcube::fs
