#include "bootstrap/pki.hpp"

#include <arpa/inet.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdint>
#include <ctime>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/openssl.hpp"

namespace kcube::pki {
namespace {

namespace stdfs = std::filesystem;
using Clock = std::chrono::system_clock;
using namespace std::chrono_literals;

// A few hosts run with a clock that lags the host that issued the certificate.
constexpr auto kClockSkew = 1h;
constexpr std::chrono::days kCaValidity{3650};
constexpr mode_t kPrivateMode = 0600;
constexpr mode_t kPublicMode = 0644;

// ---- RAII for OpenSSL objects ----------------------------------------------------------

using openssl::Owned;

using KeyPtr = Owned<EVP_PKEY, EVP_PKEY_free>;
using CertPtr = Owned<X509, X509_free>;
using BioPtr = Owned<BIO, BIO_free_all>;
using NamePtr = Owned<X509_NAME, X509_NAME_free>;
using ExtensionPtr = Owned<X509_EXTENSION, X509_EXTENSION_free>;
using GeneralNamePtr = Owned<GENERAL_NAME, GENERAL_NAME_free>;
using GeneralNamesPtr = Owned<GENERAL_NAMES, GENERAL_NAMES_free>;
using OctetStringPtr = Owned<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>;
using Ia5StringPtr = Owned<ASN1_IA5STRING, ASN1_IA5STRING_free>;
using BignumPtr = Owned<BIGNUM, BN_free>;
using IntegerPtr = Owned<ASN1_INTEGER, ASN1_INTEGER_free>;
using ExtendedKeyUsagePtr = Owned<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free>;
using BasicConstraintsPtr = Owned<BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free>;

// ---- errors ---------------------------------------------------------------------------

// Drains OpenSSL's thread-local error queue into one line, so a stale entry never shows up in
// Failures that valid input cannot cause (out of memory, a broken OpenSSL install).
[[noreturn]] void throw_openssl(const std::string& action) {
    throw Error(ExitCode::kInternal, "PKI_OPENSSL", action + ": " + openssl::error_text());
}

void check(int rc, const char* action) {
    if (rc <= 0) throw_openssl(action);
}

std::string move_aside_advice(const std::string& file) {
    return "Move " + file +
           " aside and run the command again to create a new one, or restore it from a backup.";
}

[[noreturn]] void throw_corrupt_cert(const std::string& origin, const std::string& why) {
    throw Error(ExitCode::kState, "PKI_CORRUPT_CERT",
                "cannot parse certificate " + origin + ": " + why, move_aside_advice(origin));
}

[[noreturn]] void throw_corrupt_key(const std::string& origin, const std::string& why) {
    throw Error(ExitCode::kState, "PKI_CORRUPT_KEY", "cannot parse key " + origin + ": " + why,
                move_aside_advice(origin));
}

[[noreturn]] void throw_key_mismatch(const stdfs::path& first, const stdfs::path& second) {
    throw Error(ExitCode::kState, "PKI_KEY_MISMATCH",
                "the key in " + second.string() + " does not belong to " + first.string(),
                "Move both " + first.string() + " and " + second.string() +
                    " aside and run the command again to create a new pair, or restore both "
                    "from a backup.");
}

[[noreturn]] void throw_invalid_name(const std::string& what, const std::string& why) {
    throw Error(ExitCode::kUsage, "PKI_INVALID_NAME",
                "cannot put " + what + " in a certificate: " + why,
                "Check the node name, IP addresses and DNS names given to kcube.");
}

// ---- small conversions ----------------------------------------------------------------

BioPtr memory_bio() {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio) throw_openssl("cannot allocate a memory BIO");
    return bio;
}

BioPtr read_only_bio(const std::string& data) {
    if (data.size() > static_cast<size_t>(INT_MAX)) {
        throw Error(ExitCode::kState, "PKI_CORRUPT_CERT", "PEM input too large");
    }
    BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
    if (!bio) throw_openssl("cannot allocate a memory BIO");
    return bio;
}

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<size_t>(size));
}

// Refuses to prompt on the terminal when a key file turns out to be encrypted.
int no_passphrase(char*, int, int, void*) {
    return -1;
}

Clock::time_point to_time_point(const ASN1_TIME* time) {
    std::tm tm{};
    if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) return {};
    return Clock::from_time_t(::timegm(&tm));
}

std::string asn1_utf8(const ASN1_STRING* value) {
    unsigned char* utf8 = nullptr;
    const int length = ASN1_STRING_to_UTF8(&utf8, value);
    if (length < 0) return {};
    std::string text(reinterpret_cast<const char*>(utf8), static_cast<size_t>(length));
    OPENSSL_free(utf8);
    return text;
}

std::string lower(std::string text) {
    std::ranges::transform(text, text.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

// The 4 or 16 bytes of a textual IPv4/IPv6 address, or nothing if it is not one.
std::optional<std::string> ip_bytes(const std::string& text) {
    unsigned char buffer[16];
    if (::inet_pton(AF_INET, text.c_str(), buffer) == 1) {
        return std::string(reinterpret_cast<const char*>(buffer), 4);
    }
    if (::inet_pton(AF_INET6, text.c_str(), buffer) == 1) {
        return std::string(reinterpret_cast<const char*>(buffer), 16);
    }
    return std::nullopt;
}

std::string ip_text(const unsigned char* bytes, int length) {
    char buffer[INET6_ADDRSTRLEN] = {};
    const int family = length == 4 ? AF_INET : AF_INET6;
    if ((length != 4 && length != 16) ||
        ::inet_ntop(family, bytes, buffer, sizeof buffer) == nullptr) {
        return "<invalid IP of " + std::to_string(length) + " bytes>";
    }
    return buffer;
}

// One spelling per address ("::1" and "0:0::1" are the same SAN), so comparisons are exact.
std::string canonical_ip(const std::string& text) {
    const auto bytes = ip_bytes(text);
    if (!bytes) throw_invalid_name("IP address \"" + text + "\"", "not an IPv4 or IPv6 address");
    return ip_text(reinterpret_cast<const unsigned char*>(bytes->data()),
                   static_cast<int>(bytes->size()));
}

template <class T>
void append_unique(std::vector<T>& list, const T& value) {
    if (std::ranges::find(list, value) == list.end()) list.push_back(value);
}

// ---- files ----------------------------------------------------------------------------

bool present(const stdfs::path& path) {
    std::error_code ec;
    const bool exists = stdfs::exists(path, ec);
    if (ec) {
        throw Error(ExitCode::kHost, "HOST_IO",
                    "cannot check " + path.string() + ": " + ec.message(),
                    "Check the owner and mode of " + path.parent_path().string() + ".");
    }
    return exists;
}

CertPtr parse_cert(const std::string& pem, const std::string& origin) {
    ERR_clear_error();
    auto bio = read_only_bio(pem);
    CertPtr cert(PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr));
    if (!cert) throw_corrupt_cert(origin, openssl::error_text());
    return cert;
}

KeyPtr parse_private_key(const std::string& pem, const std::string& origin) {
    ERR_clear_error();
    auto bio = read_only_bio(pem);
    KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
    if (!key) throw_corrupt_key(origin, openssl::error_text());
    return key;
}

KeyPtr parse_public_key(const std::string& pem, const std::string& origin) {
    ERR_clear_error();
    auto bio = read_only_bio(pem);
    KeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr));
    if (!key) throw_corrupt_key(origin, openssl::error_text());
    return key;
}

CertPtr load_cert(const stdfs::path& file) {
    return parse_cert(fs::read_file(file), file.string());
}

KeyPtr load_private_key(const stdfs::path& file) {
    return parse_private_key(fs::read_file(file), file.string());
}

std::string cert_to_pem(X509* cert) {
    auto bio = memory_bio();
    check(PEM_write_bio_X509(bio.get(), cert), "cannot encode a certificate");
    return bio_text(bio.get());
}

// PKCS#8 ("BEGIN PRIVATE KEY"), unencrypted: Go's crypto/tls, kubectl and OpenSSL all read it.
std::string private_key_to_pem(EVP_PKEY* key) {
    auto bio = memory_bio();
    check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr),
          "cannot encode a private key");
    return bio_text(bio.get());
}

std::string public_key_to_pem(EVP_PKEY* key) {
    auto bio = memory_bio();
    check(PEM_write_bio_PUBKEY(bio.get(), key), "cannot encode a public key");
    return bio_text(bio.get());
}

bool key_matches_cert(X509* cert, EVP_PKEY* key) {
    const bool matches = X509_check_private_key(cert, key) == 1;
    ERR_clear_error();
    return matches;
}

// ---- building certificates ------------------------------------------------------------

KeyPtr generate_key() {
    KeyPtr key(EVP_EC_gen("P-256"));
    if (!key) throw_openssl("cannot generate an ECDSA P-256 key");
    return key;
}

void add_name_entry(X509_NAME* name, int nid, const std::string& value) {
    if (X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1) {
        throw_invalid_name(std::string(OBJ_nid2sn(nid)) + "=\"" + value + "\"",
                           openssl::error_text());
    }
}

NamePtr make_subject(const std::string& common_name,
                     const std::vector<std::string>& organizations) {
    NamePtr name(X509_NAME_new());
    if (!name) throw_openssl("cannot allocate a name");
    for (const auto& organization : organizations) {
        add_name_entry(name.get(), NID_organizationName, organization);
    }
    if (!common_name.empty()) add_name_entry(name.get(), NID_commonName, common_name);
    return name;
}

// 128 random bits: unique without a serial database, and positive because BN_bin2bn is
// unsigned (the DER encoding gains a leading zero byte when the top bit is set).
void set_random_serial(X509* cert) {
    unsigned char bytes[16];
    check(RAND_bytes(bytes, sizeof bytes), "cannot generate a serial number");
    BignumPtr number(BN_bin2bn(bytes, sizeof bytes, nullptr));
    if (!number) throw_openssl("cannot build a serial number");
    if (BN_is_zero(number.get())) check(BN_one(number.get()), "cannot build a serial number");
    IntegerPtr serial(BN_to_ASN1_INTEGER(number.get(), nullptr));
    if (!serial) throw_openssl("cannot build a serial number");
    check(X509_set_serialNumber(cert, serial.get()), "cannot set the serial number");
}

struct Validity {
    Clock::time_point not_before;
    Clock::time_point not_after;
};

CertPtr new_certificate(X509_NAME* subject, X509_NAME* issuer, EVP_PKEY* key,
                        const Validity& validity) {
    CertPtr cert(X509_new());
    if (!cert) throw_openssl("cannot allocate a certificate");
    check(X509_set_version(cert.get(), X509_VERSION_3), "cannot set the certificate version");
    set_random_serial(cert.get());
    check(X509_set_subject_name(cert.get(), subject), "cannot set the subject");
    check(X509_set_issuer_name(cert.get(), issuer), "cannot set the issuer");
    check(X509_set_pubkey(cert.get(), key), "cannot set the public key");
    if (ASN1_TIME_set(X509_getm_notBefore(cert.get()), Clock::to_time_t(validity.not_before)) ==
            nullptr ||
        ASN1_TIME_set(X509_getm_notAfter(cert.get()), Clock::to_time_t(validity.not_after)) ==
            nullptr) {
        throw_openssl("cannot set the validity period");
    }
    return cert;
}

// Extensions written in OpenSSL's config syntax ("critical,CA:TRUE"); `context` knows the
// subject and issuer certificates, which the key identifier extensions are computed from.
void add_extension(X509* cert, X509V3_CTX* context, int nid, const char* value) {
    ExtensionPtr extension(X509V3_EXT_conf_nid(nullptr, context, nid, value));
    if (!extension) throw_openssl(std::string("cannot build extension ") + OBJ_nid2sn(nid));
    check(X509_add_ext(cert, extension.get(), -1), "cannot add an extension");
}

// Takes ownership of `name` once the stack holds it.
void push_general_name(GENERAL_NAMES* names, GeneralNamePtr name) {
    check(sk_GENERAL_NAME_push(names, name.get()), "cannot add a subjectAltName entry");
    name.release();
}

void push_dns_name(GENERAL_NAMES* names, const std::string& dns) {
    if (dns.empty()) throw_invalid_name("an empty DNS name", "DNS names cannot be empty");
    GeneralNamePtr name(GENERAL_NAME_new());
    Ia5StringPtr text(ASN1_IA5STRING_new());
    if (!name || !text ||
        ASN1_STRING_set(text.get(), dns.data(), static_cast<int>(dns.size())) != 1) {
        throw_openssl("cannot build a DNS name");
    }
    GENERAL_NAME_set0_value(name.get(), GEN_DNS, text.release());
    push_general_name(names, std::move(name));
}

void push_ip_address(GENERAL_NAMES* names, const std::string& bytes) {
    GeneralNamePtr name(GENERAL_NAME_new());
    OctetStringPtr octets(ASN1_OCTET_STRING_new());
    if (!name || !octets ||
        ASN1_OCTET_STRING_set(octets.get(), reinterpret_cast<const unsigned char*>(bytes.data()),
                              static_cast<int>(bytes.size())) != 1) {
        throw_openssl("cannot build an IP address");
    }
    GENERAL_NAME_set0_value(name.get(), GEN_IPADD, octets.release());
    push_general_name(names, std::move(name));
}

// Built as a GENERAL_NAMES structure rather than a config string, so that a name with a comma
// or colon in it can never be read as a second entry. Names that differ only in case (DNS) or
// spelling (IP) are written once.
void add_subject_alt_names(X509* cert, const std::vector<std::string>& dns_names,
                           const std::vector<std::string>& ip_addresses) {
    if (dns_names.empty() && ip_addresses.empty()) return;
    GeneralNamesPtr names(GENERAL_NAMES_new());
    if (!names) throw_openssl("cannot allocate subjectAltName");
    std::set<std::string> written;
    for (const auto& dns : dns_names) {
        if (written.insert("dns:" + lower(dns)).second) push_dns_name(names.get(), dns);
    }
    for (const auto& ip : ip_addresses) {
        const auto bytes = ip_bytes(ip);
        if (!bytes) throw_invalid_name("IP address \"" + ip + "\"", "not an IPv4 or IPv6 address");
        if (written.insert("ip:" + *bytes).second) push_ip_address(names.get(), *bytes);
    }
    check(X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT),
          "cannot add subjectAltName");
}

const char* extended_key_usage(Usage usage) {
    switch (usage) {
        case Usage::kServer:
            return "serverAuth";
        case Usage::kClient:
            return "clientAuth";
        case Usage::kServerAndClient:
            break;
    }
    return "serverAuth,clientAuth";
}

std::vector<std::string> expected_extended_key_usages(Usage usage) {
    switch (usage) {
        case Usage::kServer:
            return {"serverAuth"};
        case Usage::kClient:
            return {"clientAuth"};
        case Usage::kServerAndClient:
            break;
    }
    return {"clientAuth", "serverAuth"};
}

void sign(X509* cert, EVP_PKEY* key) {
    if (X509_sign(cert, key, EVP_sha256()) <= 0) throw_openssl("cannot sign a certificate");
}

// ---- reading certificates back --------------------------------------------------------

std::vector<std::string> name_entries(const X509_NAME* name, int nid) {
    std::vector<std::string> values;
    for (int i = X509_NAME_get_index_by_NID(name, nid, -1); i >= 0;
         i = X509_NAME_get_index_by_NID(name, nid, i)) {
        values.push_back(asn1_utf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i))));
    }
    return values;
}

void read_subject_alt_names(X509* cert, CertificateInfo& info) {
    GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
    if (!names) return;
    for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
        if (name->type == GEN_DNS) {
            info.dns_names.push_back(asn1_utf8(name->d.dNSName));
        } else if (name->type == GEN_IPADD) {
            info.ip_addresses.push_back(ip_text(ASN1_STRING_get0_data(name->d.iPAddress),
                                                ASN1_STRING_length(name->d.iPAddress)));
        }
    }
}

std::string object_name(const ASN1_OBJECT* object) {
    const int nid = OBJ_obj2nid(object);
    if (nid != NID_undef) return OBJ_nid2sn(nid);
    char buffer[128];
    OBJ_obj2txt(buffer, sizeof buffer, object, 1);
    return buffer;
}

void read_extended_key_usages(X509* cert, CertificateInfo& info) {
    ExtendedKeyUsagePtr usages(static_cast<EXTENDED_KEY_USAGE*>(
        X509_get_ext_d2i(cert, NID_ext_key_usage, nullptr, nullptr)));
    if (!usages) return;
    for (int i = 0; i < sk_ASN1_OBJECT_num(usages.get()); ++i) {
        info.extended_key_usages.push_back(object_name(sk_ASN1_OBJECT_value(usages.get(), i)));
    }
}

void read_key_usage(X509* cert, CertificateInfo& info) {
    // Without the extension OpenSSL reports every bit set; a certificate without it claims none.
    if ((X509_get_extension_flags(cert) & EXFLAG_KUSAGE) == 0) return;
    const uint32_t bits = X509_get_key_usage(cert);
    info.digital_signature = (bits & KU_DIGITAL_SIGNATURE) != 0;
    info.key_encipherment = (bits & KU_KEY_ENCIPHERMENT) != 0;
    info.key_cert_sign = (bits & KU_KEY_CERT_SIGN) != 0;
}

bool basic_constraints_ca(X509* cert) {
    BasicConstraintsPtr constraints(static_cast<BASIC_CONSTRAINTS*>(
        X509_get_ext_d2i(cert, NID_basic_constraints, nullptr, nullptr)));
    return constraints && constraints->ca != 0;
}

CertificateInfo inspect(X509* cert) {
    CertificateInfo info;
    const X509_NAME* subject = X509_get_subject_name(cert);
    const auto common_names = name_entries(subject, NID_commonName);
    if (!common_names.empty()) info.common_name = common_names.front();
    info.organizations = name_entries(subject, NID_organizationName);
    read_subject_alt_names(cert, info);
    read_extended_key_usages(cert, info);
    read_key_usage(cert, info);
    info.is_ca = basic_constraints_ca(cert);
    info.not_before = to_time_point(X509_get0_notBefore(cert));
    info.not_after = to_time_point(X509_get0_notAfter(cert));
    ERR_clear_error();  // X509_get_ext_d2i leaves entries for absent extensions
    return info;
}

// ---- renewal decisions ----------------------------------------------------------------

std::set<std::string> dns_set(const std::vector<std::string>& names) {
    std::set<std::string> set;
    for (const auto& name : names)
        set.insert(lower(name));
    return set;
}

std::set<std::string> requested_ip_set(const std::vector<std::string>& addresses) {
    std::set<std::string> set;
    for (const auto& address : addresses)
        set.insert(canonical_ip(address));
    return set;
}

std::multiset<std::string> bag(const std::vector<std::string>& values) {
    return {values.begin(), values.end()};
}

// The certificate carries exactly what `spec` asks for, so a name that was dropped from the
// spec (an old node IP) is also dropped from the certificate.
bool matches_spec(const CertificateInfo& info, const CertificateSpec& spec) {
    std::vector<std::string> expected_usages = expected_extended_key_usages(spec.usage);
    std::vector<std::string> usages = info.extended_key_usages;
    std::ranges::sort(usages);
    return info.common_name == spec.common_name &&
           bag(info.organizations) == bag(spec.organizations) &&
           dns_set(info.dns_names) == dns_set(spec.dns_names) &&
           std::set<std::string>(info.ip_addresses.begin(), info.ip_addresses.end()) ==
               requested_ip_set(spec.ip_addresses) &&
           usages == expected_usages;
}

bool within_validity(const CertificateInfo& info) {
    const auto now = Clock::now();
    return info.not_before <= now && now + kRenewBefore < info.not_after;
}

void write_pair(const CertificateAuthority::Issued& issued, const stdfs::path& cert_file,
                const stdfs::path& key_file) {
    // The key first: a reader that finds the new certificate also finds its key.
    fs::write_file_atomic(key_file, issued.key_pem, kPrivateMode);
    fs::write_file_atomic(cert_file, issued.cert_pem, kPublicMode);
}

bool is_p256(EVP_PKEY* key) {
    char group[64] = {};
    size_t length = 0;
    const bool ec = EVP_PKEY_is_a(key, "EC") == 1 &&
                    EVP_PKEY_get_group_name(key, group, sizeof group, &length) == 1;
    ERR_clear_error();
    return ec && std::string_view(group, length) == "prime256v1";
}

void write_if_different(const stdfs::path& file, const std::string& content, mode_t mode) {
    if (present(file) && fs::read_file(file) == content) return;
    fs::write_file_atomic(file, content, mode);
}

std::vector<std::string> with_defaults(std::vector<std::string> values,
                                       const std::vector<std::string>& defaults) {
    for (const auto& value : defaults)
        append_unique(values, value);
    return values;
}

}  // namespace

// ---- CertificateAuthority -------------------------------------------------------------

namespace {

// Everything the CA holds; Impl is this, kept here so the helpers below can fill it.
struct CaState {
    stdfs::path cert_file;
    stdfs::path key_file;
    std::string cert_pem;
    CertPtr cert;
    KeyPtr key;
};

void create_ca(CaState& ca, const std::string& common_name) {
    auto key = generate_key();
    auto subject = make_subject(common_name, {});
    const auto now = Clock::now();
    auto cert = new_certificate(subject.get(), subject.get(), key.get(),
                                {now - kClockSkew, now + kCaValidity});
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, cert.get(), cert.get(), nullptr, nullptr, 0);
    add_extension(cert.get(), &context, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), &context, NID_key_usage,
                  "critical,keyCertSign,cRLSign,digitalSignature");
    add_extension(cert.get(), &context, NID_subject_key_identifier, "hash");
    sign(cert.get(), key.get());

    ca.cert_pem = cert_to_pem(cert.get());
    // The key first: a crash in between leaves "ca.key without ca.crt", which load_or_create
    // reports instead of silently generating a CA that does not match the key.
    fs::write_file_atomic(ca.key_file, private_key_to_pem(key.get()), kPrivateMode);
    fs::write_file_atomic(ca.cert_file, ca.cert_pem, kPublicMode);
    ca.cert = std::move(cert);
    ca.key = std::move(key);
}

void load_ca(CaState& ca) {
    ca.cert_pem = fs::read_file(ca.cert_file);
    ca.cert = parse_cert(ca.cert_pem, ca.cert_file.string());
    ca.key = load_private_key(ca.key_file);
    if (X509_check_ca(ca.cert.get()) == 0) {
        throw Error(ExitCode::kState, "PKI_CORRUPT_CERT",
                    ca.cert_file.string() + " is not a CA certificate",
                    move_aside_advice(ca.cert_file.string()));
    }
    if (!key_matches_cert(ca.cert.get(), ca.key.get())) {
        throw_key_mismatch(ca.cert_file, ca.key_file);
    }
    const auto not_after = to_time_point(X509_get0_notAfter(ca.cert.get()));
    if (not_after <= Clock::now()) {
        const auto seconds = Clock::to_time_t(not_after);
        std::tm tm{};
        ::gmtime_r(&seconds, &tm);
        char date[32];
        std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm);
        throw Error(ExitCode::kState, "PKI_CA_EXPIRED",
                    "the CA certificate " + ca.cert_file.string() + " expired on " + date,
                    "Move " + ca.cert_file.string() + " and " + ca.key_file.string() +
                        " aside and run the command again: a new CA is created and every "
                        "certificate signed by the old one is re-issued.");
    }
}

[[noreturn]] void throw_incomplete_ca(const stdfs::path& missing, const stdfs::path& present) {
    throw Error(ExitCode::kState, "PKI_INCOMPLETE_CA",
                "the CA is incomplete: " + present.string() + " exists but " + missing.string() +
                    " does not",
                "Restore " + missing.string() + " from a backup, or move " + present.string() +
                    " aside and run the command again to create a new CA.");
}

}  // namespace

struct CertificateAuthority::Impl : CaState {};

CertificateAuthority::CertificateAuthority(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CertificateAuthority::~CertificateAuthority() = default;
CertificateAuthority::CertificateAuthority(CertificateAuthority&&) noexcept = default;
CertificateAuthority& CertificateAuthority::operator=(CertificateAuthority&&) noexcept = default;

CertificateAuthority CertificateAuthority::load_or_create(const stdfs::path& dir,
                                                          const std::string& common_name) {
    auto impl = std::make_unique<Impl>();
    impl->cert_file = dir / "ca.crt";
    impl->key_file = dir / "ca.key";
    bool have_cert = present(impl->cert_file);
    bool have_key = present(impl->key_file);
    if (!have_cert && !have_key) {
        // Profiles share the CA, so two `kcube start` may race to create it.
        fs::ensure_dir(dir, 0700);
        fs::FileLock lock(dir / "ca");
        have_cert = present(impl->cert_file);
        have_key = present(impl->key_file);
        if (!have_cert && !have_key) {
            create_ca(*impl, common_name);
            return CertificateAuthority(std::move(impl));
        }
    }
    if (!have_cert) throw_incomplete_ca(impl->cert_file, impl->key_file);
    if (!have_key) throw_incomplete_ca(impl->key_file, impl->cert_file);
    load_ca(*impl);
    return CertificateAuthority(std::move(impl));
}

const stdfs::path& CertificateAuthority::cert_file() const {
    return impl_->cert_file;
}
const stdfs::path& CertificateAuthority::key_file() const {
    return impl_->key_file;
}
std::string CertificateAuthority::cert_pem() const {
    return impl_->cert_pem;
}

CertificateAuthority::Issued CertificateAuthority::issue(const CertificateSpec& spec) const {
    auto key = generate_key();
    auto subject = make_subject(spec.common_name, spec.organizations);
    const auto now = Clock::now();
    // A certificate cannot be trusted past its CA, so claiming more would only mislead.
    const auto ca_not_after = to_time_point(X509_get0_notAfter(impl_->cert.get()));
    const Validity validity{now - kClockSkew,
                            std::min<Clock::time_point>(now + spec.validity, ca_not_after)};
    auto cert = new_certificate(subject.get(), X509_get_subject_name(impl_->cert.get()), key.get(),
                                validity);
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, impl_->cert.get(), cert.get(), nullptr, nullptr, 0);
    add_extension(cert.get(), &context, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), &context, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    add_extension(cert.get(), &context, NID_ext_key_usage, extended_key_usage(spec.usage));
    add_extension(cert.get(), &context, NID_subject_key_identifier, "hash");
    add_extension(cert.get(), &context, NID_authority_key_identifier, "keyid:always");
    add_subject_alt_names(cert.get(), spec.dns_names, spec.ip_addresses);
    sign(cert.get(), impl_->key.get());
    return Issued{cert_to_pem(cert.get()), private_key_to_pem(key.get())};
}

namespace {

bool issued_by(X509* ca, X509* cert) {
    // Names, key identifiers and the CA's keyUsage first; then the signature itself.
    const bool issued =
        X509_check_issued(ca, cert) == X509_V_OK && X509_verify(cert, X509_get0_pubkey(ca)) == 1;
    ERR_clear_error();
    return issued;
}

}  // namespace

bool CertificateAuthority::signed_this(const std::string& cert_pem) const {
    auto cert = parse_cert(cert_pem, "(PEM given to signed_this)");
    return issued_by(impl_->cert.get(), cert.get());
}

// ---- leaf certificates ----------------------------------------------------------------

bool ensure_certificate(const CertificateAuthority& ca, const stdfs::path& cert_file,
                        const stdfs::path& key_file, const CertificateSpec& spec) {
    const bool have_cert = present(cert_file);
    const bool have_key = present(key_file);
    if (have_cert && have_key) {
        const std::string cert_pem = fs::read_file(cert_file);
        auto cert = parse_cert(cert_pem, cert_file.string());
        auto key = load_private_key(key_file);
        if (!key_matches_cert(cert.get(), key.get())) throw_key_mismatch(cert_file, key_file);
        const auto info = inspect(cert.get());
        if (ca.signed_this(cert_pem) && within_validity(info) && matches_spec(info, spec)) {
            return false;
        }
    } else if (have_cert) {
        load_cert(cert_file);  // only to refuse replacing a corrupt file
    } else if (have_key) {
        load_private_key(key_file);
    }
    write_pair(ca.issue(spec), cert_file, key_file);
    return true;
}

// ---- service-account signing keys -----------------------------------------------------

bool ensure_signing_key_pair(const stdfs::path& private_key_file,
                             const stdfs::path& public_key_file) {
    const bool have_private = present(private_key_file);
    const bool have_public = present(public_key_file);
    if (have_private) {
        auto key = load_private_key(private_key_file);
        if (!is_p256(key.get())) {
            throw Error(ExitCode::kState, "PKI_UNSUPPORTED_KEY",
                        private_key_file.string() +
                            " is not an ECDSA P-256 key (service-account tokens are ES256)",
                        move_aside_advice(private_key_file.string()));
        }
        if (have_public) {
            auto public_key =
                parse_public_key(fs::read_file(public_key_file), public_key_file.string());
            const bool same = EVP_PKEY_eq(key.get(), public_key.get()) == 1;
            ERR_clear_error();
            if (!same) throw_key_mismatch(public_key_file, private_key_file);
            return false;
        }
        // The public half is derived, so it is rebuilt rather than reported.
        fs::write_file_atomic(public_key_file, public_key_to_pem(key.get()), kPublicMode);
        return true;
    }
    if (have_public) {
        parse_public_key(fs::read_file(public_key_file), public_key_file.string());
    }
    auto key = generate_key();
    fs::write_file_atomic(private_key_file, private_key_to_pem(key.get()), kPrivateMode);
    fs::write_file_atomic(public_key_file, public_key_to_pem(key.get()), kPublicMode);
    return true;
}

// ---- inspection -----------------------------------------------------------------------

CertificateInfo inspect_certificate_pem(const std::string& pem, const std::string& origin) {
    auto cert = parse_cert(pem, origin);
    return inspect(cert.get());
}

CertificateInfo inspect_certificate(const stdfs::path& cert_file) {
    return inspect_certificate_pem(fs::read_file(cert_file), cert_file.string());
}

// ---- node files -----------------------------------------------------------------------

NodePkiFiles ensure_node_pki(const CertificateAuthority& ca, const stdfs::path& dir,
                             const NodePkiSpec& spec) {
    NodePkiFiles files;
    files.ca_cert = dir / "ca.crt";
    files.apiserver_cert = dir / "apiserver.crt";
    files.apiserver_key = dir / "apiserver.key";
    files.admin_cert = dir / "admin.crt";
    files.admin_key = dir / "admin.key";
    files.kubelet_cert = dir / "kubelet.crt";
    files.kubelet_key = dir / "kubelet.key";
    files.kubelet_client_cert = dir / "kubelet-client.crt";
    files.kubelet_client_key = dir / "kubelet-client.key";
    files.sa_key = dir / "sa.key";
    files.sa_pub = dir / "sa.pub";

    if (spec.node_name.empty()) {
        throw_invalid_name("an empty node name", "the kubelet's identity is system:node:<name>");
    }
    fs::ensure_dir(dir, 0700);
    write_if_different(files.ca_cert, ca.cert_pem(), kPublicMode);

    CertificateSpec apiserver;
    apiserver.common_name = "kube-apiserver";
    apiserver.usage = Usage::kServer;
    apiserver.ip_addresses = with_defaults(spec.ip_addresses, {"10.96.0.1", "127.0.0.1"});
    std::vector<std::string> apiserver_names = {"kubernetes",
                                                "kubernetes.default",
                                                "kubernetes.default.svc",
                                                "kubernetes.default.svc.cluster.local",
                                                "localhost",
                                                spec.node_name};
    apiserver.dns_names = with_defaults(spec.dns_names, apiserver_names);
    ensure_certificate(ca, files.apiserver_cert, files.apiserver_key, apiserver);

    CertificateSpec admin;
    admin.common_name = "kcube-admin";
    admin.organizations = {"system:masters"};
    admin.usage = Usage::kClient;
    ensure_certificate(ca, files.admin_cert, files.admin_key, admin);

    CertificateSpec kubelet;
    kubelet.common_name = "system:node:" + spec.node_name;
    kubelet.organizations = {"system:nodes"};
    kubelet.usage = Usage::kServer;
    kubelet.dns_names = with_defaults({spec.node_name}, {"localhost"});
    kubelet.ip_addresses = with_defaults(spec.ip_addresses, {"127.0.0.1"});
    ensure_certificate(ca, files.kubelet_cert, files.kubelet_key, kubelet);

    CertificateSpec kubelet_client;
    kubelet_client.common_name = "kube-apiserver-kubelet-client";
    kubelet_client.organizations = {"system:masters"};
    kubelet_client.usage = Usage::kClient;
    ensure_certificate(ca, files.kubelet_client_cert, files.kubelet_client_key, kubelet_client);

    ensure_signing_key_pair(files.sa_key, files.sa_pub);
    return files;
}

}  // namespace kcube::pki
