#pragma once
// A libnftables context (the library behind the nft command): runs nft command text as one
// transaction in the calling thread's network namespace, with nft's output and errors captured.
#include <string>

struct nft_ctx;

namespace kcube::proxy {

class Nftables {
  public:
    // Throws Error (kHost) when libnftables cannot make a context.
    Nftables();
    ~Nftables();
    Nftables(const Nftables&) = delete;
    Nftables& operator=(const Nftables&) = delete;

    // Runs `commands` (nft syntax, several lines) atomically: all of it or none. Returns what
    // nft printed. Throws Error (kHost, PROXY_NFTABLES) with nft's error text and the failing
    // command.
    std::string run(const std::string& commands);

    // Whether table `ip <name>` exists.
    bool has_table(const std::string& name);

  private:
    nft_ctx* ctx_;
};

}  // namespace kcube::proxy
