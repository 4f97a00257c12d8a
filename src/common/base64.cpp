#include "common/base64.hpp"

#include <cstdint>

namespace kcube::base64 {
namespace {

constexpr std::string_view kStandard =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kUrl =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string encode_with(std::string_view data, std::string_view alphabet, bool pad) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    std::uint32_t buffer = 0;
    int bits = 0;
    for (unsigned char c : data) {
        buffer = (buffer << 8) | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += alphabet[(buffer >> bits) & 0x3f];
        }
    }
    if (bits > 0) out += alphabet[(buffer << (6 - bits)) & 0x3f];
    while (pad && out.size() % 4 != 0)
        out += '=';
    return out;
}

std::optional<std::string> decode_with(std::string_view text, std::string_view alphabet) {
    if (text.size() % 4 == 1) return std::nullopt;
    std::string out;
    out.reserve(text.size() * 3 / 4);
    std::uint32_t buffer = 0;
    int bits = 0;
    for (char c : text) {
        const auto pos = alphabet.find(c);
        if (pos == std::string_view::npos) return std::nullopt;
        buffer = (buffer << 6) | static_cast<std::uint32_t>(pos);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((buffer >> bits) & 0xff);
        }
    }
    if (bits > 0 && (buffer & ((1u << bits) - 1)) != 0) return std::nullopt;
    return out;
}

}  // namespace

std::string encode(std::string_view data) {
    return encode_with(data, kStandard, true);
}

std::string encode_url(std::string_view data) {
    return encode_with(data, kUrl, false);
}

std::optional<std::string> decode_url(std::string_view text) {
    return decode_with(text, kUrl);
}

std::optional<std::string> decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    // Up to two '=' pad the last group; without them it is the unpadded form.
    std::size_t end = text.size();
    for (int i = 0; i < 2 && end > 0 && text[end - 1] == '='; ++i)
        --end;
    return decode_with(text.substr(0, end), kStandard);
}

}  // namespace kcube::base64
