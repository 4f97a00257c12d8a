#include "bootstrap/kubectl_context.hpp"

#include "bootstrap/kubeconfig.hpp"
#include "common/fs.hpp"

namespace kcube::bootstrap {
namespace stdfs = std::filesystem;

void configure_kubectl(const stdfs::path& kubeconfig, const std::string& name,
                       const ApiAccess& access, const stdfs::path& profile_dir, bool embed) {
    fs::ensure_dir(profile_dir, 0700);
    const stdfs::path ca = profile_dir / "ca.crt";
    const stdfs::path cert = profile_dir / "client.crt";
    const stdfs::path key = profile_dir / "client.key";
    fs::write_file_atomic(ca, fs::read_file(access.ca_cert), 0644);
    fs::write_file_atomic(cert, fs::read_file(access.client_cert), 0644);
    fs::write_file_atomic(key, fs::read_file(access.client_key), 0600);
    kubeconfig::Entry entry;
    entry.name = name;
    entry.server = access.server_url();
    entry.certificate_authority = ca;
    entry.client_certificate = cert;
    entry.client_key = key;
    entry.embed_certs = embed;
    kubeconfig::upsert(kubeconfig, entry, true);
}

bool kubectl_configured(const stdfs::path& kubeconfig, const std::string& name,
                        const std::string& server) {
    try {
        return kubeconfig::context_server(kubeconfig, name) == server;
    } catch (const std::exception&) {
        return false;  // an unreadable kubeconfig configures nothing
    }
}

}  // namespace kcube::bootstrap
