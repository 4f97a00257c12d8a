// A load client for the node's API server: HTTP/1.1 keep-alive over TLS with a client
// certificate, timing each request. Used by bench/apiserver.py; prints one JSON object.
//
//   kcube_http_bench --port P --pki DIR get PATH N        latency of N GETs on one connection
//   kcube_http_bench --port P --pki DIR watchers PATH W U
//        W watchers on PATH; the tool then makes U updates to ConfigMap bench-watch in
//        namespace default and reports how long until every watcher saw every update.
#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Connection {
    net::io_context io;
    ssl::context tls{ssl::context::tls_client};
    std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> stream;
    beast::flat_buffer buffer;

    Connection(int port, const std::string& pki) {
        tls.load_verify_file(pki + "/ca.crt");
        tls.use_certificate_chain_file(pki + "/admin.crt");
        tls.use_private_key_file(pki + "/admin.key", ssl::context::pem);
        tls.set_verify_mode(ssl::verify_peer);
        stream = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io, tls);
        beast::get_lowest_layer(*stream).connect(
            tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
        beast::get_lowest_layer(*stream).socket().set_option(tcp::no_delay(true));
        stream->handshake(ssl::stream_base::client);
    }

    http::response<http::string_body> request(http::verb verb, const std::string& target,
                                              const std::string& body = {},
                                              const std::string& type = "application/json") {
        http::request<http::string_body> req{verb, target, 11};
        req.set(http::field::host, "127.0.0.1");
        req.set(http::field::accept, "application/json");
        if (!body.empty()) {
            req.set(http::field::content_type, type);
            req.body() = body;
            req.prepare_payload();
        }
        http::write(*stream, req);
        http::response<http::string_body> res;
        http::read(*stream, buffer, res);
        return res;
    }
};

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    if (v.empty()) return 0;
    const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
    return v[i];
}

int bench_get(int port, const std::string& pki, const std::string& path, int n) {
    Connection c(port, pki);
    for (int i = 0; i < std::min(n / 10 + 1, 200); ++i)
        c.request(http::verb::get, path);  // warm
    std::vector<double> ms;
    size_t bytes = 0;
    for (int i = 0; i < n; ++i) {
        const auto start = Clock::now();
        auto res = c.request(http::verb::get, path);
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
        bytes = res.body().size();
        if (res.result_int() != 200) {
            std::fprintf(stderr, "GET %s: %d\n", path.c_str(), res.result_int());
            return 1;
        }
    }
    std::printf("{\"p50_ms\": %.4f, \"p99_ms\": %.4f, \"n\": %d, \"bytes\": %zu}\n",
                percentile(ms, 0.5), percentile(ms, 0.99), n, bytes);
    return 0;
}

int bench_watchers(int port, const std::string& pki, const std::string& path, int watchers,
                   int updates) {
    Connection writer(port, pki);
    const std::string cm_path = "/api/v1/namespaces/default/configmaps";
    writer.request(http::verb::delete_, cm_path + "/bench-watch");
    auto created = writer.request(http::verb::post, cm_path,
                                  R"({"metadata":{"name":"bench-watch"},"data":{"n":"0"}})");
    auto rv = boost::json::parse(created.body()).at("metadata").at("resourceVersion").as_string();
    std::atomic<int> done{0};
    std::atomic<int> connected{0};
    std::vector<std::thread> threads;
    for (int w = 0; w < watchers; ++w) {
        threads.emplace_back([&, w] {
            (void)w;
            Connection c(port, pki);
            http::request<http::string_body> req{
                http::verb::get, path + "?watch=true&resourceVersion=" + std::string(rv), 11};
            req.set(http::field::host, "127.0.0.1");
            http::write(*c.stream, req);
            http::response_parser<http::buffer_body> parser;
            parser.body_limit(boost::none);
            http::read_header(*c.stream, c.buffer, parser);
            ++connected;
            int seen = 0;
            std::string pending;
            char chunk[65536];
            while (seen < updates) {
                parser.get().body().data = chunk;
                parser.get().body().size = sizeof chunk;
                boost::system::error_code ec;
                // read_some returns as soon as some body arrived; read() would wait for the
                // buffer to fill.
                http::read_some(*c.stream, c.buffer, parser, ec);
                if (ec && ec != http::error::need_buffer) break;
                pending.append(chunk, sizeof chunk - parser.get().body().size);
                size_t nl;
                while ((nl = pending.find('\n')) != std::string::npos) {
                    if (pending.find("\"MODIFIED\"") < nl) ++seen;
                    pending.erase(0, nl + 1);
                }
            }
            ++done;
        });
    }
    while (connected < watchers)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const auto start = Clock::now();
    for (int i = 1; i <= updates; ++i) {
        writer.request(http::verb::patch, cm_path + "/bench-watch",
                       R"({"data":{"n":")" + std::to_string(i) + "\"}}",
                       "application/merge-patch+json");
    }
    const double write_s = std::chrono::duration<double>(Clock::now() - start).count();
    for (auto& t : threads)
        t.join();
    const double total_s = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf(
        "{\"watchers\": %d, \"updates\": %d, \"writes_s\": %.3f, \"all_delivered_s\": %.3f, "
        "\"complete\": %s}\n",
        watchers, updates, write_s, total_s, done == watchers ? "true" : "false");
    return done == watchers ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    int port = 0;
    std::string pki;
    std::vector<std::string> rest;
    for (size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--port" && i + 1 < args.size()) {
            port = std::stoi(args[++i]);
        } else if (args[i] == "--pki" && i + 1 < args.size()) {
            pki = args[++i];
        } else {
            rest.push_back(args[i]);
        }
    }
    try {
        if (rest.size() == 3 && rest[0] == "get") {
            return bench_get(port, pki, rest[1], std::stoi(rest[2]));
        }
        if (rest.size() == 4 && rest[0] == "watchers") {
            return bench_watchers(port, pki, rest[1], std::stoi(rest[2]), std::stoi(rest[3]));
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kcube_http_bench: %s\n", e.what());
        return 1;
    }
    std::fprintf(stderr,
                 "usage: kcube_http_bench --port P --pki DIR get PATH N | watchers PATH W U\n");
    return 2;
}
