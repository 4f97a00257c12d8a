#include "bootstrap/pki.hpp"

#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/fs.hpp"
#include "test_support.hpp"

using kcube::Error;
using kcube::ExitCode;
using kcube::pki::CertificateAuthority;
using kcube::pki::CertificateInfo;
using kcube::pki::CertificateSpec;
using kcube::pki::Usage;
using kcube::testing::TempDir;
namespace fs = kcube::fs;
namespace stdfs = std::filesystem;
using Clock = std::chrono::system_clock;
using namespace std::chrono_literals;

namespace {

// ---- helpers ------------------------------------------------------------------------------

kcube::testing::RunResult openssl(std::vector<std::string> args) {
    args.insert(args.begin(), "openssl");
    return kcube::testing::run(args);
}

std::string x509_text(const stdfs::path& cert) {
    const auto result = openssl({"x509", "-in", cert.string(), "-noout", "-text"});
    REQUIRE_MESSAGE(result.exit_code == 0, result.err);
    return result.out;
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

bool has(const std::vector<std::string>& values, const std::string& value) {
    return std::ranges::find(values, value) != values.end();
}

// `openssl verify` with RFC 5280 strictness and, optionally, a TLS purpose.
kcube::testing::RunResult verify(const stdfs::path& ca_cert, const stdfs::path& cert,
                                 const std::string& purpose = {},
                                 const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"verify", "-x509_strict", "-CAfile", ca_cert.string()};
    if (!purpose.empty()) {
        args.push_back("-purpose");
        args.push_back(purpose);
    }
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(cert.string());
    return openssl(args);
}

void check_verifies(const stdfs::path& ca_cert, const stdfs::path& cert,
                    const std::string& purpose = {}) {
    const auto result = verify(ca_cert, cert, purpose);
    INFO(cert.string(), " purpose ", purpose, ": ", result.out, result.err);
    CHECK(result.exit_code == 0);
    CHECK(contains(result.out, ": OK"));
}

void check_does_not_verify(const stdfs::path& ca_cert, const stdfs::path& cert,
                           const std::string& purpose = {}) {
    const auto result = verify(ca_cert, cert, purpose);
    INFO(cert.string(), " purpose ", purpose, ": ", result.out, result.err);
    CHECK(result.exit_code != 0);
}

// The public key in a certificate and the one derived from a private key, as PEM.
void check_key_matches_cert(const stdfs::path& cert, const stdfs::path& key) {
    const auto from_cert = openssl({"x509", "-in", cert.string(), "-noout", "-pubkey"});
    const auto from_key = openssl({"pkey", "-in", key.string(), "-pubout"});
    REQUIRE_MESSAGE(from_cert.exit_code == 0, from_cert.err);
    REQUIRE_MESSAGE(from_key.exit_code == 0, from_key.err);
    CHECK(contains(from_cert.out, "BEGIN PUBLIC KEY"));
    CHECK(from_cert.out == from_key.out);
}

mode_t mode_of(const stdfs::path& file) {
    struct stat st {};
    REQUIRE(::stat(file.c_str(), &st) == 0);
    return st.st_mode & 0777;
}

// Runs `action` and returns the kcube::Error it throws; any other outcome fails the test.
template <class Action>
Error error_from(Action&& action) {
    try {
        action();
    } catch (const Error& e) {
        return e;
    }
    throw std::logic_error("expected a kcube::Error, but nothing was thrown");
}

void check_error(const Error& e, ExitCode code, const std::string& reason,
                 const std::string& mentions) {
    INFO("what(): ", e.what(), " advice: ", e.advice());
    CHECK(e.exit_code() == code);
    CHECK(e.reason() == reason);
    CHECK(contains(e.what(), mentions));
    CHECK_FALSE(e.advice().empty());
}

std::chrono::seconds distance(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration_cast<std::chrono::seconds>(a > b ? a - b : b - a);
}

std::string serial_of(const stdfs::path& cert) {
    return openssl({"x509", "-in", cert.string(), "-noout", "-serial"}).out;
}

const std::string kGarbage = "this is not PEM\n\x01\x02\x03 garbage\n";

// Rewrites the validity of `cert_file` and re-signs it with `key_file`, for dates the API
// cannot produce (an expired CA). Uses OpenSSL directly; kcube has no reason to do this.
void resign_with_dates(const stdfs::path& cert_file, const stdfs::path& key_file,
                       Clock::time_point not_before, Clock::time_point not_after) {
    const std::string cert_pem = fs::read_file(cert_file);
    const std::string key_pem = fs::read_file(key_file);
    std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(
        BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())), BIO_free);
    std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(
        BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())), BIO_free);
    std::unique_ptr<X509, decltype(&X509_free)> cert(
        PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr), X509_free);
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
        PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
    REQUIRE(cert);
    REQUIRE(key);
    REQUIRE(ASN1_TIME_set(X509_getm_notBefore(cert.get()), Clock::to_time_t(not_before)));
    REQUIRE(ASN1_TIME_set(X509_getm_notAfter(cert.get()), Clock::to_time_t(not_after)));
    REQUIRE(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);
    std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), BIO_free);
    REQUIRE(PEM_write_bio_X509(out.get(), cert.get()) == 1);
    char* data = nullptr;
    const long size = BIO_get_mem_data(out.get(), &data);
    fs::write_file_atomic(cert_file, std::string(data, static_cast<size_t>(size)), 0644);
}

CertificateSpec server_spec() {
    CertificateSpec spec;
    spec.common_name = "web";
    spec.organizations = {"kcube"};
    spec.dns_names = {"web.test", "localhost"};
    spec.ip_addresses = {"192.168.49.2", "fd00::1"};
    spec.usage = Usage::kServer;
    return spec;
}

// A CA in a scratch directory, and a place for the certificates it issues.
struct CaFixture {
    TempDir tmp;
    CertificateAuthority ca = CertificateAuthority::load_or_create(tmp / "ca", "testCA");
    stdfs::path cert = tmp / "out/leaf.crt";
    stdfs::path key = tmp / "out/leaf.key";

    void write(const CertificateAuthority::Issued& issued) const {
        fs::write_file_atomic(cert, issued.cert_pem, 0644);
        fs::write_file_atomic(key, issued.key_pem, 0600);
    }
};

}  // namespace

// ---- the CA ------------------------------------------------------------------------------

TEST_CASE("CA: created once with CA extensions, 0600 key, then reused byte for byte") {
    TempDir tmp;
    const auto dir = tmp / "certs/nested";  // missing parents are created
    auto ca = CertificateAuthority::load_or_create(dir, "myCA");
    CHECK(ca.cert_file() == dir / "ca.crt");
    CHECK(ca.key_file() == dir / "ca.key");
    CHECK(mode_of(ca.key_file()) == 0600);
    CHECK(mode_of(ca.cert_file()) == 0644);
    const std::string cert_bytes = fs::read_file(ca.cert_file());
    const std::string key_bytes = fs::read_file(ca.key_file());
    CHECK(ca.cert_pem() == cert_bytes);
    CHECK(contains(key_bytes, "-----BEGIN PRIVATE KEY-----"));
    CHECK_FALSE(stdfs::exists(dir / "ca.lock"));

    const CertificateInfo info = kcube::pki::inspect_certificate(ca.cert_file());
    CHECK(info.common_name == "myCA");
    CHECK(info.is_ca);
    CHECK(info.key_cert_sign);
    CHECK(info.digital_signature);
    CHECK(info.extended_key_usages.empty());
    const auto now = Clock::now();
    CHECK(distance(info.not_before, now - 1h) < 5min);
    CHECK(distance(info.not_after, now + std::chrono::days(3650)) < 5min);

    const std::string text = x509_text(ca.cert_file());
    CHECK(contains(text, "X509v3 Basic Constraints: critical"));
    CHECK(contains(text, "CA:TRUE"));
    CHECK(contains(text, "X509v3 Key Usage: critical"));
    CHECK(contains(text, "Digital Signature, Certificate Sign, CRL Sign"));
    CHECK(contains(text, "X509v3 Subject Key Identifier"));
    CHECK(contains(text, "ecdsa-with-SHA256"));
    CHECK(contains(text, "NIST CURVE: P-256"));
    CHECK(contains(text, "Subject: CN = myCA"));
    check_verifies(ca.cert_file(), ca.cert_file());
    check_key_matches_cert(ca.cert_file(), ca.key_file());

    auto again = CertificateAuthority::load_or_create(dir, "ignoredWhenLoading");
    CHECK(fs::read_file(dir / "ca.crt") == cert_bytes);
    CHECK(fs::read_file(dir / "ca.key") == key_bytes);
    CHECK(again.cert_pem() == cert_bytes);
    CHECK(kcube::pki::inspect_certificate_pem(again.cert_pem(), "again").common_name == "myCA");
}

TEST_CASE("CA: a loaded CA issues certificates that verify against the original ca.crt") {
    TempDir tmp;
    const auto first = CertificateAuthority::load_or_create(tmp / "ca");
    const auto loaded = CertificateAuthority::load_or_create(tmp / "ca");
    const auto issued = loaded.issue(server_spec());
    fs::write_file_atomic(tmp / "leaf.crt", issued.cert_pem, 0644);
    check_verifies(first.cert_file(), tmp / "leaf.crt", "sslserver");
    CHECK(first.signed_this(issued.cert_pem));
    CHECK(kcube::pki::inspect_certificate_pem(first.cert_pem(), "ca").common_name == "kcubeCA");
}

TEST_CASE("CA: moving keeps it usable") {
    TempDir tmp;
    auto ca = CertificateAuthority::load_or_create(tmp / "ca");
    const std::string pem = ca.cert_pem();
    CertificateAuthority moved = std::move(ca);
    CHECK(moved.cert_pem() == pem);
    auto other = CertificateAuthority::load_or_create(tmp / "other");
    other = std::move(moved);
    CHECK(other.cert_pem() == pem);
    CHECK(other.signed_this(other.issue(server_spec()).cert_pem));
}

TEST_CASE("CA: only one of ca.crt and ca.key present is an error and nothing is written") {
    TempDir tmp;
    const auto dir = tmp / "ca";
    { CertificateAuthority::load_or_create(dir); }
    const std::string cert_bytes = fs::read_file(dir / "ca.crt");
    const std::string key_bytes = fs::read_file(dir / "ca.key");

    SUBCASE("only ca.crt") {
        stdfs::remove(dir / "ca.key");
        const Error e = error_from([&] { CertificateAuthority::load_or_create(dir); });
        check_error(e, ExitCode::kState, "PKI_INCOMPLETE_CA", (dir / "ca.key").string());
        CHECK_FALSE(stdfs::exists(dir / "ca.key"));
        CHECK(fs::read_file(dir / "ca.crt") == cert_bytes);
    }
    SUBCASE("only ca.key") {
        stdfs::remove(dir / "ca.crt");
        const Error e = error_from([&] { CertificateAuthority::load_or_create(dir); });
        check_error(e, ExitCode::kState, "PKI_INCOMPLETE_CA", (dir / "ca.crt").string());
        CHECK_FALSE(stdfs::exists(dir / "ca.crt"));
        CHECK(fs::read_file(dir / "ca.key") == key_bytes);
    }
}

TEST_CASE("CA: a corrupt ca.crt or ca.key is reported by name and left in place") {
    TempDir tmp;
    const auto dir = tmp / "ca";
    { CertificateAuthority::load_or_create(dir); }
    const std::string cert_bytes = fs::read_file(dir / "ca.crt");
    const std::string key_bytes = fs::read_file(dir / "ca.key");

    SUBCASE("corrupt certificate") {
        fs::write_file_atomic(dir / "ca.crt", kGarbage, 0644);
        const Error e = error_from([&] { CertificateAuthority::load_or_create(dir); });
        check_error(e, ExitCode::kState, "PKI_CORRUPT_CERT", (dir / "ca.crt").string());
        CHECK(contains(e.what(), "no start line"));  // OpenSSL's own reason
        CHECK(contains(e.advice(), (dir / "ca.crt").string()));
        CHECK(fs::read_file(dir / "ca.crt") == kGarbage);
        CHECK(fs::read_file(dir / "ca.key") == key_bytes);
    }
    SUBCASE("truncated certificate") {
        fs::write_file_atomic(dir / "ca.crt", cert_bytes.substr(0, cert_bytes.size() / 2), 0644);
        const Error e = error_from([&] { CertificateAuthority::load_or_create(dir); });
        check_error(e, ExitCode::kState, "PKI_CORRUPT_CERT", (dir / "ca.crt").string());
    }
    SUBCASE("corrupt key") {
        fs::write_file_atomic(dir / "ca.key", kGarbage, 0600);
        const Error e = error_from([&] { CertificateAuthority::load_or_create(dir); });
        check_error(e, ExitCode::kState, "PKI_CORRUPT_KEY", (dir / "ca.key").string());
        CHECK(fs::read_file(dir / "ca.key") == kGarbage);
        CHECK(fs::read_file(dir / "ca.crt") == cert_bytes);
    }
}

TEST_CASE("CA: a key that does not belong to ca.crt is PKI_KEY_MISMATCH") {
    TempDir tmp;
    { CertificateAuthority::load_or_create(tmp / "a"); }
    { CertificateAuthority::load_or_create(tmp / "b"); }
    const std::string foreign_key = fs::read_file(tmp / "b/ca.key");
    fs::write_file_atomic(tmp / "a/ca.key", foreign_key, 0600);
    const Error e = error_from([&] { CertificateAuthority::load_or_create(tmp / "a"); });
    check_error(e, ExitCode::kState, "PKI_KEY_MISMATCH", (tmp / "a/ca.key").string());
    CHECK(contains(e.what(), (tmp / "a/ca.crt").string()));
    CHECK(fs::read_file(tmp / "a/ca.key") == foreign_key);
}

TEST_CASE("CA: a certificate that is not a CA is refused as ca.crt") {
    CaFixture f;
    f.write(f.ca.issue(server_spec()));
    fs::write_file_atomic(f.tmp / "fake/ca.crt", fs::read_file(f.cert), 0644);
    fs::write_file_atomic(f.tmp / "fake/ca.key", fs::read_file(f.key), 0600);
    const Error e = error_from([&] { CertificateAuthority::load_or_create(f.tmp / "fake"); });
    check_error(e, ExitCode::kState, "PKI_CORRUPT_CERT", (f.tmp / "fake/ca.crt").string());
    CHECK(contains(e.what(), "not a CA"));
}

TEST_CASE("CA: an expired CA is reported, not replaced") {
    TempDir tmp;
    const auto dir = tmp / "ca";
    { CertificateAuthority::load_or_create(dir); }
    const auto now = Clock::now();
    resign_with_dates(dir / "ca.crt", dir / "ca.key", now - std::chrono::days(400),
                      now - std::chrono::days(1));
    const std::string expired = fs::read_file(dir / "ca.crt");
    const Error e = error_from([&] { CertificateAuthority::load_or_create(dir); });
    check_error(e, ExitCode::kState, "PKI_CA_EXPIRED", (dir / "ca.crt").string());
    CHECK(fs::read_file(dir / "ca.crt") == expired);
}

TEST_CASE("CA: an unreadable ca.key is an error, not a reason to make a new CA") {
    TempDir tmp;
    const auto dir = tmp / "ca";
    { CertificateAuthority::load_or_create(dir); }
    const std::string cert_bytes = fs::read_file(dir / "ca.crt");
    // A directory in place of the key cannot be read, even by root.
    stdfs::remove(dir / "ca.key");
    stdfs::create_directory(dir / "ca.key");
    const Error e = error_from([&] { CertificateAuthority::load_or_create(dir); });
    CHECK(contains(e.what(), (dir / "ca.key").string()));
    CHECK(stdfs::is_directory(dir / "ca.key"));
    CHECK(fs::read_file(dir / "ca.crt") == cert_bytes);
}

// ---- issuing ------------------------------------------------------------------------------

TEST_CASE("issue: a server certificate carries the requested names, usages and validity") {
    CaFixture f;
    CertificateSpec spec = server_spec();
    spec.validity = std::chrono::days(100);
    f.write(f.ca.issue(spec));

    const CertificateInfo info = kcube::pki::inspect_certificate(f.cert);
    CHECK(info.common_name == "web");
    CHECK(info.organizations == std::vector<std::string>{"kcube"});
    CHECK(info.dns_names == std::vector<std::string>{"web.test", "localhost"});
    CHECK(info.ip_addresses == std::vector<std::string>{"192.168.49.2", "fd00::1"});
    CHECK(info.extended_key_usages == std::vector<std::string>{"serverAuth"});
    CHECK(info.digital_signature);
    CHECK(info.key_encipherment);
    CHECK_FALSE(info.key_cert_sign);
    CHECK_FALSE(info.is_ca);
    const auto now = Clock::now();
    CHECK(distance(info.not_before, now - 1h) < 5min);  // clock skew allowance
    CHECK(distance(info.not_after, now + std::chrono::days(100)) < 5min);

    const std::string text = x509_text(f.cert);
    CHECK(contains(text, "DNS:web.test"));
    CHECK(contains(text, "DNS:localhost"));
    CHECK(contains(text, "IP Address:192.168.49.2"));
    CHECK(contains(text, "IP Address:FD00:0:0:0:0:0:0:1"));
    CHECK(contains(text, "TLS Web Server Authentication"));
    CHECK_FALSE(contains(text, "TLS Web Client Authentication"));
    CHECK(contains(text, "X509v3 Key Usage: critical"));
    CHECK(contains(text, "Digital Signature, Key Encipherment"));
    CHECK(contains(text, "CA:FALSE"));
    CHECK(contains(text, "X509v3 Authority Key Identifier"));
    CHECK(contains(text, "ecdsa-with-SHA256"));
    CHECK(contains(text, "NIST CURVE: P-256"));
    CHECK(contains(text, "Issuer: CN = testCA"));
    CHECK(contains(text, "Subject: O = kcube, CN = web"));
    CHECK(contains(text, "Version: 3 (0x2)"));

    check_verifies(f.ca.cert_file(), f.cert);
    check_verifies(f.ca.cert_file(), f.cert, "sslserver");
    check_does_not_verify(f.ca.cert_file(), f.cert, "sslclient");
    check_key_matches_cert(f.cert, f.key);
    CHECK(mode_of(f.key) == 0600);

    // The names really work for hostname and IP checks, IPv6 included.
    CHECK(
        verify(f.ca.cert_file(), f.cert, "sslserver", {"-verify_hostname", "web.test"}).exit_code ==
        0);
    CHECK(verify(f.ca.cert_file(), f.cert, "sslserver", {"-verify_ip", "fd00::1"}).exit_code == 0);
    CHECK(verify(f.ca.cert_file(), f.cert, "sslserver", {"-verify_hostname", "other.test"})
              .exit_code != 0);
}

TEST_CASE("issue: a client certificate with several organizations") {
    CaFixture f;
    CertificateSpec spec;
    spec.common_name = "kcube-admin";
    spec.organizations = {"system:masters", "team:ops"};
    spec.usage = Usage::kClient;
    const auto issued = f.ca.issue(spec);
    f.write(issued);
    CHECK(contains(issued.key_pem, "-----BEGIN PRIVATE KEY-----"));

    const CertificateInfo info = kcube::pki::inspect_certificate_pem(issued.cert_pem, "memory");
    CHECK(info.common_name == "kcube-admin");
    CHECK(info.organizations == std::vector<std::string>{"system:masters", "team:ops"});
    CHECK(info.extended_key_usages == std::vector<std::string>{"clientAuth"});
    CHECK(info.dns_names.empty());
    CHECK(info.ip_addresses.empty());

    const std::string text = x509_text(f.cert);
    CHECK(contains(text, "O = system:masters, O = team:ops, CN = kcube-admin"));
    CHECK(contains(text, "TLS Web Client Authentication"));
    CHECK_FALSE(contains(text, "Subject Alternative Name"));
    check_verifies(f.ca.cert_file(), f.cert, "sslclient");
    check_does_not_verify(f.ca.cert_file(), f.cert, "sslserver");
}

TEST_CASE("issue: server-and-client usage passes both purposes") {
    CaFixture f;
    CertificateSpec spec = server_spec();
    spec.usage = Usage::kServerAndClient;
    f.write(f.ca.issue(spec));
    const auto info = kcube::pki::inspect_certificate(f.cert);
    CHECK(has(info.extended_key_usages, "serverAuth"));
    CHECK(has(info.extended_key_usages, "clientAuth"));
    CHECK(info.extended_key_usages.size() == 2);
    check_verifies(f.ca.cert_file(), f.cert, "sslserver");
    check_verifies(f.ca.cert_file(), f.cert, "sslclient");
}

TEST_CASE("issue: serial numbers are random, positive and 128-bit sized; keys are fresh") {
    CaFixture f;
    const auto first = f.ca.issue(server_spec());
    const auto second = f.ca.issue(server_spec());
    CHECK(first.key_pem != second.key_pem);
    fs::write_file_atomic(f.tmp / "1.crt", first.cert_pem, 0644);
    fs::write_file_atomic(f.tmp / "2.crt", second.cert_pem, 0644);
    const std::string serial1 = serial_of(f.tmp / "1.crt");
    const std::string serial2 = serial_of(f.tmp / "2.crt");
    REQUIRE(serial1.rfind("serial=", 0) == 0);
    CHECK(serial1 != serial2);
    // "serial=" + hex digits + newline; leading zero bytes are dropped, so allow a little slack.
    const auto digits = serial1.size() - std::string("serial=\n").size();
    CHECK(digits >= 24);
    CHECK(digits <= 32);
    // A negative serial would be printed with a leading '-'.
    CHECK(serial1.find('-') == std::string::npos);
}

TEST_CASE("issue: validity is capped at the CA's own expiry") {
    CaFixture f;
    CertificateSpec spec = server_spec();
    spec.validity = std::chrono::days(20 * 365);
    const auto leaf = kcube::pki::inspect_certificate_pem(f.ca.issue(spec).cert_pem, "leaf");
    const auto root = kcube::pki::inspect_certificate(f.ca.cert_file());
    CHECK(leaf.not_after <= root.not_after);
    CHECK(distance(leaf.not_after, root.not_after) < 1min);
}

TEST_CASE("issue: names repeated in another case or spelling are written once") {
    CaFixture f;
    CertificateSpec spec = server_spec();
    spec.dns_names = {"web.test", "WEB.test", "localhost"};
    spec.ip_addresses = {"fd00::1", "fd00:0:0::1", "10.0.0.1", "10.0.0.1"};
    const auto info = kcube::pki::inspect_certificate_pem(f.ca.issue(spec).cert_pem, "leaf");
    CHECK(info.dns_names == std::vector<std::string>{"web.test", "localhost"});
    CHECK(info.ip_addresses == std::vector<std::string>{"fd00::1", "10.0.0.1"});
}

TEST_CASE("issue: invalid names are usage errors") {
    CaFixture f;
    SUBCASE("not an IP address") {
        CertificateSpec spec = server_spec();
        spec.ip_addresses = {"10.0.0.300"};
        const Error e = error_from([&] { f.ca.issue(spec); });
        check_error(e, ExitCode::kUsage, "PKI_INVALID_NAME", "10.0.0.300");
    }
    SUBCASE("empty DNS name") {
        CertificateSpec spec = server_spec();
        spec.dns_names = {""};
        const Error e = error_from([&] { f.ca.issue(spec); });
        check_error(e, ExitCode::kUsage, "PKI_INVALID_NAME", "DNS");
    }
    SUBCASE("common name longer than X.509 allows") {
        CertificateSpec spec = server_spec();
        spec.common_name = std::string(65, 'n');
        const Error e = error_from([&] { f.ca.issue(spec); });
        check_error(e, ExitCode::kUsage, "PKI_INVALID_NAME", "CN=");
    }
}

TEST_CASE("signed_this: true for this CA's certificates only; garbage is an error") {
    CaFixture f;
    TempDir other_dir;
    const auto other = CertificateAuthority::load_or_create(other_dir.path(), "testCA");
    const auto mine = f.ca.issue(server_spec());
    const auto theirs = other.issue(server_spec());  // same issuer name, different key
    CHECK(f.ca.signed_this(mine.cert_pem));
    CHECK_FALSE(f.ca.signed_this(theirs.cert_pem));
    CHECK(other.signed_this(theirs.cert_pem));
    CHECK(f.ca.signed_this(f.ca.cert_pem()));
    CHECK_FALSE(f.ca.signed_this(other.cert_pem()));
    const Error e = error_from([&] { f.ca.signed_this(kGarbage); });
    CHECK(e.reason() == "PKI_CORRUPT_CERT");
}

// ---- inspect ------------------------------------------------------------------------------

TEST_CASE("inspect_certificate: garbage, a missing file and a key are errors naming the origin") {
    CaFixture f;
    Error e = error_from([&] { kcube::pki::inspect_certificate_pem(kGarbage, "my-origin"); });
    check_error(e, ExitCode::kState, "PKI_CORRUPT_CERT", "my-origin");

    e = error_from([&] { kcube::pki::inspect_certificate(f.tmp / "missing.crt"); });
    CHECK(e.exit_code() == ExitCode::kNotFound);
    CHECK(contains(e.what(), "missing.crt"));

    e = error_from([&] { kcube::pki::inspect_certificate(f.ca.key_file()); });
    check_error(e, ExitCode::kState, "PKI_CORRUPT_CERT", f.ca.key_file().string());
}

// ---- ensure_certificate ------------------------------------------------------------------

TEST_CASE("ensure_certificate: issues when absent, then leaves a valid pair alone") {
    CaFixture f;
    CHECK(kcube::pki::ensure_certificate(f.ca, f.cert, f.key, server_spec()));
    CHECK(mode_of(f.key) == 0600);
    CHECK(mode_of(f.cert) == 0644);
    check_verifies(f.ca.cert_file(), f.cert, "sslserver");
    check_key_matches_cert(f.cert, f.key);
    const std::string cert_bytes = fs::read_file(f.cert);
    const std::string key_bytes = fs::read_file(f.key);

    CHECK_FALSE(kcube::pki::ensure_certificate(f.ca, f.cert, f.key, server_spec()));
    CHECK(fs::read_file(f.cert) == cert_bytes);
    CHECK(fs::read_file(f.key) == key_bytes);

    // Same names in another order and spelling are still the same certificate.
    CertificateSpec reordered = server_spec();
    reordered.dns_names = {"LOCALHOST", "web.test", "web.test"};
    reordered.ip_addresses = {"fd00:0:0::1", "192.168.49.2"};
    CHECK_FALSE(kcube::pki::ensure_certificate(f.ca, f.cert, f.key, reordered));
    CHECK(fs::read_file(f.cert) == cert_bytes);
}

TEST_CASE("ensure_certificate: re-issues when the names or the usage change") {
    CaFixture f;
    REQUIRE(kcube::pki::ensure_certificate(f.ca, f.cert, f.key, server_spec()));
    const std::string original = fs::read_file(f.cert);
    CertificateSpec spec = server_spec();

    SUBCASE("a new DNS SAN") {
        spec.dns_names.push_back("new.test");
        CHECK(kcube::pki::ensure_certificate(f.ca, f.cert, f.key, spec));
        CHECK(has(kcube::pki::inspect_certificate(f.cert).dns_names, "new.test"));
        CHECK(contains(x509_text(f.cert), "DNS:new.test"));
    }
    SUBCASE("a new IP SAN") {
        spec.ip_addresses.push_back("10.0.0.7");
        CHECK(kcube::pki::ensure_certificate(f.ca, f.cert, f.key, spec));
        CHECK(has(kcube::pki::inspect_certificate(f.cert).ip_addresses, "10.0.0.7"));
        CHECK(contains(x509_text(f.cert), "IP Address:10.0.0.7"));
    }
    SUBCASE("an IP SAN dropped from the spec") {
        spec.ip_addresses = {"fd00::1"};
        CHECK(kcube::pki::ensure_certificate(f.ca, f.cert, f.key, spec));
        CHECK(kcube::pki::inspect_certificate(f.cert).ip_addresses ==
              std::vector<std::string>{"fd00::1"});
    }
    SUBCASE("another common name") {
        spec.common_name = "web2";
        CHECK(kcube::pki::ensure_certificate(f.ca, f.cert, f.key, spec));
        CHECK(kcube::pki::inspect_certificate(f.cert).common_name == "web2");
    }
    SUBCASE("another organization") {
        spec.organizations = {"kcube", "system:masters"};
        CHECK(kcube::pki::ensure_certificate(f.ca, f.cert, f.key, spec));
        CHECK(kcube::pki::inspect_certificate(f.cert).organizations ==
              std::vector<std::string>{"kcube", "system:masters"});
    }
    SUBCASE("another usage") {
        spec.usage = Usage::kServerAndClient;
        CHECK(kcube::pki::ensure_certificate(f.ca, f.cert, f.key, spec));
        check_verifies(f.ca.cert_file(), f.cert, "sslclient");
    }
    CHECK(fs::read_file(f.cert) != original);
    check_verifies(f.ca.cert_file(), f.cert, "sslserver");
    check_key_matches_cert(f.cert, f.key);
    CHECK_FALSE(kcube::pki::ensure_certificate(f.ca, f.cert, f.key, spec));
}

TEST_CASE("ensure_certificate: re-issues a certificate signed by another CA") {
    CaFixture f;
    TempDir other_dir;
    const auto other = CertificateAuthority::load_or_create(other_dir.path(), "testCA");
    f.write(other.issue(server_spec()));
    check_does_not_verify(f.ca.cert_file(), f.cert);

    CHECK(kcube::pki::ensure_certificate(f.ca, f.cert, f.key, server_spec()));
    CHECK(f.ca.signed_this(fs::read_file(f.cert)));
    check_verifies(f.ca.cert_file(), f.cert, "sslserver");
    check_key_matches_cert(f.cert, f.key);
}

TEST_CASE("ensure_certificate: renews within kRenewBefore of expiry, not before") {
    CaFixture f;
    CertificateSpec spec = server_spec();
    SUBCASE("expires in 10 days: renewed") {
        spec.validity = std::chrono::days(10);
        f.write(f.ca.issue(spec));
        spec.validity = CertificateSpec{}.validity;
        CHECK(kcube::pki::ensure_certificate(f.ca, f.cert, f.key, spec));
        const auto info = kcube::pki::inspect_certificate(f.cert);
        CHECK(info.not_after > Clock::now() + std::chrono::days(3 * 365 - 2));
        check_key_matches_cert(f.cert, f.key);
    }
    SUBCASE("expires in 60 days: kept") {
        spec.validity = std::chrono::days(60);
        f.write(f.ca.issue(spec));
        const std::string bytes = fs::read_file(f.cert);
        CHECK_FALSE(kcube::pki::ensure_certificate(f.ca, f.cert, f.key, spec));
        CHECK(fs::read_file(f.cert) == bytes);
    }
    SUBCASE("already expired: renewed") {
        f.write(f.ca.issue(spec));
        const auto now = Clock::now();
        resign_with_dates(f.cert, f.ca.key_file(), now - std::chrono::days(30),
                          now - std::chrono::days(1));
        CHECK(kcube::pki::ensure_certificate(f.ca, f.cert, f.key, spec));
        check_verifies(f.ca.cert_file(), f.cert);
    }
}

TEST_CASE("ensure_certificate: a corrupt certificate is PKI_CORRUPT_CERT and stays as it is") {
    CaFixture f;
    REQUIRE(kcube::pki::ensure_certificate(f.ca, f.cert, f.key, server_spec()));
    const std::string key_bytes = fs::read_file(f.key);
    fs::write_file_atomic(f.cert, kGarbage, 0644);

    const Error e =
        error_from([&] { kcube::pki::ensure_certificate(f.ca, f.cert, f.key, server_spec()); });
    check_error(e, ExitCode::kState, "PKI_CORRUPT_CERT", f.cert.string());
    CHECK(fs::read_file(f.cert) == kGarbage);
    CHECK(fs::read_file(f.key) == key_bytes);

    SUBCASE("also when the key is missing") {
        stdfs::remove(f.key);
        const Error again =
            error_from([&] { kcube::pki::ensure_certificate(f.ca, f.cert, f.key, server_spec()); });
        check_error(again, ExitCode::kState, "PKI_CORRUPT_CERT", f.cert.string());
        CHECK(fs::read_file(f.cert) == kGarbage);
        CHECK_FALSE(stdfs::exists(f.key));
    }
}

TEST_CASE("ensure_certificate: a corrupt key is PKI_CORRUPT_KEY and stays as it is") {
    CaFixture f;
    REQUIRE(kcube::pki::ensure_certificate(f.ca, f.cert, f.key, server_spec()));
    const std::string cert_bytes = fs::read_file(f.cert);

    SUBCASE("garbage") {
        fs::write_file_atomic(f.key, kGarbage, 0600);
        const Error e =
            error_from([&] { kcube::pki::ensure_certificate(f.ca, f.cert, f.key, server_spec()); });
        check_error(e, ExitCode::kState, "PKI_CORRUPT_KEY", f.key.string());
        CHECK(fs::read_file(f.key) == kGarbage);
    }
    SUBCASE("garbage, certificate missing") {
        fs::write_file_atomic(f.key, kGarbage, 0600);
        stdfs::remove(f.cert);
        const Error e =
            error_from([&] { kcube::pki::ensure_certificate(f.ca, f.cert, f.key, server_spec()); });
        check_error(e, ExitCode::kState, "PKI_CORRUPT_KEY", f.key.string());
        CHECK_FALSE(stdfs::exists(f.cert));
        CHECK(fs::read_file(f.key) == kGarbage);
    }
    SUBCASE("an encrypted key is refused without prompting for a passphrase") {
        const auto result =
            openssl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                     "-aes256", "-pass", "pass:secret", "-out", f.key.string()});
        REQUIRE_MESSAGE(result.exit_code == 0, result.err);
        const std::string encrypted = fs::read_file(f.key);
        REQUIRE(contains(encrypted, "ENCRYPTED"));
        const Error e =
            error_from([&] { kcube::pki::ensure_certificate(f.ca, f.cert, f.key, server_spec()); });
        check_error(e, ExitCode::kState, "PKI_CORRUPT_KEY", f.key.string());
        CHECK(fs::read_file(f.key) == encrypted);
    }
    CHECK((!stdfs::exists(f.cert) || fs::read_file(f.cert) == cert_bytes));
}

TEST_CASE("ensure_certificate: a key that does not match the certificate names both files") {
    CaFixture f;
    REQUIRE(kcube::pki::ensure_certificate(f.ca, f.cert, f.key, server_spec()));
    const std::string cert_bytes = fs::read_file(f.cert);
    const std::string other_key = f.ca.issue(server_spec()).key_pem;
    fs::write_file_atomic(f.key, other_key, 0600);

    const Error e =
        error_from([&] { kcube::pki::ensure_certificate(f.ca, f.cert, f.key, server_spec()); });
    check_error(e, ExitCode::kState, "PKI_KEY_MISMATCH", f.cert.string());
    CHECK(contains(e.what(), f.key.string()));
    CHECK(fs::read_file(f.cert) == cert_bytes);
    CHECK(fs::read_file(f.key) == other_key);
}

TEST_CASE("ensure_certificate: half a pair is completed by issuing both") {
    CaFixture f;
    REQUIRE(kcube::pki::ensure_certificate(f.ca, f.cert, f.key, server_spec()));
    const std::string cert_bytes = fs::read_file(f.cert);
    const std::string key_bytes = fs::read_file(f.key);

    SUBCASE("key missing") {
        stdfs::remove(f.key);
    }
    SUBCASE("certificate missing") {
        stdfs::remove(f.cert);
    }

    CHECK(kcube::pki::ensure_certificate(f.ca, f.cert, f.key, server_spec()));
    CHECK(fs::read_file(f.cert) != cert_bytes);
    CHECK(fs::read_file(f.key) != key_bytes);
    CHECK(mode_of(f.key) == 0600);
    check_verifies(f.ca.cert_file(), f.cert, "sslserver");
    check_key_matches_cert(f.cert, f.key);
}

// ---- service-account signing keys --------------------------------------------------------

TEST_CASE("ensure_signing_key_pair: creates a P-256 pair, then reuses it") {
    TempDir tmp;
    const auto private_key = tmp / "pki/sa.key";
    const auto public_key = tmp / "pki/sa.pub";
    CHECK(kcube::pki::ensure_signing_key_pair(private_key, public_key));
    CHECK(mode_of(private_key) == 0600);
    CHECK(mode_of(public_key) == 0644);
    const std::string private_bytes = fs::read_file(private_key);
    const std::string public_bytes = fs::read_file(public_key);
    CHECK(contains(private_bytes, "-----BEGIN PRIVATE KEY-----"));
    CHECK(contains(public_bytes, "-----BEGIN PUBLIC KEY-----"));

    const auto text = openssl({"pkey", "-in", private_key.string(), "-noout", "-text"});
    CHECK(contains(text.out, "NIST CURVE: P-256"));
    const auto derived = openssl({"pkey", "-in", private_key.string(), "-pubout"});
    CHECK(derived.out == public_bytes);

    // What ES256 token signing will do: sign with the private key, verify with the public one.
    fs::write_file_atomic(tmp / "payload", "header.claims", 0644);
    auto signed_ = openssl({"dgst", "-sha256", "-sign", private_key.string(), "-out",
                            (tmp / "sig").string(), (tmp / "payload").string()});
    REQUIRE_MESSAGE(signed_.exit_code == 0, signed_.err);
    auto verified = openssl({"dgst", "-sha256", "-verify", public_key.string(), "-signature",
                             (tmp / "sig").string(), (tmp / "payload").string()});
    CHECK(contains(verified.out, "Verified OK"));

    CHECK_FALSE(kcube::pki::ensure_signing_key_pair(private_key, public_key));
    CHECK(fs::read_file(private_key) == private_bytes);
    CHECK(fs::read_file(public_key) == public_bytes);
}

TEST_CASE("ensure_signing_key_pair: rebuilds a missing public key from the private key") {
    TempDir tmp;
    const auto private_key = tmp / "sa.key";
    const auto public_key = tmp / "sa.pub";
    REQUIRE(kcube::pki::ensure_signing_key_pair(private_key, public_key));
    const std::string private_bytes = fs::read_file(private_key);
    const std::string public_bytes = fs::read_file(public_key);
    stdfs::remove(public_key);
    CHECK(kcube::pki::ensure_signing_key_pair(private_key, public_key));
    CHECK(fs::read_file(private_key) == private_bytes);
    CHECK(fs::read_file(public_key) == public_bytes);
    CHECK(mode_of(public_key) == 0644);
}

TEST_CASE("ensure_signing_key_pair: a lone public key is replaced by a new pair") {
    TempDir tmp;
    const auto private_key = tmp / "sa.key";
    const auto public_key = tmp / "sa.pub";
    REQUIRE(kcube::pki::ensure_signing_key_pair(private_key, public_key));
    const std::string old_public = fs::read_file(public_key);
    stdfs::remove(private_key);
    CHECK(kcube::pki::ensure_signing_key_pair(private_key, public_key));
    CHECK(fs::read_file(public_key) != old_public);
    CHECK(openssl({"pkey", "-in", private_key.string(), "-pubout"}).out ==
          fs::read_file(public_key));
}

TEST_CASE("ensure_signing_key_pair: corrupt, mismatched or foreign keys are errors") {
    TempDir tmp;
    const auto private_key = tmp / "sa.key";
    const auto public_key = tmp / "sa.pub";
    REQUIRE(kcube::pki::ensure_signing_key_pair(private_key, public_key));
    const std::string private_bytes = fs::read_file(private_key);
    const std::string public_bytes = fs::read_file(public_key);

    SUBCASE("corrupt private key") {
        fs::write_file_atomic(private_key, kGarbage, 0600);
        const Error e =
            error_from([&] { kcube::pki::ensure_signing_key_pair(private_key, public_key); });
        check_error(e, ExitCode::kState, "PKI_CORRUPT_KEY", private_key.string());
        CHECK(fs::read_file(private_key) == kGarbage);
        CHECK(fs::read_file(public_key) == public_bytes);
    }
    SUBCASE("corrupt public key") {
        fs::write_file_atomic(public_key, kGarbage, 0644);
        const Error e =
            error_from([&] { kcube::pki::ensure_signing_key_pair(private_key, public_key); });
        check_error(e, ExitCode::kState, "PKI_CORRUPT_KEY", public_key.string());
        CHECK(fs::read_file(public_key) == kGarbage);
        CHECK(fs::read_file(private_key) == private_bytes);
    }
    SUBCASE("corrupt public key without its private key") {
        fs::write_file_atomic(public_key, kGarbage, 0644);
        stdfs::remove(private_key);
        const Error e =
            error_from([&] { kcube::pki::ensure_signing_key_pair(private_key, public_key); });
        check_error(e, ExitCode::kState, "PKI_CORRUPT_KEY", public_key.string());
        CHECK_FALSE(stdfs::exists(private_key));
    }
    SUBCASE("public key of another pair") {
        TempDir other;
        REQUIRE(kcube::pki::ensure_signing_key_pair(other / "sa.key", other / "sa.pub"));
        const std::string foreign = fs::read_file(other / "sa.pub");
        fs::write_file_atomic(public_key, foreign, 0644);
        const Error e =
            error_from([&] { kcube::pki::ensure_signing_key_pair(private_key, public_key); });
        check_error(e, ExitCode::kState, "PKI_KEY_MISMATCH", public_key.string());
        CHECK(contains(e.what(), private_key.string()));
        CHECK(fs::read_file(public_key) == foreign);
    }
    SUBCASE("a private key that is not ECDSA P-256") {
        stdfs::remove(private_key);
        const auto result =
            openssl({"genpkey", "-algorithm", "ed25519", "-out", private_key.string()});
        REQUIRE_MESSAGE(result.exit_code == 0, result.err);
        const Error e =
            error_from([&] { kcube::pki::ensure_signing_key_pair(private_key, public_key); });
        check_error(e, ExitCode::kState, "PKI_UNSUPPORTED_KEY", private_key.string());
        CHECK(fs::read_file(public_key) == public_bytes);
    }
}

// ---- the node's files ---------------------------------------------------------------------

TEST_CASE("ensure_node_pki: writes every file, each certificate right for its job") {
    CaFixture f;
    const auto dir = f.tmp / "profiles/kcube/pki";
    kcube::pki::NodePkiSpec spec;
    spec.node_name = "kcube-node";
    spec.ip_addresses = {"192.168.49.2", "127.0.0.1", "fd00::2"};  // 127.0.0.1 is a default too
    spec.dns_names = {"api.kcube.test"};
    const auto files = kcube::pki::ensure_node_pki(f.ca, dir, spec);

    CHECK(files.ca_cert == dir / "ca.crt");
    CHECK(files.apiserver_cert == dir / "apiserver.crt");
    CHECK(files.apiserver_key == dir / "apiserver.key");
    CHECK(files.admin_cert == dir / "admin.crt");
    CHECK(files.admin_key == dir / "admin.key");
    CHECK(files.kubelet_cert == dir / "kubelet.crt");
    CHECK(files.kubelet_key == dir / "kubelet.key");
    CHECK(files.kubelet_client_cert == dir / "kubelet-client.crt");
    CHECK(files.kubelet_client_key == dir / "kubelet-client.key");
    CHECK(files.sa_key == dir / "sa.key");
    CHECK(files.sa_pub == dir / "sa.pub");
    CHECK(fs::read_file(files.ca_cert) == f.ca.cert_pem());
    for (const auto& key : {files.apiserver_key, files.admin_key, files.kubelet_key,
                            files.kubelet_client_key, files.sa_key}) {
        CAPTURE(key);
        CHECK(mode_of(key) == 0600);
    }
    for (const auto& pub : {files.ca_cert, files.apiserver_cert, files.admin_cert,
                            files.kubelet_cert, files.kubelet_client_cert, files.sa_pub}) {
        CAPTURE(pub);
        CHECK(mode_of(pub) == 0644);
    }
    check_key_matches_cert(files.apiserver_cert, files.apiserver_key);
    check_key_matches_cert(files.admin_cert, files.admin_key);
    check_key_matches_cert(files.kubelet_cert, files.kubelet_key);
    check_key_matches_cert(files.kubelet_client_cert, files.kubelet_client_key);
    CHECK(openssl({"pkey", "-in", files.sa_key.string(), "-pubout"}).out ==
          fs::read_file(files.sa_pub));

    SUBCASE("API server") {
        const auto info = kcube::pki::inspect_certificate(files.apiserver_cert);
        CHECK(info.common_name == "kube-apiserver");
        CHECK(info.extended_key_usages == std::vector<std::string>{"serverAuth"});
        for (const auto* ip : {"192.168.49.2", "127.0.0.1", "fd00::2", "10.96.0.1"}) {
            CAPTURE(ip);
            CHECK(has(info.ip_addresses, ip));
        }
        CHECK(info.ip_addresses.size() == 4);  // 127.0.0.1 only once
        for (const auto* name :
             {"api.kcube.test", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
              "kubernetes.default.svc.cluster.local", "localhost", "kcube-node"}) {
            CAPTURE(name);
            CHECK(has(info.dns_names, name));
        }
        CHECK(info.dns_names.size() == 7);
        const std::string text = x509_text(files.apiserver_cert);
        CHECK(contains(text, "IP Address:10.96.0.1"));
        CHECK(contains(text, "IP Address:127.0.0.1"));
        CHECK(contains(text, "DNS:kubernetes.default.svc.cluster.local"));
        check_verifies(files.ca_cert, files.apiserver_cert, "sslserver");
        CHECK(verify(files.ca_cert, files.apiserver_cert, "sslserver",
                     {"-verify_hostname", "kubernetes.default.svc"})
                  .exit_code == 0);
        CHECK(verify(files.ca_cert, files.apiserver_cert, "sslserver", {"-verify_ip", "10.96.0.1"})
                  .exit_code == 0);
    }
    SUBCASE("admin client") {
        const auto info = kcube::pki::inspect_certificate(files.admin_cert);
        CHECK(info.common_name == "kcube-admin");
        CHECK(info.organizations == std::vector<std::string>{"system:masters"});
        CHECK(info.extended_key_usages == std::vector<std::string>{"clientAuth"});
        const std::string text = x509_text(files.admin_cert);
        CHECK(contains(text, "O = system:masters"));
        CHECK(contains(text, "CN = kcube-admin"));
        check_verifies(files.ca_cert, files.admin_cert, "sslclient");
        check_does_not_verify(files.ca_cert, files.admin_cert, "sslserver");
    }
    SUBCASE("kubelet serving") {
        const auto info = kcube::pki::inspect_certificate(files.kubelet_cert);
        CHECK(info.common_name == "system:node:kcube-node");
        CHECK(info.organizations == std::vector<std::string>{"system:nodes"});
        CHECK(info.extended_key_usages == std::vector<std::string>{"serverAuth"});
        CHECK(has(info.dns_names, "kcube-node"));
        CHECK(has(info.dns_names, "localhost"));
        CHECK(has(info.ip_addresses, "192.168.49.2"));
        CHECK(has(info.ip_addresses, "127.0.0.1"));
        CHECK_FALSE(has(info.ip_addresses, "10.96.0.1"));
        CHECK(contains(x509_text(files.kubelet_cert), "O = system:nodes"));
        check_verifies(files.ca_cert, files.kubelet_cert, "sslserver");
        CHECK(verify(files.ca_cert, files.kubelet_cert, "sslserver",
                     {"-verify_hostname", "kcube-node"})
                  .exit_code == 0);
    }
    SUBCASE("API server's client for the kubelet") {
        const auto info = kcube::pki::inspect_certificate(files.kubelet_client_cert);
        CHECK(info.common_name == "kube-apiserver-kubelet-client");
        CHECK(info.organizations == std::vector<std::string>{"system:masters"});
        CHECK(info.extended_key_usages == std::vector<std::string>{"clientAuth"});
        check_verifies(files.ca_cert, files.kubelet_client_cert, "sslclient");
    }
}

TEST_CASE("ensure_node_pki: a second run writes nothing; a new CA re-issues everything") {
    CaFixture f;
    const auto dir = f.tmp / "pki";
    kcube::pki::NodePkiSpec spec;
    spec.node_name = "n1";
    spec.ip_addresses = {"10.0.2.15"};
    const auto files = kcube::pki::ensure_node_pki(f.ca, dir, spec);

    auto snapshot = [&] {
        std::vector<std::string> contents;
        for (const auto& file :
             {files.ca_cert, files.apiserver_cert, files.apiserver_key, files.admin_cert,
              files.admin_key, files.kubelet_cert, files.kubelet_key, files.kubelet_client_cert,
              files.kubelet_client_key, files.sa_key, files.sa_pub}) {
            contents.push_back(fs::read_file(file));
        }
        return contents;
    };
    const auto before = snapshot();
    const auto mtime = stdfs::last_write_time(files.apiserver_cert);
    kcube::pki::ensure_node_pki(f.ca, dir, spec);
    CHECK(snapshot() == before);
    CHECK(stdfs::last_write_time(files.apiserver_cert) == mtime);

    TempDir other_dir;
    const auto other = CertificateAuthority::load_or_create(other_dir.path());
    kcube::pki::ensure_node_pki(other, dir, spec);
    const auto after = snapshot();
    CHECK(fs::read_file(files.ca_cert) == other.cert_pem());
    for (size_t i = 0; i + 2 < after.size(); ++i) {  // every file but the service-account pair
        CAPTURE(i);
        CHECK(after[i] != before[i]);
    }
    CHECK(after[9] == before[9]);  // sa.key does not depend on the CA
    for (const auto& cert :
         {files.apiserver_cert, files.kubelet_cert, files.admin_cert, files.kubelet_client_cert}) {
        check_verifies(files.ca_cert, cert);
    }
}

TEST_CASE("ensure_node_pki: a new node IP re-issues only the serving certificates") {
    CaFixture f;
    const auto dir = f.tmp / "pki";
    kcube::pki::NodePkiSpec spec;
    spec.node_name = "n1";
    spec.ip_addresses = {"10.0.2.15"};
    const auto files = kcube::pki::ensure_node_pki(f.ca, dir, spec);
    const std::string admin = fs::read_file(files.admin_cert);
    const std::string apiserver = fs::read_file(files.apiserver_cert);
    const std::string kubelet = fs::read_file(files.kubelet_cert);

    spec.ip_addresses = {"10.0.2.16"};
    kcube::pki::ensure_node_pki(f.ca, dir, spec);
    CHECK(fs::read_file(files.admin_cert) == admin);
    CHECK(fs::read_file(files.apiserver_cert) != apiserver);
    CHECK(fs::read_file(files.kubelet_cert) != kubelet);
    CHECK(has(kcube::pki::inspect_certificate(files.apiserver_cert).ip_addresses, "10.0.2.16"));
    CHECK_FALSE(
        has(kcube::pki::inspect_certificate(files.apiserver_cert).ip_addresses, "10.0.2.15"));
}

TEST_CASE("ensure_node_pki: an empty node name is a usage error") {
    CaFixture f;
    const Error e = error_from(
        [&] { kcube::pki::ensure_node_pki(f.ca, f.tmp / "pki", kcube::pki::NodePkiSpec{}); });
    check_error(e, ExitCode::kUsage, "PKI_INVALID_NAME", "node name");
    CHECK_FALSE(stdfs::exists(f.tmp / "pki"));
}

TEST_CASE("ensure_node_pki: a corrupt file stops it with that file's name") {
    CaFixture f;
    const auto dir = f.tmp / "pki";
    kcube::pki::NodePkiSpec spec;
    spec.node_name = "n1";
    const auto files = kcube::pki::ensure_node_pki(f.ca, dir, spec);
    fs::write_file_atomic(files.kubelet_key, kGarbage, 0600);
    const Error e = error_from([&] { kcube::pki::ensure_node_pki(f.ca, dir, spec); });
    check_error(e, ExitCode::kState, "PKI_CORRUPT_KEY", files.kubelet_key.string());
    CHECK(fs::read_file(files.kubelet_key) == kGarbage);
}
