#pragma once
// The HTTPS listener: TLS 1.2+, client-certificate authentication, HTTP/1.1 keep-alive, request
// bodies up to 3 MiB, and chunked streaming for watches. Beast and Asio stay in server.cpp.
#include <filesystem>
#include <memory>
#include <string>

namespace kcube::apiserver {

class Router;

struct TlsFiles {
    std::filesystem::path cert;       // serving certificate
    std::filesystem::path key;        // its key
    std::filesystem::path client_ca;  // CA that signs client certificates
};

class HttpsServer {
  public:
    HttpsServer(std::string address, int port, TlsFiles tls, Router& router, int threads = 4);
    ~HttpsServer();
    HttpsServer(const HttpsServer&) = delete;
    HttpsServer& operator=(const HttpsServer&) = delete;

    // Binds and starts serving on background threads. Throws Error (kHost) when the address
    // cannot be bound, naming it.
    void start();
    // Stops accepting, closes connections (ending watches) and joins the threads.
    void stop();
    int port() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace kcube::apiserver
