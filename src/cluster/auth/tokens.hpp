#pragma once
// Service-account tokens as upstream issues and checks them: ES256 JWTs signed with the node's
// pki/sa.key, carrying the "kubernetes.io" private claim that binds them to a ServiceAccount
// (and optionally a Pod, Secret or Node), and the TokenRequest subresource that mints them.
// OpenSSL types stay out of this header.
#include <boost/json/object.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/api/service.hpp"
#include "cluster/apiserver/http.hpp"

namespace kcube::auth {

inline constexpr std::string_view kDefaultIssuer = "https://kubernetes.default.svc.cluster.local";

struct ObjectRef {
    std::string name;
    std::string uid;
};

struct TokenClaims {
    std::string ns;                      // the service account's namespace
    std::string service_account;         // its name
    std::string service_account_uid;     // its metadata.uid
    std::vector<std::string> audiences;  // empty: {issuer}
    std::chrono::seconds lifetime{3600};
    std::optional<ObjectRef> pod, secret, node;  // what the token is bound to
    // Upstream's "warnafter" for the extended tokens handed to pods (seconds after issue).
    std::optional<std::chrono::seconds> warn_after;
    // When it is issued; the epoch (default) means now. Lets tests mint expired tokens.
    std::chrono::system_clock::time_point issued_at{};
};

struct VerifiedToken {
    std::string key_id;
    std::string issuer;
    std::string subject;  // system:serviceaccount:<ns>:<name>
    std::string id;       // jti
    std::vector<std::string> audiences;
    std::chrono::system_clock::time_point issued_at, not_before, expires_at;
    std::string ns, service_account, service_account_uid;
    std::optional<ObjectRef> pod, secret, node;
    boost::json::object claims;  // the whole payload
};

class TokenIssuer {
  public:
    // Loads the PEM key pair (ECDSA P-256, as pki::ensure_signing_key_pair writes it). Throws
    // kcube::Error(kState, "AUTH_SA_KEY_INVALID") naming the file when a key is unreadable, not
    // P-256, or the two halves do not match.
    TokenIssuer(const std::filesystem::path& sa_key, const std::filesystem::path& sa_pub,
                std::string issuer = std::string(kDefaultIssuer));
    ~TokenIssuer();
    TokenIssuer(TokenIssuer&&) noexcept;
    TokenIssuer& operator=(TokenIssuer&&) noexcept;

    const std::string& issuer() const;
    // Upstream's kid: base64url (unpadded) SHA-256 of the DER SubjectPublicKeyInfo.
    const std::string& key_id() const;

    // header {"alg":"ES256","kid":...}; claims aud, exp, iat, iss, jti, kubernetes.io, nbf,
    // sub (in that order, as upstream's encoder sorts them). Thread-safe.
    std::string issue(const TokenClaims& claims) const;
    // Checks the ES256 signature (JOSE r||s), the issuer, exp and nbf/iat (60 s leeway, as
    // upstream's go-jose) and that the kubernetes.io claim names a service account consistent
    // with sub. nullopt for anything else, including a malformed token. Thread-safe.
    std::optional<VerifiedToken> verify(std::string_view jwt) const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

class Authenticator {
  public:
    // `api_audiences`: the audiences a token must carry one of to be accepted by the API server
    // (upstream's --api-audiences; default: the issuer). `issuer` and `service` must outlive it.
    Authenticator(const TokenIssuer& issuer, api::ResourceService& service,
                  std::vector<std::string> api_audiences = {});

    // A valid token of a ServiceAccount that still exists with the same uid (and whose bound
    // Pod, Secret or Node still exists with the same uid, and is not being deleted) yields
    // user system:serviceaccount:<ns>:<name>, groups system:serviceaccounts,
    // system:serviceaccounts:<ns>, system:authenticated. nullopt for any other token. Throws
    // api::ApiError only when the store could not be asked.
    std::optional<apiserver::User> authenticate_bearer(std::string_view token);

  private:
    const TokenIssuer& issuer_;
    api::ResourceService& service_;
    std::vector<std::string> api_audiences_;
};

// POST /api/v1/namespaces/<ns>/serviceaccounts/<name>/token: `token_request` is the
// authentication.k8s.io/v1 TokenRequest body. Defaults spec.audiences to [issuer] and
// spec.expirationSeconds to 3600; 422 Invalid below 600 s or above 2^32 s; 404 when the
// ServiceAccount (or the bound object) does not exist; 400 for a bound object that is not a
// Pod, Secret or Node, or a Pod running as another service account; 409 when the bound object's
// uid differs. Returns the TokenRequest with status {token, expirationTimestamp}.
boost::json::object handle_token_request(api::ResourceService& service, const TokenIssuer& issuer,
                                         const std::string& ns, const std::string& sa_name,
                                         boost::json::object token_request);

}  // namespace kcube::auth
