#include "common/openssl.hpp"

#include <openssl/err.h>

namespace kcube::openssl {

std::string error_text() {
    std::string text;
    while (unsigned long code = ERR_get_error()) {
        char buffer[256];
        ERR_error_string_n(code, buffer, sizeof buffer);
        if (!text.empty()) text += "; ";
        text += buffer;
    }
    return text.empty() ? "unknown OpenSSL error" : text;
}

}  // namespace kcube::openssl
