#include "cluster/kubelet/bundled_images.hpp"

#include <algorithm>
#include <sstream>

#include "cluster/kubelet/containerd.hpp"
#include "common/fs.hpp"

namespace kcube::kubelet {
namespace stdfs = std::filesystem;

namespace {

// What identifies a tarball's contents cheaply: size and modification time.
std::string tarball_identity(const stdfs::path& tarball) {
    const auto size = stdfs::file_size(tarball);
    const auto mtime = stdfs::last_write_time(tarball).time_since_epoch().count();
    return std::to_string(size) + " " + std::to_string(mtime);
}

}  // namespace

std::vector<std::string> import_bundled_images(Containerd& containerd, cri::CriClient& cri,
                                               const stdfs::path& dir,
                                               const stdfs::path& stamp_dir) {
    std::vector<std::string> imported;
    std::error_code ec;
    if (!stdfs::is_directory(dir, ec)) return imported;
    std::vector<stdfs::path> tarballs;
    for (const auto& entry : stdfs::directory_iterator(dir, ec))
        if (entry.path().extension() == ".tar") tarballs.push_back(entry.path());
    std::sort(tarballs.begin(), tarballs.end());
    fs::ensure_dir(stamp_dir, 0700);
    for (const auto& tarball : tarballs) {
        const auto stamp = stamp_dir / (tarball.filename().string() + ".imported");
        const std::string identity = tarball_identity(tarball);
        bool current = false;
        if (stdfs::exists(stamp, ec)) {
            std::istringstream lines(fs::read_file(stamp));
            std::string first;
            std::getline(lines, first);
            current = first == identity;
            std::string name;
            while (current && std::getline(lines, name))
                if (!name.empty() && !cri.image_status(name)) current = false;
        }
        if (current) continue;
        const auto names = containerd.import_image(tarball);
        std::string content = identity + "\n";
        for (const auto& name : names)
            content += name + "\n";
        fs::write_file_atomic(stamp, content, 0600);
        imported.insert(imported.end(), names.begin(), names.end());
    }
    return imported;
}

}  // namespace kcube::kubelet
