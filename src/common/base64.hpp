#pragma once
// Base64 (RFC 4648): the standard padded form Go's JSON uses for []byte (Secret data), and the
// unpadded URL-safe form of JWTs and continue tokens.
#include <optional>
#include <string>
#include <string_view>

namespace kcube::base64 {

std::string encode(std::string_view data);      // standard alphabet, padded
std::string encode_url(std::string_view data);  // URL-safe alphabet, unpadded
// Strict URL-safe decoding: no padding, no other alphabet, no stray trailing bits.
std::optional<std::string> decode_url(std::string_view text);
// Strict standard decoding of what encode() writes (padded, as Secret data is).
std::optional<std::string> decode(std::string_view text);

}  // namespace kcube::base64
