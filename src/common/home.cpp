#include "common/home.hpp"

#include <cstdlib>

#include "common/error.hpp"

namespace kcube {

KcubeHome KcubeHome::from_environment() {
    if (const char* env = std::getenv("KCUBE_HOME"); env != nullptr && *env != '\0') {
        std::filesystem::path root(env);
        if (root.is_relative()) root = std::filesystem::absolute(root);
        return KcubeHome(root.lexically_normal());
    }
    if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
        return KcubeHome(std::filesystem::path(home) / ".kcube");
    }
    throw Error(ExitCode::kHost, "HOST_NO_HOME", "neither $KCUBE_HOME nor $HOME is set",
                "Set KCUBE_HOME to the directory where kcube should keep its state.");
}

}  // namespace kcube
