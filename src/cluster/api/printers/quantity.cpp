// resource.Quantity's canonical form. The API server decodes every quantity and encodes it
// canonically, so "1024Mi" is served back as "1Gi" and "0.5" as "500m"; the printers print the
// decoded value, so kcube canonicalizes here whatever the stored text is.
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cluster/api/printers/support.hpp"

namespace kcube::api::printers {
namespace {

enum class Format { kDecimalSI, kBinarySI, kDecimalExponent };

struct Parsed {
    bool negative = false;
    std::string digits;  // integer and fractional digits, without the point
    int fraction = 0;    // how many of `digits` follow the point
    Format format = Format::kDecimalSI;
    int exponent = 0;  // power of 10 (decimal suffixes) or of 2 (binary suffixes)
};

std::optional<int> decimal_suffix(std::string_view suffix) {
    static constexpr std::pair<std::string_view, int> kSuffixes[] = {
        {"n", -9}, {"u", -6}, {"m", -3}, {"", 0},   {"k", 3},
        {"M", 6},  {"G", 9},  {"T", 12}, {"P", 15}, {"E", 18},
    };
    for (const auto& [text, exponent] : kSuffixes) {
        if (suffix == text) return exponent;
    }
    return std::nullopt;
}

std::optional<int> binary_suffix(std::string_view suffix) {
    static constexpr std::pair<std::string_view, int> kSuffixes[] = {
        {"Ki", 10}, {"Mi", 20}, {"Gi", 30}, {"Ti", 40}, {"Pi", 50}, {"Ei", 60},
    };
    for (const auto& [text, exponent] : kSuffixes) {
        if (suffix == text) return exponent;
    }
    return std::nullopt;
}

// "e3", "E-2": the exponent notation.
std::optional<int> exponent_suffix(std::string_view suffix) {
    if (suffix.size() < 2 || (suffix[0] != 'e' && suffix[0] != 'E')) return std::nullopt;
    size_t pos = 1;
    bool negative = false;
    if (suffix[pos] == '+' || suffix[pos] == '-') negative = suffix[pos++] == '-';
    if (pos == suffix.size() || suffix.size() - pos > 4) return std::nullopt;
    int value = 0;
    for (; pos < suffix.size(); ++pos) {
        if (!std::isdigit(static_cast<unsigned char>(suffix[pos]))) return std::nullopt;
        value = value * 10 + (suffix[pos] - '0');
    }
    return negative ? -value : value;
}

std::optional<Parsed> parse(std::string_view text) {
    Parsed q;
    size_t pos = 0;
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-'))
        q.negative = text[pos++] == '-';
    bool point = false;
    for (; pos < text.size(); ++pos) {
        const char c = text[pos];
        if (c == '.' && !point) {
            point = true;
        } else if (std::isdigit(static_cast<unsigned char>(c))) {
            q.digits += c;
            if (point) ++q.fraction;
        } else {
            break;
        }
    }
    if (q.digits.empty()) return std::nullopt;
    const std::string_view suffix = text.substr(pos);
    if (auto e = decimal_suffix(suffix)) {
        q.exponent = *e;
    } else if (auto b = binary_suffix(suffix)) {
        q.format = Format::kBinarySI;
        q.exponent = *b;
    } else if (auto x = exponent_suffix(suffix)) {
        q.format = Format::kDecimalExponent;
        q.exponent = *x;
    } else {
        return std::nullopt;
    }
    return q;
}

// The digits as an integer, with trailing zeros moved into `exponent` when the number is too
// long for 64 bits.
std::optional<std::int64_t> mantissa(std::string digits, int& exponent) {
    while (digits.size() > 1 && digits.front() == '0')
        digits.erase(0, 1);
    while (digits.size() > 18 && digits.back() == '0') {
        digits.pop_back();
        ++exponent;
    }
    if (digits.size() > 18) return std::nullopt;
    return std::stoll(digits);
}

std::optional<std::int64_t> multiply(std::int64_t a, std::int64_t b) {
    std::int64_t product = 0;
    if (__builtin_mul_overflow(a, b, &product)) return std::nullopt;
    return product;
}

std::int64_t power_of_ten(int exponent) {
    std::int64_t result = 1;
    for (int i = 0; i < exponent; ++i)
        result *= 10;
    return result;
}

// Quantities keep nanounits at most; finer values round up (away from zero) so that a tiny
// request still asks for something.
void round_to_nano(std::int64_t& value, int& exponent) {
    if (exponent >= -9) return;
    const int shift = -9 - exponent;
    exponent = -9;
    if (shift > 18) {
        value = value == 0 ? 0 : 1;
        return;
    }
    const std::int64_t divisor = power_of_ten(shift);
    const bool inexact = value % divisor != 0;
    value /= divisor;
    if (inexact) ++value;
}

// value * 10^exponent printed as upstream's AsCanonicalBytes does: the exponent a multiple of
// three (so it has an SI suffix) with no trailing zeros left to absorb.
std::optional<std::string> canonical_decimal(std::int64_t value, int exponent, Format format) {
    if (value == 0) return "0";
    while (value % 10 == 0) {
        value /= 10;
        ++exponent;
    }
    std::optional<std::int64_t> scaled = value;
    if (exponent % 3 == 1 || exponent % 3 == -2) {
        scaled = multiply(value, 10);
        exponent -= 1;
    } else if (exponent % 3 == 2 || exponent % 3 == -1) {
        scaled = multiply(value, 100);
        exponent -= 2;
    }
    if (!scaled) return std::nullopt;
    std::string number = std::to_string(*scaled);
    if (format == Format::kDecimalExponent) {
        return exponent == 0 ? number : number + "e" + std::to_string(exponent);
    }
    static constexpr std::pair<int, std::string_view> kSuffixes[] = {
        {-9, "n"}, {-6, "u"}, {-3, "m"}, {0, ""},   {3, "k"},
        {6, "M"},  {9, "G"},  {12, "T"}, {15, "P"}, {18, "E"},
    };
    for (const auto& [power, suffix] : kSuffixes) {
        if (power == exponent) return number + std::string(suffix);
    }
    return std::nullopt;
}

std::optional<std::string> canonical_decimal_quantity(const Parsed& q) {
    int exponent = q.exponent - q.fraction;
    std::optional<std::int64_t> value = mantissa(q.digits, exponent);
    if (!value) return std::nullopt;
    round_to_nano(*value, exponent);
    return canonical_decimal(q.negative ? -*value : *value, exponent, q.format);
}

// Binary quantities print with a binary suffix only when they are whole numbers of at least
// 1024; anything else prints as a decimal quantity.
std::optional<std::string> canonical_binary_quantity(const Parsed& q) {
    int exponent = 0;
    std::optional<std::int64_t> value = mantissa(q.digits, exponent);
    if (!value || q.exponent >= 63) return std::nullopt;
    std::optional<std::int64_t> scaled = multiply(*value, std::int64_t{1} << q.exponent);
    if (scaled) scaled = multiply(*scaled, power_of_ten(exponent));
    if (!scaled || q.fraction > 18) return std::nullopt;
    const std::int64_t denominator = power_of_ten(q.fraction);
    if (*scaled % denominator != 0 || *scaled / denominator < 1024) {
        int decimal_exponent = -q.fraction;
        std::int64_t decimal = *scaled;
        round_to_nano(decimal, decimal_exponent);
        return canonical_decimal(q.negative ? -decimal : decimal, decimal_exponent,
                                 Format::kDecimalSI);
    }
    std::int64_t whole = *scaled / denominator;
    int power = 0;
    while (whole % 1024 == 0 && power < 60) {
        whole /= 1024;
        power += 10;
    }
    static constexpr std::string_view kSuffixes[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    return std::to_string(q.negative ? -whole : whole) + std::string(kSuffixes[power / 10]);
}

}  // namespace

std::string canonical_quantity(std::string_view text) {
    const std::optional<Parsed> q = parse(text);
    if (!q) return std::string(text);
    const std::optional<std::string> canonical = q->format == Format::kBinarySI
                                                     ? canonical_binary_quantity(*q)
                                                     : canonical_decimal_quantity(*q);
    return canonical.value_or(std::string(text));
}

}  // namespace kcube::api::printers
