#pragma once
// The images kcube ships as OCI tarballs (the pause image, the test image), imported into the
// node's containerd at start. A stamp per tarball makes a warm start skip what is there.
#include <filesystem>
#include <string>
#include <vector>

namespace kcube::kubelet {

class Containerd;
namespace cri {
class CriClient;
}

// Imports every *.tar in `dir` whose stamp under `stamp_dir` is missing or stale, or whose
// images the runtime lost; returns the names of the images imported now. A missing `dir` is
// not an error (returns nothing).
std::vector<std::string> import_bundled_images(Containerd& containerd, cri::CriClient& cri,
                                               const std::filesystem::path& dir,
                                               const std::filesystem::path& stamp_dir);

}  // namespace kcube::kubelet
