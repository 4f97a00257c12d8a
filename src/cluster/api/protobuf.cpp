#include "protobuf.hpp"

#include <bit>
#include <boost/json.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "builtin_schemas.hpp"
#include "common/base64.hpp"
#include "errors.hpp"
#include "meta.hpp"

namespace kcube::api {

namespace json = boost::json;

namespace {

constexpr std::string_view kMagic{"k8s\0", 4};
constexpr std::string_view kMediaType = "application/vnd.kubernetes.protobuf";
// Nested messages (and groups) a body may open; real objects stay far below, and the limit keeps
// a hostile body from exhausting the stack.
constexpr int kMaxDepth = 100;
constexpr std::uint64_t kMaxFieldNumber = (std::uint64_t{1} << 29) - 1;

constexpr int kVarint = 0;
constexpr int kFixed64 = 1;
constexpr int kBytes = 2;
constexpr int kStartGroup = 3;
constexpr int kEndGroup = 4;
constexpr int kFixed32 = 5;

// metav1.Time's zero value (0001-01-01T00:00:00Z) in Unix seconds: JSON writes it as null.
constexpr std::int64_t kZeroTimeSeconds = -62135596800;
// 9999-12-31T23:59:59Z: the last instant RFC 3339 can write (and the Timestamp message allows).
constexpr std::int64_t kMaxTimeSeconds = 253402300799;

constexpr std::string_view kTime = "io.k8s.apimachinery.pkg.apis.meta.v1.Time";
constexpr std::string_view kMicroTime = "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime";
constexpr std::string_view kFieldsV1 = "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1";
constexpr std::string_view kQuantity = "io.k8s.apimachinery.pkg.api.resource.Quantity";
constexpr std::string_view kIntOrString = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
constexpr std::string_view kRawExtension = "io.k8s.apimachinery.pkg.runtime.RawExtension";
constexpr std::string_view kExtensions =
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.";

[[noreturn]] void malformed(const std::string& what) {
    throw bad_request("the body of the request is not a valid Kubernetes protobuf message: " +
                      what);
}

// A bounds-checked cursor over one message's bytes. Every read checks the remaining length
// first, so no input can make it read outside `data`.
class Reader {
  public:
    explicit Reader(std::string_view data) : data_(data) {}

    bool done() const { return pos_ == data_.size(); }

    std::uint64_t varint() {
        std::uint64_t value = 0;
        // At most 10 bytes (64 bits); like gogo-protobuf, bits past 64 in the 10th are ignored.
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos_ == data_.size()) malformed("truncated varint");
            const auto byte = static_cast<unsigned char>(data_[pos_++]);
            value |= std::uint64_t{byte & 0x7fU} << shift;
            if ((byte & 0x80U) == 0) return value;
        }
        malformed("varint longer than 10 bytes");
    }

    std::uint64_t fixed(int size) {
        if (data_.size() - pos_ < static_cast<std::size_t>(size))
            malformed("truncated fixed value");
        std::uint64_t value = 0;
        for (int i = 0; i < size; ++i) {
            value |= std::uint64_t{static_cast<unsigned char>(data_[pos_++])} << (8 * i);
        }
        return value;
    }

    std::string_view bytes() {
        const std::uint64_t length = varint();
        if (length > data_.size() - pos_) malformed("length past the end of the data");
        const auto out = data_.substr(pos_, static_cast<std::size_t>(length));
        pos_ += static_cast<std::size_t>(length);
        return out;
    }

    // The next field's number and wire type.
    std::pair<int, int> key() {
        const std::uint64_t key = varint();
        const std::uint64_t number = key >> 3;
        if (number == 0 || number > kMaxFieldNumber) {
            malformed("illegal field number " + std::to_string(number));
        }
        return {static_cast<int>(number), static_cast<int>(key & 7U)};
    }

    // Skips an unknown field's value; groups (deprecated, never written by Kubernetes) are
    // skipped to their end.
    void skip(int wire, int depth) {
        switch (wire) {
            case kVarint:
                varint();
                return;
            case kFixed64:
                fixed(8);
                return;
            case kBytes:
                bytes();
                return;
            case kFixed32:
                fixed(4);
                return;
            case kStartGroup:
                if (depth >= kMaxDepth) malformed("nesting deeper than 100 levels");
                for (;;) {
                    if (done()) malformed("unterminated group");
                    const auto [number, inner] = key();
                    if (inner == kEndGroup) return;
                    skip(inner, depth + 1);
                }
            case kEndGroup:
                malformed("unexpected end of group");
            default:
                malformed("invalid wire type " + std::to_string(wire));
        }
    }

  private:
    std::string_view data_;
    std::size_t pos_ = 0;
};

// One occurrence of a field: the payload its wire type carries.
struct Raw {
    int wire = kBytes;
    std::uint64_t number = 0;  // varint and fixed values
    std::string_view bytes;    // length-delimited values
};

Raw read_raw(Reader& in, int wire) {
    Raw raw;
    raw.wire = wire;
    switch (wire) {
        case kVarint:
            raw.number = in.varint();
            break;
        case kFixed64:
            raw.number = in.fixed(8);
            break;
        case kFixed32:
            raw.number = in.fixed(4);
            break;
        case kBytes:
            raw.bytes = in.bytes();
            break;
        default:
            malformed("invalid wire type " + std::to_string(wire) + " for a known field");
    }
    return raw;
}

// Go's encoding/json writes strings as valid UTF-8, replacing each byte of an invalid sequence
// (overlong forms, surrogates, values past U+10FFFF, truncation) with U+FFFD.
std::string valid_utf8(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    std::size_t i = 0;
    auto cont = [&](std::size_t at, unsigned lo, unsigned hi) {
        if (at >= in.size()) return false;
        const auto byte = static_cast<unsigned char>(in[at]);
        return byte >= lo && byte <= hi;
    };
    while (i < in.size()) {
        const auto lead = static_cast<unsigned char>(in[i]);
        std::size_t size = 0;
        if (lead < 0x80) {
            size = 1;
        } else if (lead >= 0xc2 && lead <= 0xdf) {
            size = cont(i + 1, 0x80, 0xbf) ? 2 : 0;
        } else if (lead >= 0xe0 && lead <= 0xef) {
            const unsigned lo = lead == 0xe0 ? 0xa0 : 0x80;
            const unsigned hi = lead == 0xed ? 0x9f : 0xbf;
            size = cont(i + 1, lo, hi) && cont(i + 2, 0x80, 0xbf) ? 3 : 0;
        } else if (lead >= 0xf0 && lead <= 0xf4) {
            const unsigned lo = lead == 0xf0 ? 0x90 : 0x80;
            const unsigned hi = lead == 0xf4 ? 0x8f : 0xbf;
            size =
                cont(i + 1, lo, hi) && cont(i + 2, 0x80, 0xbf) && cont(i + 3, 0x80, 0xbf) ? 4 : 0;
        }
        if (size == 0) {
            out += "\xef\xbf\xbd";
            ++i;
        } else {
            out.append(in.substr(i, size));
            i += size;
        }
    }
    return out;
}

// "2006-01-02T15:04:05Z" (metav1.Time) or with `micros` "2006-01-02T15:04:05.000000Z"
// (metav1.MicroTime), in UTC as both MarshalJSON methods write it.
std::string rfc3339(std::int64_t seconds, std::optional<std::int64_t> micros) {
    if (seconds < kZeroTimeSeconds || seconds > kMaxTimeSeconds) {
        malformed("timestamp " + std::to_string(seconds) + " is outside years 0001 to 9999");
    }
    // Days since 1970-01-01 to a civil date (proleptic Gregorian; H. Hinnant's algorithm).
    std::int64_t days = seconds / 86400;
    std::int64_t rem = seconds % 86400;
    if (rem < 0) {
        rem += 86400;
        --days;
    }
    const std::int64_t z = days + 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const std::int64_t doe = z - era * 146097;
    const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const std::int64_t mp = (5 * doy + 2) / 153;
    const std::int64_t day = doy - (153 * mp + 2) / 5 + 1;
    const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
    const std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);

    char buffer[40];
    int length =
        std::snprintf(buffer, sizeof buffer, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld",
                      static_cast<long long>(year), static_cast<long long>(month),
                      static_cast<long long>(day), static_cast<long long>(rem / 3600),
                      static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60));
    std::string out(buffer, static_cast<std::size_t>(length));
    if (micros) {
        length = std::snprintf(buffer, sizeof buffer, ".%06lld", static_cast<long long>(*micros));
        out.append(buffer, static_cast<std::size_t>(length));
    }
    out += 'Z';
    return out;
}

// Go's time.Duration.String(): "1h0m0s", "1m30s", "1.5s", "300ms", "2µs", "0s".
std::string go_duration(std::int64_t nanoseconds) {
    std::string reversed;  // built from the end, as Go's formatter does
    const bool negative = nanoseconds < 0;
    std::uint64_t u = static_cast<std::uint64_t>(nanoseconds);
    if (negative) u = ~u + 1;
    auto integer = [&](std::uint64_t v) {
        do {
            reversed += static_cast<char>('0' + v % 10);
            v /= 10;
        } while (v > 0);
    };
    // The fraction of v / 10^precision without trailing zeros; returns the integer part.
    auto fraction = [&](std::uint64_t v, int precision) {
        bool print = false;
        for (int i = 0; i < precision; ++i) {
            const auto digit = v % 10;
            print = print || digit != 0;
            if (print) reversed += static_cast<char>('0' + digit);
            v /= 10;
        }
        if (print) reversed += '.';
        return v;
    };
    if (u < 1'000'000'000) {
        reversed += 's';
        int precision = 0;
        if (u == 0) {
            return "0s";
        } else if (u < 1'000) {
            reversed += 'n';
        } else if (u < 1'000'000) {
            precision = 3;
            reversed += "\xb5\xc2";  // "µ" (U+00B5), reversed
        } else {
            precision = 6;
            reversed += 'm';
        }
        integer(fraction(u, precision));
    } else {
        reversed += 's';
        u = fraction(u, 9);
        integer(u % 60);
        u /= 60;
        if (u > 0) {
            reversed += 'm';
            integer(u % 60);
            u /= 60;
            if (u > 0) {
                reversed += 'h';
                integer(u);
            }
        }
    }
    if (negative) reversed += '-';
    return {reversed.rbegin(), reversed.rend()};
}

// How one value is encoded, from its schema node.
enum class Kind {
    kUnknown,  // no protobuf meaning here: skipped like an unknown field
    kString,
    kBytes,
    kInt32,
    kInt64,
    kBool,
    kDouble,
    kFloat,
    kMessage,
    kTime,
    kMicroTime,
    kDuration,
    kIntOrString,
    kQuantity,
    kRawJson,  // runtime.RawExtension, metav1.FieldsV1, apiextensions JSON: {1: JSON bytes}
    kPropsOrArray,
    kPropsOrBool,
    kPropsOrStringArray,
    kWrappedList,
};

int wire_of(Kind kind) {
    switch (kind) {
        case Kind::kInt32:
        case Kind::kInt64:
        case Kind::kBool:
            return kVarint;
        case Kind::kDouble:
            return kFixed64;
        case Kind::kFloat:
            return kFixed32;
        default:
            return kBytes;
    }
}

bool packable(Kind kind) {
    return wire_of(kind) != kBytes;
}

// A property as the decoder finds it by field number.
struct Entry {
    std::string_view name;
    const Schema* node = nullptr;  // the property as written (carries x-kcube-proto)
};

// A definition's properties by field number: direct fields, and the fields of each embedded
// struct that JSON inlines but protobuf nests at its own field number.
struct Index {
    std::map<int, Entry> direct;
    std::map<int, std::map<int, Entry>> embedded;
    // Pointers, slices, maps and []byte without omitempty: Go writes null when the wire had
    // none.
    std::vector<Entry> null_when_absent;
};

class Decoder {
  public:
    explicit Decoder(const SchemaSet& schemas)
        : schemas_(schemas),
          time_(schemas.find(kTime)),
          micro_time_(schemas.find(kMicroTime)),
          fields_v1_(schemas.find(kFieldsV1)),
          quantity_(schemas.find(kQuantity)),
          int_or_string_(schemas.find(kIntOrString)),
          raw_extension_(schemas.find(kRawExtension)),
          json_(schemas.find(std::string(kExtensions) + "JSON")),
          props_(schemas.find(std::string(kExtensions) + "JSONSchemaProps")),
          props_or_array_(schemas.find(std::string(kExtensions) + "JSONSchemaPropsOrArray")),
          props_or_bool_(schemas.find(std::string(kExtensions) + "JSONSchemaPropsOrBool")),
          props_or_strings_(
              schemas.find(std::string(kExtensions) + "JSONSchemaPropsOrStringArray")) {}

    // The envelope: magic, then runtime.Unknown {1: TypeMeta {1: apiVersion, 2: kind}, 2: raw,
    // 3: contentEncoding, 4: contentType}.
    json::object envelope(std::string_view body, int depth) {
        check_depth(depth);
        if (body.empty()) malformed("empty data");
        if (!body.starts_with(kMagic)) malformed("the data does not start with \"k8s\\x00\"");
        if (body.size() == kMagic.size()) malformed("empty body");
        std::string api_version;
        std::string kind;
        std::string_view raw;
        Reader in(body.substr(kMagic.size()));
        while (!in.done()) {
            const auto [number, wire] = in.key();
            if (number == 1 || number == 2) {
                if (wire != kBytes) wrong_wire("Unknown", number, wire);
                const auto bytes = in.bytes();
                if (number == 2) {
                    raw = bytes;
                    continue;
                }
                Reader type_meta(bytes);
                while (!type_meta.done()) {
                    const auto [meta_field, inner] = type_meta.key();
                    if (meta_field != 1 && meta_field != 2) {
                        type_meta.skip(inner, depth + 1);
                        continue;
                    }
                    if (inner != kBytes) wrong_wire("TypeMeta", meta_field, inner);
                    (meta_field == 1 ? api_version : kind) = valid_utf8(type_meta.bytes());
                }
            } else {
                // contentEncoding and contentType: upstream ignores both when decoding.
                in.skip(wire, depth);
            }
        }
        if (kind.empty()) throw bad_request("Object 'Kind' is missing in the protobuf envelope");
        if (api_version.empty()) {
            throw bad_request("Object 'apiVersion' is missing in the protobuf envelope");
        }
        const auto slash = api_version.find('/');
        const std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
        const std::string version =
            slash == std::string::npos ? api_version : api_version.substr(slash + 1);
        const Schema* definition = schemas_.find(definition_name_for(group, version, kind));
        if (definition == nullptr || definition->properties.empty()) {
            throw bad_request("no kind \"" + kind + "\" is registered for version \"" +
                              api_version + "\"");
        }
        // Go writes TypeMeta first, kind before apiVersion.
        json::object out;
        out["kind"] = kind;
        out["apiVersion"] = api_version;
        message(raw, definition, out, depth + 1);
        return out;
    }

  private:
    [[noreturn]] static void wrong_wire(std::string_view where, int number, int wire) {
        malformed("wrong wire type " + std::to_string(wire) + " for field " +
                  std::to_string(number) + " of " + std::string(where));
    }

    static void check_depth(int depth) {
        if (depth > kMaxDepth) malformed("nesting deeper than 100 levels");
    }

    Kind kind_of(const Schema* node) const {
        if (node == nullptr) return Kind::kUnknown;
        if (node->proto_kind == "duration") return Kind::kDuration;
        if (node->proto_kind == "wrappedList") return Kind::kWrappedList;
        const Schema* type = schemas_.resolve(node);
        if (type == nullptr) return Kind::kUnknown;
        const std::pair<const Schema*, Kind> specials[] = {
            {time_, Kind::kTime},
            {micro_time_, Kind::kMicroTime},
            {quantity_, Kind::kQuantity},
            {int_or_string_, Kind::kIntOrString},
            {raw_extension_, Kind::kRawJson},
            {fields_v1_, Kind::kRawJson},
            {json_, Kind::kRawJson},
            {props_or_array_, Kind::kPropsOrArray},
            {props_or_bool_, Kind::kPropsOrBool},
            {props_or_strings_, Kind::kPropsOrStringArray},
        };
        for (const auto& [special, kind] : specials) {
            if (special != nullptr && type == special) return kind;
        }
        if (type->type == "string") return type->format == "byte" ? Kind::kBytes : Kind::kString;
        if (type->type == "integer") return type->format == "int32" ? Kind::kInt32 : Kind::kInt64;
        if (type->type == "boolean") return Kind::kBool;
        if (type->type == "number") return type->format == "float" ? Kind::kFloat : Kind::kDouble;
        if (!type->properties.empty()) return Kind::kMessage;
        if (type->type == "object" && type->additional_properties == nullptr) return Kind::kMessage;
        return Kind::kUnknown;
    }

    static bool is_map(const Schema* type) {
        return type->type == "object" && type->properties.empty() &&
               type->additional_properties != nullptr;
    }

    const Index& index_of(const Schema* definition) {
        const auto found = indexes_.find(definition);
        if (found != indexes_.end()) return found->second;
        Index index;
        for (const auto& [name, property] : definition->properties) {
            if (!property || property->proto_tag == 0) continue;
            const Entry entry{name, property.get()};
            if (property->proto_embedded_in == 0) {
                index.direct.emplace(property->proto_tag, entry);
            } else {
                index.embedded[property->proto_embedded_in].emplace(property->proto_tag, entry);
            }
            if (property->proto_null_if_absent) index.null_when_absent.push_back(entry);
        }
        return indexes_.emplace(definition, std::move(index)).first->second;
    }

    // Decodes a message's fields into `out`. A message field that occurs again merges into the
    // same object, as protobuf specifies (later scalars win, lists and maps grow).
    void message(std::string_view data, const Schema* definition, json::object& out, int depth) {
        check_depth(depth);
        const Index& index = index_of(definition);
        Reader in(data);
        while (!in.done()) {
            const auto [number, wire] = in.key();
            if (const auto direct = index.direct.find(number); direct != index.direct.end()) {
                field(out, direct->second, wire, in, depth);
            } else if (const auto embedded = index.embedded.find(number);
                       embedded != index.embedded.end()) {
                if (wire != kBytes) wrong_wire("an embedded struct", number, wire);
                check_depth(depth + 1);
                Reader inner(in.bytes());
                while (!inner.done()) {
                    const auto [field_number, field_wire] = inner.key();
                    if (const auto it = embedded->second.find(field_number);
                        it != embedded->second.end()) {
                        field(out, it->second, field_wire, inner, depth + 1);
                    } else {
                        inner.skip(field_wire, depth + 1);
                    }
                }
            } else {
                in.skip(wire, depth);
            }
        }
        for (const auto& entry : index.null_when_absent) {
            if (!out.contains(entry.name)) out[entry.name] = nullptr;
        }
    }

    void field(json::object& out, const Entry& entry, int wire, Reader& in, int depth) {
        const Schema* type = schemas_.resolve(entry.node);
        const bool plain = entry.node->proto_kind.empty();
        if (type != nullptr && plain && type->type == "array" && type->items) {
            const Schema* items = type->items.get();
            const Kind kind = kind_of(items);
            if (kind == Kind::kUnknown) return in.skip(wire, depth);
            const Raw raw = read_raw(in, wire);
            json::value& slot = out[entry.name];
            if (!slot.is_array()) slot = json::array();
            repeated(slot.get_array(), items, kind, raw, depth, entry.name);
            return;
        }
        if (type != nullptr && plain && is_map(type)) {
            const Schema* value_node = type->additional_properties.get();
            const Kind kind = kind_of(value_node);
            if (kind == Kind::kUnknown) return in.skip(wire, depth);
            if (wire != kBytes) wrong_wire(entry.name, entry.node->proto_tag, wire);
            const auto data = in.bytes();
            json::value& slot = out[entry.name];
            if (!slot.is_object()) slot = json::object();
            map_entry(slot.get_object(), value_node, kind, data, depth);
            return;
        }
        const Kind kind = kind_of(entry.node);
        if (kind == Kind::kUnknown) return in.skip(wire, depth);
        const Raw raw = read_raw(in, wire);
        if (kind == Kind::kMessage) {
            // Structs are never omitted by Go's JSON (an empty one is {}), and a message that
            // occurs twice merges.
            if (wire != kBytes) wrong_wire(entry.name, entry.node->proto_tag, wire);
            json::value& slot = out[entry.name];
            if (!slot.is_object()) slot = json::object();
            message(raw.bytes, type, slot.get_object(), depth + 1);
            return;
        }
        json::value value = convert(entry.node, kind, raw, depth, entry.name);
        if (!entry.node->proto_keep_zero && is_zero(kind, value)) {
            out.erase(entry.name);
        } else {
            out[entry.name] = std::move(value);
        }
    }

    // Zero values that omitempty drops: scalars and empty lists. Structs (timestamps,
    // quantities, int-or-string...) are never omitted.
    static bool is_zero(Kind kind, const json::value& value) {
        switch (kind) {
            case Kind::kString:
            case Kind::kBytes:
                return value.get_string().empty();
            case Kind::kInt32:
            case Kind::kInt64:
                return value.get_int64() == 0;
            case Kind::kBool:
                return !value.get_bool();
            case Kind::kDouble:
            case Kind::kFloat:
                return value.get_double() == 0;
            case Kind::kWrappedList:
                return value.is_null();
            default:
                return false;
        }
    }

    // One occurrence of a repeated field: one element, or several packed into one payload.
    void repeated(json::array& out, const Schema* items, Kind kind, const Raw& raw, int depth,
                  std::string_view name) {
        if (packable(kind) && raw.wire == kBytes) {
            Reader packed(raw.bytes);
            while (!packed.done()) {
                out.push_back(convert(items, kind, read_raw_packed(packed, kind), depth, name));
            }
            return;
        }
        out.push_back(convert(items, kind, raw, depth, name));
    }

    static Raw read_raw_packed(Reader& in, Kind kind) {
        Raw raw;
        raw.wire = wire_of(kind);
        raw.number = raw.wire == kVarint    ? in.varint()
                     : raw.wire == kFixed64 ? in.fixed(8)
                                            : in.fixed(4);
        return raw;
    }

    // A map entry message {1: key, 2: value}; a missing part is its type's zero value.
    void map_entry(json::object& out, const Schema* value_node, Kind kind, std::string_view data,
                   int depth) {
        check_depth(depth + 1);
        std::string key;
        std::optional<json::value> value;
        Reader in(data);
        while (!in.done()) {
            const auto [number, wire] = in.key();
            if (number == 1) {
                if (wire != kBytes) wrong_wire("a map entry", number, wire);
                key = valid_utf8(in.bytes());
            } else if (number == 2) {
                value = convert(value_node, kind, read_raw(in, wire), depth + 1, "a map value");
            } else {
                in.skip(wire, depth + 1);
            }
        }
        if (!value) {
            Raw empty;
            empty.wire = wire_of(kind);
            value = convert(value_node, kind, empty, depth + 1, "a map value");
        }
        out[key] = std::move(*value);
    }

    // A single value of `kind` from its wire payload (for messages, `depth` is the enclosing
    // message's depth).
    json::value convert(const Schema* node, Kind kind, const Raw& raw, int depth,
                        std::string_view name) {
        if (raw.wire != wire_of(kind)) {
            malformed("wrong wire type " + std::to_string(raw.wire) + " for " + std::string(name));
        }
        switch (kind) {
            case Kind::kString:
                return json::string(valid_utf8(raw.bytes));
            case Kind::kBytes:
                return json::string(base64::encode(raw.bytes));
            case Kind::kInt32:
                // int32 is sign-extended to 64 bits on the wire; the low 32 bits are the value.
                return static_cast<std::int64_t>(
                    static_cast<std::int32_t>(static_cast<std::uint32_t>(raw.number)));
            case Kind::kInt64:
                return static_cast<std::int64_t>(raw.number);
            case Kind::kBool:
                return raw.number != 0;
            case Kind::kDouble:
                return finite(std::bit_cast<double>(raw.number), name);
            case Kind::kFloat:
                return finite(std::bit_cast<float>(static_cast<std::uint32_t>(raw.number)), name);
            case Kind::kMessage: {
                json::object object;
                message(raw.bytes, schemas_.resolve(node), object, depth + 1);
                return object;
            }
            case Kind::kTime:
            case Kind::kMicroTime:
                return timestamp(raw.bytes, kind == Kind::kMicroTime, depth);
            case Kind::kDuration:
                return duration(raw.bytes, depth);
            case Kind::kIntOrString:
                return int_or_string(raw.bytes, depth);
            case Kind::kQuantity:
                return quantity(raw.bytes, depth);
            case Kind::kRawJson:
                return raw_json(raw.bytes, depth);
            case Kind::kPropsOrArray:
            case Kind::kPropsOrBool:
            case Kind::kPropsOrStringArray:
                return schema_union(kind, raw.bytes, depth);
            case Kind::kWrappedList:
                return wrapped_list(node, raw.bytes, depth, name);
            case Kind::kUnknown:
                break;
        }
        return nullptr;
    }

    static double finite(double value, std::string_view name) {
        // Go's encoding/json refuses NaN and infinities.
        if (!std::isfinite(value)) malformed(std::string(name) + " is not a finite number");
        return value;
    }

    // Walks a small fixed-layout message, handing each field to `on_field`; unknown fields are
    // skipped.
    template <typename OnField>
    static void fields(std::string_view data, int depth, OnField on_field) {
        check_depth(depth + 1);
        Reader in(data);
        while (!in.done()) {
            const auto [number, wire] = in.key();
            if (!on_field(number, wire, in)) in.skip(wire, depth + 1);
        }
    }

    static std::uint64_t expect_varint(Reader& in, int number, int wire, std::string_view where) {
        if (wire != kVarint) wrong_wire(where, number, wire);
        return in.varint();
    }

    static std::string_view expect_bytes(Reader& in, int number, int wire, std::string_view where) {
        if (wire != kBytes) wrong_wire(where, number, wire);
        return in.bytes();
    }

    // metav1.Time / MicroTime: {1: int64 seconds, 2: int32 nanos}; empty is the zero time.
    static json::value timestamp(std::string_view data, bool micro, int depth) {
        if (data.empty()) return nullptr;
        std::int64_t seconds = 0;
        std::int32_t nanos = 0;
        fields(data, depth, [&](int number, int wire, Reader& in) {
            if (number == 1) {
                seconds = static_cast<std::int64_t>(expect_varint(in, number, wire, "Timestamp"));
            } else if (number == 2) {
                nanos = static_cast<std::int32_t>(
                    static_cast<std::uint32_t>(expect_varint(in, number, wire, "Timestamp")));
            } else {
                return false;
            }
            return true;
        });
        if (!micro) {
            // Time keeps whole seconds only (upstream drops the nanos it reads).
            if (seconds == kZeroTimeSeconds) return nullptr;
            return json::string(rfc3339(seconds, std::nullopt));
        }
        // Truncated toward zero to microseconds, then normalised into [0, 1s) like Go's
        // time.Unix; the range check first keeps the carry from overflowing.
        if (seconds < kZeroTimeSeconds - 3 || seconds > kMaxTimeSeconds + 3) {
            malformed("timestamp " + std::to_string(seconds) + " is outside years 0001 to 9999");
        }
        std::int64_t nsec = nanos - nanos % 1000;
        seconds += nsec / 1'000'000'000;
        nsec %= 1'000'000'000;
        if (nsec < 0) {
            nsec += 1'000'000'000;
            --seconds;
        }
        if (seconds == kZeroTimeSeconds && nsec == 0) return nullptr;
        return json::string(rfc3339(seconds, nsec / 1000));
    }

    // metav1.Duration: {1: int64 nanoseconds}.
    static json::value duration(std::string_view data, int depth) {
        std::int64_t nanoseconds = 0;
        fields(data, depth, [&](int number, int wire, Reader& in) {
            if (number != 1) return false;
            nanoseconds = static_cast<std::int64_t>(expect_varint(in, number, wire, "Duration"));
            return true;
        });
        return json::string(go_duration(nanoseconds));
    }

    // intstr.IntOrString: {1: type (0 int, 1 string), 2: int32 intVal, 3: string strVal}.
    static json::value int_or_string(std::string_view data, int depth) {
        std::uint64_t type = 0;
        std::int64_t int_value = 0;
        std::string_view string_value;
        fields(data, depth, [&](int number, int wire, Reader& in) {
            if (number == 1) {
                type = expect_varint(in, number, wire, "IntOrString");
            } else if (number == 2) {
                int_value = static_cast<std::int32_t>(
                    static_cast<std::uint32_t>(expect_varint(in, number, wire, "IntOrString")));
            } else if (number == 3) {
                string_value = expect_bytes(in, number, wire, "IntOrString");
            } else {
                return false;
            }
            return true;
        });
        if (type == 0) return int_value;
        if (type == 1) return json::string(valid_utf8(string_value));
        malformed("IntOrString type " + std::to_string(type) +
                  " is neither 0 (int) nor 1 (string)");
    }

    // resource.Quantity: {1: string}; absent is the zero quantity, "0".
    static json::value quantity(std::string_view data, int depth) {
        std::string_view text = "0";
        fields(data, depth, [&](int number, int wire, Reader& in) {
            if (number != 1) return false;
            text = expect_bytes(in, number, wire, "Quantity");
            return true;
        });
        if (text.empty()) malformed("a quantity is empty");
        return json::string(valid_utf8(text));
    }

    // {1: bytes} holding a JSON value (RawExtension, FieldsV1, apiextensions JSON); none or
    // empty is null. An object embedded as protobuf (it starts with the magic) is decoded too.
    json::value raw_json(std::string_view data, int depth) {
        std::string_view raw;
        fields(data, depth, [&](int number, int wire, Reader& in) {
            if (number != 1) return false;
            raw = expect_bytes(in, number, wire, "an embedded JSON value");
            return true;
        });
        if (raw.empty()) return nullptr;
        if (raw.starts_with(kMagic)) return envelope(raw, depth + 1);
        // The same parser and nesting limit as JSON request bodies.
        try {
            return parse_document(raw);
        } catch (const std::exception& e) {
            malformed(std::string("an embedded JSON value does not parse: ") + e.what());
        }
    }

    // apiextensions' JSONSchemaPropsOrArray {1: schema, 2: repeated schemas},
    // JSONSchemaPropsOrBool {1: allows, 2: schema} and JSONSchemaPropsOrStringArray
    // {1: schema, 2: repeated string}, written the way their MarshalJSON methods write them.
    json::value schema_union(Kind kind, std::string_view data, int depth) {
        if (props_ == nullptr) malformed("JSONSchemaProps is not defined");
        std::optional<json::object> schema;
        json::array list;
        bool allows = false;
        const int schema_field = kind == Kind::kPropsOrBool ? 2 : 1;
        fields(data, depth, [&](int number, int wire, Reader& in) {
            if (number == schema_field) {
                const auto bytes = expect_bytes(in, number, wire, "JSONSchemaProps");
                if (!schema) schema.emplace();
                message(bytes, props_, *schema, depth + 2);
            } else if (number == 1 && kind == Kind::kPropsOrBool) {
                allows = expect_varint(in, number, wire, "JSONSchemaPropsOrBool") != 0;
            } else if (number == 2 && kind == Kind::kPropsOrArray) {
                json::object item;
                message(expect_bytes(in, number, wire, "JSONSchemaProps"), props_, item, depth + 2);
                list.emplace_back(std::move(item));
            } else if (number == 2 && kind == Kind::kPropsOrStringArray) {
                list.emplace_back(valid_utf8(expect_bytes(in, number, wire, "a property")));
            } else {
                return false;
            }
            return true;
        });
        if (kind == Kind::kPropsOrBool) {
            if (schema) return std::move(*schema);
            return allows;
        }
        if (!list.empty()) return list;
        if (schema) return std::move(*schema);
        return nullptr;
    }

    // A Go named slice type (metav1.Verbs, ExtraValue): {1: repeated item}; none is null.
    json::value wrapped_list(const Schema* node, std::string_view data, int depth,
                             std::string_view name) {
        const Schema* type = schemas_.resolve(node);
        const Kind kind = type != nullptr && type->type == "array" && type->items
                              ? kind_of(type->items.get())
                              : Kind::kUnknown;
        json::array out;
        fields(data, depth, [&](int number, int wire, Reader& in) {
            if (number != 1 || kind == Kind::kUnknown) return false;
            repeated(out, type->items.get(), kind, read_raw(in, wire), depth + 1, name);
            return true;
        });
        // Go's nil slice: JSON null.
        if (out.empty()) return nullptr;
        return out;
    }

    const SchemaSet& schemas_;
    const Schema* time_;
    const Schema* micro_time_;
    const Schema* fields_v1_;
    const Schema* quantity_;
    const Schema* int_or_string_;
    const Schema* raw_extension_;
    const Schema* json_;
    const Schema* props_;
    const Schema* props_or_array_;
    const Schema* props_or_bool_;
    const Schema* props_or_strings_;
    std::map<const Schema*, Index> indexes_;
};

}  // namespace

bool is_kubernetes_protobuf(std::string_view content_type) {
    auto type = content_type.substr(0, content_type.find(';'));
    while (!type.empty() && (type.back() == ' ' || type.back() == '\t'))
        type.remove_suffix(1);
    while (!type.empty() && (type.front() == ' ' || type.front() == '\t'))
        type.remove_prefix(1);
    if (type.size() != kMediaType.size()) return false;
    for (std::size_t i = 0; i < type.size(); ++i) {
        char c = type[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != kMediaType[i]) return false;
    }
    return true;
}

json::object decode_kubernetes_protobuf(std::string_view body, const SchemaSet& schemas) {
    return Decoder(schemas).envelope(body, 0);
}

}  // namespace kcube::api
