#include "cluster/auth/tokens.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cstdint>

#include "cluster/api/meta.hpp"
#include "common/base64.hpp"
#include "common/error.hpp"
#include "common/fs.hpp"
#include "common/openssl.hpp"

namespace kcube::auth {
namespace json = boost::json;
using Clock = std::chrono::system_clock;

namespace {

// ---- RAII for OpenSSL objects ----------------------------------------------------------

using openssl::Owned;

using KeyPtr = Owned<EVP_PKEY, EVP_PKEY_free>;
using BioPtr = Owned<BIO, BIO_free_all>;
using MdCtxPtr = Owned<EVP_MD_CTX, EVP_MD_CTX_free>;
using SigPtr = Owned<ECDSA_SIG, ECDSA_SIG_free>;
using BignumPtr = Owned<BIGNUM, BN_free>;

// P-256 coordinates and the r, s halves of a JOSE ES256 signature are 32 bytes each.
constexpr int kCoordinate = 32;
// go-jose's DefaultLeeway, which upstream's token validation uses for exp, nbf and iat.
constexpr std::chrono::seconds kLeeway{60};
constexpr std::string_view kSaPrefix = "system:serviceaccount:";

// ---- OpenSSL helpers -------------------------------------------------------------------

[[noreturn]] void key_error(const std::filesystem::path& file, const std::string& why) {
    throw Error(ExitCode::kState, "AUTH_SA_KEY_INVALID",
                "service-account signing key " + file.string() + ": " + why,
                "kcube node run recreates the key pair when both files are moved aside "
                "(tokens issued with the old key stop working)");
}

BioPtr memory_bio(const std::string& data) {
    BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
    if (!bio) throw std::bad_alloc();
    return bio;
}

bool is_p256(EVP_PKEY* key) {
    char group[64] = {};
    size_t length = 0;
    const bool ec = EVP_PKEY_is_a(key, "EC") == 1 &&
                    EVP_PKEY_get_group_name(key, group, sizeof group, &length) == 1;
    ERR_clear_error();
    return ec && std::string_view(group, length) == "prime256v1";
}

std::string sha256(std::string_view data) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("SHA-256 failed: " + openssl::error_text());
    }
    return std::string(reinterpret_cast<const char*>(digest.data()), length);
}

std::string public_key_der(EVP_PKEY* key) {
    unsigned char* der = nullptr;
    const int length = i2d_PUBKEY(key, &der);
    if (length <= 0) throw std::runtime_error("cannot encode public key: " + openssl::error_text());
    std::string out(reinterpret_cast<const char*>(der), static_cast<size_t>(length));
    OPENSSL_free(der);
    return out;
}

// OpenSSL signs ECDSA as a DER SEQUENCE{r, s}; JOSE wants the two integers as fixed-width
// big-endian halves (RFC 7518 §3.4).
std::string der_to_jose(const std::string& der) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    SigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
    if (!sig) throw std::runtime_error("cannot decode ECDSA signature: " + openssl::error_text());
    const BIGNUM* r = nullptr;
    const BIGNUM* s = nullptr;
    ECDSA_SIG_get0(sig.get(), &r, &s);
    std::string out(2 * static_cast<size_t>(kCoordinate), '\0');
    auto* bytes = reinterpret_cast<unsigned char*>(out.data());
    if (BN_bn2binpad(r, bytes, kCoordinate) != kCoordinate ||
        BN_bn2binpad(s, bytes + kCoordinate, kCoordinate) != kCoordinate) {
        throw std::runtime_error("ECDSA signature does not fit P-256");
    }
    return out;
}

std::optional<std::string> jose_to_der(std::string_view jose) {
    if (jose.size() != 2 * static_cast<size_t>(kCoordinate)) return std::nullopt;
    const auto* bytes = reinterpret_cast<const unsigned char*>(jose.data());
    BignumPtr r(BN_bin2bn(bytes, kCoordinate, nullptr));
    BignumPtr s(BN_bin2bn(bytes + kCoordinate, kCoordinate, nullptr));
    SigPtr sig(ECDSA_SIG_new());
    if (!r || !s || !sig) throw std::bad_alloc();
    if (ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
    (void)r.release();  // owned by `sig` now
    (void)s.release();
    unsigned char* der = nullptr;
    const int length = i2d_ECDSA_SIG(sig.get(), &der);
    if (length <= 0) return std::nullopt;
    std::string out(reinterpret_cast<const char*>(der), static_cast<size_t>(length));
    OPENSSL_free(der);
    return out;
}

// ---- claims helpers --------------------------------------------------------------------

std::int64_t unix_seconds(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::optional<std::int64_t> number_at(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    if (v == nullptr) return std::nullopt;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
        return static_cast<std::int64_t>(v->as_uint64());
    }
    if (v->is_double()) return static_cast<std::int64_t>(v->as_double());
    return std::nullopt;
}

std::string string_at(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

const json::object* object_at(const json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v != nullptr && v->is_object() ? &v->as_object() : nullptr;
}

json::object ref_json(const ObjectRef& ref) {
    return {{"name", ref.name}, {"uid", ref.uid}};
}

std::optional<ObjectRef> ref_at(const json::object& o, std::string_view key) {
    const auto* r = object_at(o, key);
    if (r == nullptr) return std::nullopt;
    return ObjectRef{string_at(*r, "name"), string_at(*r, "uid")};
}

}  // namespace

// ---- TokenIssuer -----------------------------------------------------------------------

struct TokenIssuer::Impl {
    KeyPtr private_key;
    KeyPtr public_key;
    std::string issuer;
    std::string key_id;
};

TokenIssuer::TokenIssuer(const std::filesystem::path& sa_key, const std::filesystem::path& sa_pub,
                         std::string issuer)
    : impl_(std::make_unique<Impl>()) {
    impl_->issuer = std::move(issuer);
    {
        const std::string pem = fs::read_file(sa_key);
        auto bio = memory_bio(pem);
        impl_->private_key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
        if (!impl_->private_key)
            key_error(sa_key, "not a PEM private key: " + openssl::error_text());
        if (!is_p256(impl_->private_key.get())) {
            key_error(sa_key, "not an ECDSA P-256 key (service-account tokens are ES256)");
        }
    }
    {
        const std::string pem = fs::read_file(sa_pub);
        auto bio = memory_bio(pem);
        impl_->public_key.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
        if (!impl_->public_key) key_error(sa_pub, "not a PEM public key: " + openssl::error_text());
        const bool same = EVP_PKEY_eq(impl_->private_key.get(), impl_->public_key.get()) == 1;
        ERR_clear_error();
        if (!same) key_error(sa_pub, "does not belong to " + sa_key.string());
    }
    impl_->key_id = base64::encode_url(sha256(public_key_der(impl_->public_key.get())));
}

TokenIssuer::~TokenIssuer() = default;
TokenIssuer::TokenIssuer(TokenIssuer&&) noexcept = default;
TokenIssuer& TokenIssuer::operator=(TokenIssuer&&) noexcept = default;

const std::string& TokenIssuer::issuer() const {
    return impl_->issuer;
}
const std::string& TokenIssuer::key_id() const {
    return impl_->key_id;
}

std::string TokenIssuer::issue(const TokenClaims& c) const {
    const Clock::time_point now = c.issued_at == Clock::time_point{} ? Clock::now() : c.issued_at;
    const std::int64_t iat = unix_seconds(now);

    json::array audiences;
    if (c.audiences.empty()) audiences.emplace_back(impl_->issuer);
    for (const auto& a : c.audiences)
        audiences.emplace_back(a);

    // Keys in sorted order throughout: upstream's encoder round-trips the claims through a Go
    // map, so real tokens list them alphabetically.
    json::object k8s{{"namespace", c.ns}};
    if (c.node) k8s["node"] = ref_json(*c.node);
    if (c.pod) k8s["pod"] = ref_json(*c.pod);
    if (c.secret) k8s["secret"] = ref_json(*c.secret);
    k8s["serviceaccount"] = ref_json({c.service_account, c.service_account_uid});
    if (c.warn_after) k8s["warnafter"] = iat + c.warn_after->count();

    const json::object payload{
        {"aud", std::move(audiences)},
        {"exp", iat + c.lifetime.count()},
        {"iat", iat},
        {"iss", impl_->issuer},
        {"jti", api::new_uid()},
        {"kubernetes.io", std::move(k8s)},
        {"nbf", iat},
        {"sub", std::string(kSaPrefix) + c.ns + ":" + c.service_account},
    };
    const json::object header{{"alg", "ES256"}, {"kid", impl_->key_id}};
    const std::string signing_input = base64::encode_url(json::serialize(header)) + "." +
                                      base64::encode_url(json::serialize(payload));

    MdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx) throw std::bad_alloc();
    size_t length = 0;
    if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, impl_->private_key.get()) !=
            1 ||
        EVP_DigestSign(ctx.get(), nullptr, &length,
                       reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size()) != 1) {
        throw std::runtime_error("signing a service-account token failed: " +
                                 openssl::error_text());
    }
    std::string der(length, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &length,
                       reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size()) != 1) {
        throw std::runtime_error("signing a service-account token failed: " +
                                 openssl::error_text());
    }
    der.resize(length);
    return signing_input + "." + base64::encode_url(der_to_jose(der));
}

std::optional<VerifiedToken> TokenIssuer::verify(std::string_view jwt) const {
    const auto dot1 = jwt.find('.');
    if (dot1 == std::string_view::npos) return std::nullopt;
    const auto dot2 = jwt.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || jwt.find('.', dot2 + 1) != std::string_view::npos) {
        return std::nullopt;
    }
    const auto header_text = base64::decode_url(jwt.substr(0, dot1));
    const auto payload_text = base64::decode_url(jwt.substr(dot1 + 1, dot2 - dot1 - 1));
    const auto signature = base64::decode_url(jwt.substr(dot2 + 1));
    if (!header_text || !payload_text || !signature) return std::nullopt;

    json::object header, payload;
    {
        boost::system::error_code ec;
        auto h = json::parse(*header_text, ec);
        if (ec || !h.is_object()) return std::nullopt;
        header = std::move(h.as_object());
        auto p = json::parse(*payload_text, ec);
        if (ec || !p.is_object()) return std::nullopt;
        payload = std::move(p.as_object());
    }
    // Only ES256: never "none", never an algorithm the header picks for us.
    if (string_at(header, "alg") != "ES256") return std::nullopt;
    if (const auto* kid = header.if_contains("kid");
        kid && (!kid->is_string() || kid->as_string() != impl_->key_id)) {
        return std::nullopt;
    }

    const auto der = jose_to_der(*signature);
    if (!der) return std::nullopt;
    const std::string_view signing_input = jwt.substr(0, dot2);
    MdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx) throw std::bad_alloc();
    const bool valid =
        EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, impl_->public_key.get()) ==
            1 &&
        EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(der->data()),
                         der->size(), reinterpret_cast<const unsigned char*>(signing_input.data()),
                         signing_input.size()) == 1;
    ERR_clear_error();
    if (!valid) return std::nullopt;

    VerifiedToken t;
    t.key_id = string_at(header, "kid");
    t.issuer = string_at(payload, "iss");
    if (t.issuer != impl_->issuer) return std::nullopt;
    const auto exp = number_at(payload, "exp");
    if (!exp) return std::nullopt;  // upstream's tokens always expire
    const auto nbf = number_at(payload, "nbf");
    const auto iat = number_at(payload, "iat");
    const std::int64_t now = unix_seconds(Clock::now());
    if (now - kLeeway.count() >= *exp) return std::nullopt;
    if (nbf && now + kLeeway.count() < *nbf) return std::nullopt;
    if (iat && now + kLeeway.count() < *iat) return std::nullopt;
    t.expires_at = Clock::time_point(std::chrono::seconds(*exp));
    t.not_before = Clock::time_point(std::chrono::seconds(nbf.value_or(0)));
    t.issued_at = Clock::time_point(std::chrono::seconds(iat.value_or(0)));
    t.subject = string_at(payload, "sub");
    t.id = string_at(payload, "jti");
    if (const auto* aud = payload.if_contains("aud")) {
        // RFC 7519 allows a single string as well as an array.
        if (aud->is_string()) t.audiences.emplace_back(aud->as_string());
        if (aud->is_array()) {
            for (const auto& a : aud->as_array()) {
                if (a.is_string()) t.audiences.emplace_back(a.as_string());
            }
        }
    }
    const auto* k8s = object_at(payload, "kubernetes.io");
    if (k8s == nullptr) return std::nullopt;
    t.ns = string_at(*k8s, "namespace");
    const auto sa = ref_at(*k8s, "serviceaccount");
    if (t.ns.empty() || !sa || sa->name.empty()) return std::nullopt;
    t.service_account = sa->name;
    t.service_account_uid = sa->uid;
    if (t.subject != std::string(kSaPrefix) + t.ns + ":" + t.service_account) return std::nullopt;
    t.pod = ref_at(*k8s, "pod");
    t.secret = ref_at(*k8s, "secret");
    t.node = ref_at(*k8s, "node");
    t.claims = std::move(payload);
    return t;
}

// ---- Authenticator ---------------------------------------------------------------------

namespace {

std::shared_ptr<const api::ResourceInfo> core_info(api::ResourceService& service,
                                                   std::string_view plural) {
    auto info = service.registry().find("", "v1", plural);
    if (!info) throw api::internal_error("resource " + std::string(plural) + " is not registered");
    return info;
}

// The object, or nullopt when it does not exist.
std::optional<json::object> get_if_exists(api::ResourceService& service, std::string_view plural,
                                          const std::string& ns, const std::string& name) {
    try {
        return service.get(*core_info(service, plural), ns, name);
    } catch (const api::ApiError& e) {
        if (e.code() == 404) return std::nullopt;
        throw;
    }
}

// Upstream treats an object deleted (deletionTimestamp set) more than the leeway ago as gone.
bool still_valid(const json::object& object, const std::string& uid) {
    const auto* metadata = object_at(object, "metadata");
    if (metadata == nullptr || string_at(*metadata, "uid") != uid) return false;
    const std::string deletion = string_at(*metadata, "deletionTimestamp");
    if (deletion.empty()) return true;
    Clock::time_point deleted;
    if (!api::parse_time(deletion, deleted)) return false;
    return deleted >= Clock::now() - kLeeway;
}

}  // namespace

Authenticator::Authenticator(const TokenIssuer& issuer, api::ResourceService& service,
                             std::vector<std::string> api_audiences)
    : issuer_(issuer), service_(service), api_audiences_(std::move(api_audiences)) {
    if (api_audiences_.empty()) api_audiences_.push_back(issuer_.issuer());
}

std::optional<apiserver::User> Authenticator::authenticate_bearer(std::string_view token) {
    auto t = issuer_.verify(token);
    if (!t) return std::nullopt;
    // A token minted for another audience (a vault, a CSI driver) is not an API credential.
    const bool for_us = std::any_of(t->audiences.begin(), t->audiences.end(), [&](const auto& a) {
        return std::find(api_audiences_.begin(), api_audiences_.end(), a) != api_audiences_.end();
    });
    if (!for_us) return std::nullopt;

    const auto sa = get_if_exists(service_, "serviceaccounts", t->ns, t->service_account);
    if (!sa || !still_valid(*sa, t->service_account_uid)) return std::nullopt;
    const std::pair<std::string_view, const std::optional<ObjectRef>*> bound[] = {
        {"secrets", &t->secret}, {"pods", &t->pod}};
    for (const auto& [plural, ref] : bound) {
        if (!*ref) continue;
        const auto object = get_if_exists(service_, plural, t->ns, (*ref)->name);
        if (!object || !still_valid(*object, (*ref)->uid)) return std::nullopt;
    }
    // A token bound to a Node (not merely naming the pod's node) dies with the node.
    if (t->node && !t->pod) {
        const auto node = get_if_exists(service_, "nodes", "", t->node->name);
        if (!node || !still_valid(*node, t->node->uid)) return std::nullopt;
    }
    return apiserver::User{
        std::string(kSaPrefix) + t->ns + ":" + t->service_account,
        {"system:serviceaccounts", "system:serviceaccounts:" + t->ns, "system:authenticated"}};
}

// ---- TokenRequest ----------------------------------------------------------------------

namespace {

// Upstream: pod-bound tokens requested for exactly 3607 s (what kubelets ask for) are issued
// for a year and carry "warnafter", so stale-token use is reported instead of failing.
constexpr std::int64_t kWarnOnlyExpirationSeconds = 60 * 60 + 7;
constexpr std::int64_t kExtendedExpirationSeconds = 24 * 365 * 60 * 60;
constexpr std::int64_t kMinExpirationSeconds = 10 * 60;
constexpr std::int64_t kMaxExpirationSeconds = std::int64_t{1} << 32;

std::string uid_of(const json::object& object) {
    const auto* metadata = object_at(object, "metadata");
    return metadata ? string_at(*metadata, "uid") : std::string();
}

}  // namespace

json::object handle_token_request(api::ResourceService& service, const TokenIssuer& issuer,
                                  const std::string& ns, const std::string& sa_name,
                                  json::object request) {
    json::object spec;
    if (const auto* s = object_at(request, "spec")) spec = *s;

    std::int64_t expiration = 3600;
    if (const auto* v = spec.if_contains("expirationSeconds"); v && !v->is_null()) {
        const auto n = number_at(spec, "expirationSeconds");
        if (!n || v->is_double()) {
            throw api::bad_request("spec.expirationSeconds: expected an integer");
        }
        expiration = *n;
    }
    std::vector<api::StatusCause> causes;
    if (expiration < kMinExpirationSeconds) {
        causes.push_back({"FieldValueInvalid",
                          "Invalid value: " + std::to_string(expiration) +
                              ": may not specify a duration less than 10 minutes",
                          "spec.expirationSeconds"});
    }
    if (expiration > kMaxExpirationSeconds) {
        causes.push_back({"FieldValueInvalid",
                          "Invalid value: " + std::to_string(expiration) +
                              ": may not specify a duration larger than 2^32 seconds",
                          "spec.expirationSeconds"});
    }
    if (!causes.empty()) {
        throw api::invalid("authentication.k8s.io", "TokenRequest", "", std::move(causes));
    }

    // 404 `serviceaccounts "x" not found` when it does not exist.
    const json::object sa = service.get(*core_info(service, "serviceaccounts"), ns, sa_name);

    TokenClaims claims;
    claims.ns = ns;
    claims.service_account = sa_name;
    claims.service_account_uid = uid_of(sa);

    const auto* ref_value = spec.if_contains("boundObjectRef");
    const json::object* ref =
        ref_value && ref_value->is_object() ? &ref_value->as_object() : nullptr;
    if (ref != nullptr) {
        const std::string kind = string_at(*ref, "kind");
        const std::string api_version = string_at(*ref, "apiVersion");
        const std::string name = string_at(*ref, "name");
        const auto slash = api_version.find('/');
        const std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
        const std::string version =
            slash == std::string::npos ? api_version : api_version.substr(slash + 1);
        json::object bound;
        if (group.empty() && kind == "Pod") {
            bound = service.get(*core_info(service, "pods"), ns, name);
            const auto* pod_spec = object_at(bound, "spec");
            const std::string pod_sa = pod_spec ? string_at(*pod_spec, "serviceAccountName") : "";
            if (pod_sa != sa_name) {
                throw api::bad_request("cannot bind token for serviceaccount \"" + sa_name +
                                       "\" to pod running with different serviceaccount name.");
            }
            claims.pod = ObjectRef{name, uid_of(bound)};
            // The pod's node rides along (upstream's ServiceAccountTokenPodNodeInfo); it is
            // informational, so a missing node is not an error.
            const std::string node_name = pod_spec ? string_at(*pod_spec, "nodeName") : "";
            if (!node_name.empty()) {
                if (auto node = get_if_exists(service, "nodes", "", node_name)) {
                    claims.node = ObjectRef{node_name, uid_of(*node)};
                }
            }
        } else if (group.empty() && kind == "Secret") {
            bound = service.get(*core_info(service, "secrets"), ns, name);
            claims.secret = ObjectRef{name, uid_of(bound)};
        } else if (group.empty() && kind == "Node") {
            bound = service.get(*core_info(service, "nodes"), "", name);
            claims.node = ObjectRef{name, uid_of(bound)};
        } else {
            // Go's schema.GroupVersionKind.String().
            throw api::bad_request("cannot bind token to object of type " + group + "/" + version +
                                   ", Kind=" + kind);
        }
        const std::string want_uid = string_at(*ref, "uid");
        if (!want_uid.empty() && want_uid != uid_of(bound)) {
            throw api::conflict("", kind, name,
                                "the UID in the bound object reference (" + want_uid +
                                    ") does not match the UID in record. The object might have "
                                    "been deleted and then recreated");
        }
    }

    json::array audiences;
    if (const auto* a = spec.if_contains("audiences"); a && a->is_array()) {
        for (const auto& v : a->as_array()) {
            if (v.is_string()) claims.audiences.emplace_back(v.as_string());
        }
    }
    if (claims.audiences.empty()) claims.audiences.push_back(issuer.issuer());
    for (const auto& a : claims.audiences)
        audiences.emplace_back(a);

    const bool api_audiences_only =
        std::all_of(claims.audiences.begin(), claims.audiences.end(),
                    [&](const std::string& a) { return a == issuer.issuer(); });
    std::int64_t lifetime = expiration;
    if (claims.pod && expiration == kWarnOnlyExpirationSeconds && api_audiences_only) {
        claims.warn_after = std::chrono::seconds(expiration);
        lifetime = kExtendedExpirationSeconds;
    }
    claims.lifetime = std::chrono::seconds(lifetime);
    // Taken before issuing, so the reported expiry is never later than the token's.
    const Clock::time_point now = Clock::now();
    claims.issued_at = now;
    const std::string token = issuer.issue(claims);

    spec["audiences"] = std::move(audiences);
    spec["expirationSeconds"] = expiration;
    if (ref == nullptr) spec["boundObjectRef"] = nullptr;

    json::object& metadata = api::metadata_of(request);
    if (!metadata.contains("name")) metadata["name"] = sa_name;
    if (!metadata.contains("namespace")) metadata["namespace"] = ns;
    if (!metadata.contains("creationTimestamp")) metadata["creationTimestamp"] = nullptr;
    request["kind"] = "TokenRequest";
    request["apiVersion"] = "authentication.k8s.io/v1";
    request["spec"] = std::move(spec);
    request["status"] = json::object{
        {"token", token},
        {"expirationTimestamp", api::format_time(now + std::chrono::seconds(expiration))}};
    return request;
}

}  // namespace kcube::auth
