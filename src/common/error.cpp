#include "common/error.hpp"

#include <cstring>

namespace kcube {

std::string errno_text(int err) {
    char buffer[256];
    // GNU strerror_r returns a pointer that may or may not be `buffer`.
    return ::strerror_r(err, buffer, sizeof buffer);
}

}  // namespace kcube
