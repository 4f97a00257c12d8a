#pragma once
// The user's kubeconfig: kcube owns one cluster, user and context named after the profile and
// leaves every other entry as it found it. Writes are atomic, 0600, under kubectl's lock file.
#include <filesystem>
#include <optional>
#include <string>

namespace kcube::kubeconfig {

struct Entry {
    std::string name;    // cluster, user and context name: the profile
    std::string server;  // https://127.0.0.1:8443
    std::filesystem::path certificate_authority;
    std::filesystem::path client_certificate;
    std::filesystem::path client_key;
    std::string default_namespace;  // empty: none written
    // Inline the three files as *-data (base64) instead of referring to their paths.
    bool embed_certs = false;
};

// The file kcube edits: the first entry of $KUBECONFIG (colon separated), else ~/.kube/config.
std::filesystem::path default_path();

// Adds or replaces the cluster, user and context `entry.name` in `file` (created if absent)
// and, if `make_current`, sets current-context to it. A file that does not parse as a
// kubeconfig throws Error(kState, "KUBECONFIG_PARSE") with the file name and YAML error, and
// is left untouched.
void upsert(const std::filesystem::path& file, const Entry& entry, bool make_current);

// Removes the cluster, user and context `name`; unsets current-context if it was `name`.
// Missing entries or a missing file are not errors. Returns true if the file changed.
bool remove(const std::filesystem::path& file, const std::string& name);

// Sets current-context; Error(kNotFound, "KUBECONFIG_NO_CONTEXT") if no such context exists.
void use_context(const std::filesystem::path& file, const std::string& name);

std::optional<std::string> current_context(const std::filesystem::path& file);
bool has_context(const std::filesystem::path& file, const std::string& name);
// The server of the cluster that context `name` uses; nothing when either is missing.
std::optional<std::string> context_server(const std::filesystem::path& file,
                                          const std::string& name);

// A complete kubeconfig holding only `entry`, current-context set (e.g. admin.kubeconfig).
std::string render(const Entry& entry);

}  // namespace kcube::kubeconfig
