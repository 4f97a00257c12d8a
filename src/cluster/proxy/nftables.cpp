// libnftables through its C API. nft reports errors as text naming the input line; the message
// kcube throws carries that text and the command on that line, so a rejected rule is visible
// without re-running anything.
#include "cluster/proxy/nftables.hpp"

#include <nftables/libnftables.h>

#include <sstream>
#include <vector>

#include "common/error.hpp"

namespace kcube::proxy {
namespace {

constexpr const char* kAdvice =
    "the node needs root (CAP_NET_ADMIN) and a kernel with nf_tables (modprobe nf_tables)";

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

// The input line nft's error names ("<cmdline>:12:5-9: Error: ..."), 1-based; 0 if none.
std::size_t failing_line(const std::string& error) {
    const auto at = error.find("<cmdline>:");
    if (at == std::string::npos) return 0;
    std::size_t n = 0;
    for (std::size_t i = at + 10; i < error.size() && error[i] >= '0' && error[i] <= '9'; ++i) {
        n = n * 10 + static_cast<std::size_t>(error[i] - '0');
    }
    return n;
}

}  // namespace

Nftables::Nftables() : ctx_(nft_ctx_new(NFT_CTX_DEFAULT)) {
    if (!ctx_) {
        throw Error(ExitCode::kHost, "PROXY_NFTABLES", "cannot initialise libnftables", kAdvice);
    }
    nft_ctx_buffer_output(ctx_);
    nft_ctx_buffer_error(ctx_);
}

Nftables::~Nftables() {
    nft_ctx_free(ctx_);
}

std::string Nftables::run(const std::string& commands) {
    const int rc = nft_run_cmd_from_buffer(ctx_, commands.c_str());
    // The buffers are reset by the next get; read both every time.
    std::string output = nft_ctx_get_output_buffer(ctx_);
    std::string error = nft_ctx_get_error_buffer(ctx_);
    if (rc == 0) return output;
    while (!error.empty() && error.back() == '\n')
        error.pop_back();
    std::string message = "nftables rejected the service rules: " + error;
    const auto lines = lines_of(commands);
    if (const auto n = failing_line(error); n > 0 && n <= lines.size()) {
        message += "\nfailing command (line " + std::to_string(n) + "): " + lines[n - 1];
    } else if (lines.size() == 1) {
        message += "\nfailing command: " + lines[0];
    }
    throw Error(ExitCode::kHost, "PROXY_NFTABLES", message, kAdvice);
}

bool Nftables::has_table(const std::string& name) {
    for (const auto& line : lines_of(run("list tables ip"))) {
        if (line == "table ip " + name) return true;
    }
    return false;
}

}  // namespace kcube::proxy
