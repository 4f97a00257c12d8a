#pragma once
// What every OpenSSL user in kcube needs: ownership of OpenSSL objects, and the text of the
// errors OpenSSL queued.
#include <memory>
#include <string>

namespace kcube::openssl {

template <auto Free>
struct Deleter {
    template <class T>
    void operator()(T* p) const {
        Free(p);
    }
};
// A unique_ptr that frees with OpenSSL's own function, e.g. Owned<X509, X509_free>.
template <class T, auto Free>
using Owned = std::unique_ptr<T, Deleter<Free>>;

// Drains OpenSSL's thread-local error queue into one message, so a stale entry never shows up
// in a later error; "unknown OpenSSL error" when it was empty.
std::string error_text();

}  // namespace kcube::openssl
