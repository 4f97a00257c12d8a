#pragma once
// The cluster's PKI, with OpenSSL 3 (no shelling out): a CA shared by all profiles, and the
// server, client and signing keys a node needs. OpenSSL types stay out of this header.
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace kcube::pki {

enum class Usage { kServer, kClient, kServerAndClient };

struct CertificateSpec {
    std::string common_name;
    std::vector<std::string> organizations;  // O=; the admin client carries "system:masters"
    std::vector<std::string> dns_names;      // subjectAltName DNS entries
    std::vector<std::string> ip_addresses;   // subjectAltName IP entries (v4 or v6)
    Usage usage = Usage::kServer;
    std::chrono::days validity{3 * 365};
};

// What a certificate says, parsed back from its PEM (for renewal decisions and tests).
struct CertificateInfo {
    std::string common_name;
    std::vector<std::string> organizations;
    std::vector<std::string> dns_names;
    std::vector<std::string> ip_addresses;
    std::vector<std::string> extended_key_usages;  // "serverAuth", "clientAuth"
    bool digital_signature = false;
    bool key_encipherment = false;
    bool key_cert_sign = false;
    bool is_ca = false;
    std::chrono::system_clock::time_point not_before;
    std::chrono::system_clock::time_point not_after;
};

// Certificates that expire sooner than this are re-issued on the next start.
inline constexpr std::chrono::days kRenewBefore{30};

class CertificateAuthority {
  public:
    // Loads `dir`/ca.crt and `dir`/ca.key, or creates both (valid 10 years) when neither exists.
    // A missing half, an unreadable or corrupt file, or a key that does not match the
    // certificate throws Error(kState, "PKI_CORRUPT_...") naming the file; nothing is replaced.
    static CertificateAuthority load_or_create(const std::filesystem::path& dir,
                                               const std::string& common_name = "kcubeCA");
    ~CertificateAuthority();
    CertificateAuthority(CertificateAuthority&&) noexcept;
    CertificateAuthority& operator=(CertificateAuthority&&) noexcept;

    const std::filesystem::path& cert_file() const;
    const std::filesystem::path& key_file() const;
    std::string cert_pem() const;

    struct Issued {
        std::string cert_pem;
        std::string key_pem;
    };
    // A fresh key pair and a certificate for it signed by this CA.
    Issued issue(const CertificateSpec& spec) const;
    // True when `cert_pem` was signed by this CA's key.
    bool signed_this(const std::string& cert_pem) const;

  private:
    struct Impl;
    explicit CertificateAuthority(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Keeps `cert_file`/`key_file` as a valid pair for `spec`: issues them when absent, re-issues
// when the certificate is signed by another CA, lacks a requested name, or expires within
// kRenewBefore. A present but corrupt file throws Error naming it. Returns true if it wrote.
bool ensure_certificate(const CertificateAuthority& ca, const std::filesystem::path& cert_file,
                        const std::filesystem::path& key_file, const CertificateSpec& spec);

// The service-account token signing key pair (PEM private key 0600, PEM public key 0644),
// created when absent, validated when present. Returns true if it wrote.
bool ensure_signing_key_pair(const std::filesystem::path& private_key_file,
                             const std::filesystem::path& public_key_file);

CertificateInfo inspect_certificate_pem(const std::string& pem, const std::string& origin);
CertificateInfo inspect_certificate(const std::filesystem::path& cert_file);

// The standard set of files a node needs, all in one directory.
struct NodePkiSpec {
    std::string node_name;                  // kubelet serving cert CN is system:node:<name>
    std::vector<std::string> ip_addresses;  // API server SANs (10.96.0.1 and 127.0.0.1 added)
    std::vector<std::string> dns_names;     // extra API server SANs (kubernetes.* added)
};
struct NodePkiFiles {
    std::filesystem::path ca_cert;
    std::filesystem::path apiserver_cert, apiserver_key;  // serving
    std::filesystem::path admin_cert, admin_key;          // CN=kcube-admin O=system:masters
    std::filesystem::path kubelet_cert, kubelet_key;      // kubelet serving
    std::filesystem::path kubelet_client_cert, kubelet_client_key;  // apiserver -> kubelet
    std::filesystem::path sa_key, sa_pub;                           // service-account signing
};
// Ensures every file of NodePkiFiles under `dir` (see ensure_certificate), copying the CA cert.
NodePkiFiles ensure_node_pki(const CertificateAuthority& ca, const std::filesystem::path& dir,
                             const NodePkiSpec& spec);

}  // namespace kcube::pki
