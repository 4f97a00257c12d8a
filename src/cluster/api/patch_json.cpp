// JSON patch (RFC 6902) exactly as Kubernetes applies it: the apiserver uses evanphx/json-patch
// v4.12 (gopkg.in/evanphx/json-patch.v4), whose behaviour differs from the RFC in ways clients can
// see, and those differences are reproduced here on purpose:
//  - "replace" of a missing object member adds it (only a missing array index is an error);
//  - "copy" from a missing object member copies null;
//  - array indices are parsed like Go's strconv.Atoi ("+1", "01") and may be negative, counting
//    from the end (for "add", -1 means append);
//  - a path without a leading "/" drops its first token instead of failing;
//  - an op that is missing or unknown, or a path that is not a string, fails while the patch is
//    applied (422), not when it is decoded (400);
//  - the error messages are upstream's, which kubectl prints.
// The apiserver also caps a patch at 10000 operations and the bytes "copy" may add at 3 MiB.
#include <boost/json/serialize.hpp>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "patch.hpp"
#include "patch_detail.hpp"

namespace kcube::api {

namespace json = boost::json;

namespace {

using patch_detail::kMaxDepth;

constexpr std::size_t kMaxOperations = 10000;             // apiserver maxJSONPatchOperations
constexpr std::size_t kMaxCopyBytes = 3 * 1024 * 1024;    // apiserver JSONPatchMaxCopyBytes
constexpr std::string_view kMissing = ": missing value";  // evanphx ErrMissing, as wrapped
constexpr std::string_view kInvalidIndex = ": invalid index referenced";  // ErrInvalidIndex

[[noreturn]] void fail(std::string message) {
    throw PatchError(std::move(message));
}

// A failure inside a container primitive; the operation adds its own context, as upstream's
// errors.Wrapf does.
class AccessError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

[[noreturn]] void invalid_index(std::int64_t index) {
    throw AccessError("Unable to access invalid index: " + std::to_string(index) +
                      std::string(kInvalidIndex));
}

// Go's strconv.Atoi, which evanphx uses for array indices: an optional sign and decimal digits.
std::int64_t parse_index(std::string_view token) {
    const auto error = [&](std::string_view why) {
        return AccessError("strconv.Atoi: parsing \"" + std::string(token) +
                           "\": " + std::string(why));
    };
    std::string_view digits = token;
    bool negative = false;
    if (!digits.empty() && (digits.front() == '+' || digits.front() == '-')) {
        negative = digits.front() == '-';
        digits.remove_prefix(1);
    }
    if (digits.empty()) throw error("invalid syntax");
    std::uint64_t magnitude = 0;
    bool overflow = false;
    for (char c : digits) {
        if (c < '0' || c > '9') throw error("invalid syntax");
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (magnitude > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
            overflow = true;
        } else {
            magnitude = magnitude * 10 + digit;
        }
    }
    constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (overflow || magnitude > kMax + (negative ? 1 : 0)) throw error("value out of range");
    if (!negative) return static_cast<std::int64_t>(magnitude);
    return magnitude == kMax + 1 ? std::numeric_limits<std::int64_t>::min()
                                 : -static_cast<std::int64_t>(magnitude);
}

// An existing element's position from an index that may count from the end (v4.12 `get`,
// `set` and `remove`).
std::size_t existing_position(const json::array& array, std::string_view token) {
    std::int64_t index = parse_index(token);
    const auto size = static_cast<std::int64_t>(array.size());
    if (index < 0) {
        if (index < -size) invalid_index(index);
        index += size;
    }
    if (index >= size) invalid_index(index);
    return static_cast<std::size_t>(index);
}

// JSON pointer token decoding (RFC 6901): "~1" is "/", "~0" is "~", in one left-to-right pass.
std::string decode_token(std::string_view token) {
    std::string decoded;
    decoded.reserve(token.size());
    for (std::size_t i = 0; i < token.size(); ++i) {
        if (token[i] == '~' && i + 1 < token.size() &&
            (token[i + 1] == '0' || token[i + 1] == '1')) {
            decoded += token[i + 1] == '1' ? '/' : '~';
            ++i;
        } else {
            decoded += token[i];
        }
    }
    return decoded;
}

std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> tokens;
    std::size_t start = 0;
    while (true) {
        const std::size_t slash = path.find('/', start);
        tokens.push_back(path.substr(start, slash - start));
        if (slash == std::string_view::npos) return tokens;
        start = slash + 1;
    }
}

// The primitives below act on the container an operation's path ends in (an object or an array)
// and the path's last, decoded token.

// The member or element at `key`; nullptr when it is absent or null (both are a nil node
// upstream). A bad or out-of-range array index throws.
json::value* get_child(json::value& container, const std::string& key) {
    json::value* found = nullptr;
    if (auto* object = container.if_object()) {
        found = object->if_contains(key);
    } else {
        auto& array = container.get_array();
        found = &array[existing_position(array, key)];
    }
    return found != nullptr && !found->is_null() ? found : nullptr;
}

void add_child(json::value& container, const std::string& key, json::value value) {
    if (auto* object = container.if_object()) {
        (*object)[key] = std::move(value);
        return;
    }
    auto& array = container.get_array();
    if (key == "-") {
        array.push_back(std::move(value));
        return;
    }
    std::int64_t index = 0;
    try {
        index = parse_index(key);
    } catch (const AccessError& e) {
        throw AccessError("value was not a proper array index: '" + key + "': " + e.what());
    }
    // Inserting may also target one past the end, so the bounds count that slot.
    const auto slots = static_cast<std::int64_t>(array.size()) + 1;
    if (index >= slots) invalid_index(index);
    if (index < 0) {
        if (index < -slots) invalid_index(index);
        index += slots;
    }
    array.insert(array.begin() + index, std::move(value));
}

void set_child(json::value& container, const std::string& key, json::value value) {
    if (auto* object = container.if_object()) {
        (*object)[key] = std::move(value);
        return;
    }
    auto& array = container.get_array();
    array[existing_position(array, key)] = std::move(value);
}

void remove_child(json::value& container, const std::string& key) {
    if (auto* object = container.if_object()) {
        if (object->stable_erase(key) == 0) {
            throw AccessError("Unable to remove nonexistent key: " + key + std::string(kMissing));
        }
        return;
    }
    auto& array = container.get_array();
    array.erase(array.begin() + static_cast<std::ptrdiff_t>(existing_position(array, key)));
}

// Where a path leads: the container holding its target and the target's key.
struct Target {
    json::value* container;
    std::string key;
    std::size_t depth;  // how many containers enclose the target, the document included
};

// evanphx `findObject`: walks every token but the last; fails (nullopt) when a step is absent,
// null, a scalar or a bad index.
std::optional<Target> find_target(json::value& document, std::string_view path) {
    const auto tokens = split_path(path);
    if (tokens.size() < 2) return std::nullopt;
    json::value* container = &document;
    for (std::size_t i = 1; i + 1 < tokens.size(); ++i) {
        json::value* next = nullptr;
        try {
            next = get_child(*container, decode_token(tokens[i]));
        } catch (const AccessError&) {
            return std::nullopt;
        }
        if (next == nullptr || (!next->is_object() && !next->is_array())) return std::nullopt;
        container = next;
    }
    return Target{container, decode_token(tokens.back()), tokens.size() - 1};
}

// Keeps the result within kMaxDepth as values are inserted, so that nothing later recurses
// (copies, comparisons, destruction) through an unbounded nesting.
void require_insertable(const Target& target, const json::value& value) {
    const std::size_t room = kMaxDepth > target.depth ? kMaxDepth - target.depth : 0;
    if (patch_detail::depth_of(value, room) > room) {
        fail("the result would nest deeper than " + std::to_string(kMaxDepth) + " levels");
    }
}

// One decoded operation. Its fields are looked up as upstream does: `op` defaults to "unknown",
// `path`/`from` must be strings, and a missing `value` is a nil node (null for add/replace).
class Operation {
  public:
    explicit Operation(const json::object* fields) : fields_(fields) {}

    std::string kind() const {
        const json::value* op = field("op");
        if (op == nullptr || !op->is_string()) return "unknown";
        return std::string(op->get_string());
    }

    // The `path` (or `from`) string, or the reason it cannot be decoded.
    std::optional<std::string> text(std::string_view name, std::string& why) const {
        const json::value* found = field(name);
        if (found == nullptr) {
            why = name == "path" ? "operation missing path field: missing value"
                                 : "operation, missing from field: missing value";
            return std::nullopt;
        }
        if (!found->is_string()) {
            why = "json: cannot unmarshal " + std::string(patch_detail::json_type_name(*found)) +
                  " into Go value of type string";
            return std::nullopt;
        }
        return std::string(found->get_string());
    }

    bool has_value() const { return fields_ != nullptr && fields_->contains("value"); }
    json::value value() const {
        const json::value* found = fields_ != nullptr ? fields_->if_contains("value") : nullptr;
        return found != nullptr ? *found : json::value(nullptr);
    }

  private:
    // A member that is present and not null (a nil RawMessage upstream).
    const json::value* field(std::string_view name) const {
        if (fields_ == nullptr) return nullptr;
        const json::value* found = fields_->if_contains(name);
        return found != nullptr && !found->is_null() ? found : nullptr;
    }

    const json::object* fields_;  // nullptr for a null operation
};

class Applier {
  public:
    explicit Applier(json::value& document) : document_(document) {}

    void apply(const Operation& op) {
        const std::string kind = op.kind();
        if (kind == "add") return add_op(op);
        if (kind == "remove") return remove_op(op);
        if (kind == "replace") return replace_op(op);
        if (kind == "move") return move_op(op);
        if (kind == "test") return test_op(op);
        if (kind == "copy") return copy_op(op);
        fail("Unexpected kind: " + kind);
    }

  private:
    // `path` for add/remove/copy, whose decode errors upstream reports without the cause.
    static std::string path_or_missing(const Operation& op, std::string_view kind) {
        std::string why;
        auto path = op.text("path", why);
        if (!path)
            fail(std::string(kind) + " operation failed to decode path" + std::string(kMissing));
        return *path;
    }

    // `path`/`from` for the ops whose decode errors upstream reports with the cause.
    static std::string text_or_fail(const Operation& op, std::string_view name,
                                    std::string_view kind) {
        std::string why;
        auto text = op.text(name, why);
        if (!text) {
            fail(std::string(kind) + " operation failed to decode " + std::string(name) + ": " +
                 why);
        }
        return *text;
    }

    Target target_or_fail(std::string_view path, const std::string& message) {
        auto target = find_target(document_, path);
        if (!target) fail(message + std::string(kMissing));
        return *target;
    }

    void add_op(const Operation& op) {
        const std::string path = path_or_missing(op, "add");
        const Target target = target_or_fail(
            path, "add operation does not apply: doc is missing path: \"" + path + "\"");
        json::value value = op.value();
        require_insertable(target, value);
        try {
            add_child(*target.container, target.key, std::move(value));
        } catch (const AccessError& e) {
            fail("error in add for path: '" + path + "': " + e.what());
        }
    }

    void remove_op(const Operation& op) {
        const std::string path = path_or_missing(op, "remove");
        const Target target = target_or_fail(
            path, "remove operation does not apply: doc is missing path: \"" + path + "\"");
        try {
            remove_child(*target.container, target.key);
        } catch (const AccessError& e) {
            fail("error in remove for path: '" + path + "': " + e.what());
        }
    }

    void replace_op(const Operation& op) {
        const std::string path = text_or_fail(op, "path", "replace");
        if (path.empty()) return replace_document(op);
        const Target target =
            target_or_fail(path, "replace operation does not apply: doc is missing path: " + path);
        try {
            get_child(*target.container, target.key);
        } catch (const AccessError&) {
            fail("replace operation does not apply: doc is missing key: " + path +
                 std::string(kMissing));
        }
        json::value value = op.value();
        require_insertable(target, value);
        try {
            set_child(*target.container, target.key, std::move(value));
        } catch (const AccessError& e) {
            fail("error in remove for path: '" + path + "': " + e.what());  // upstream's wording
        }
    }

    // v4.12 replaces the whole document when the path is "", with an object or array. Any other
    // value is silently ignored: upstream wraps a nil error there, so the op succeeds unchanged.
    void replace_document(const Operation& op) {
        json::value value = op.value();
        if (!value.is_object() && !value.is_array()) return;
        require_insertable(Target{nullptr, {}, 0}, value);
        document_ = std::move(value);
    }

    void move_op(const Operation& op) {
        const std::string from = text_or_fail(op, "from", "move");
        const Target source = target_or_fail(
            from, "move operation does not apply: doc is missing from path: " + from);
        json::value value;
        try {
            if (json::value* found = get_child(*source.container, source.key))
                value = std::move(*found);
            remove_child(*source.container, source.key);
        } catch (const AccessError& e) {
            fail("error in move for path: '" + source.key + "': " + e.what());
        }
        const std::string path = text_or_fail(op, "path", "move");
        const Target target = target_or_fail(
            path, "move operation does not apply: doc is missing destination path: " + path);
        require_insertable(target, value);
        try {
            add_child(*target.container, target.key, std::move(value));
        } catch (const AccessError& e) {
            fail("error in move for path: '" + path + "': " + e.what());
        }
    }

    void test_op(const Operation& op) {
        const std::string path = text_or_fail(op, "path", "test");
        const auto failed = [&] { fail("testing value " + path + " failed: test failed"); };
        if (path.empty()) {
            if (!op.has_value() || op.value() != document_) failed();
            return;
        }
        const Target target =
            target_or_fail(path, "test operation does not apply: is missing path: " + path);
        const json::value* found = nullptr;
        try {
            found = get_child(*target.container, target.key);
        } catch (const AccessError& e) {
            fail("error in test for path: '" + path + "': " + e.what());
        }
        // An absent or null target matches only an explicit null value.
        const json::value expected = op.value();
        if (!op.has_value()) failed();
        if (found == nullptr ? !expected.is_null() : *found != expected) failed();
    }

    void copy_op(const Operation& op) {
        const std::string from = text_or_fail(op, "from", "copy");
        const Target source = target_or_fail(
            from, "copy operation does not apply: doc is missing from path: " + from);
        json::value value;
        try {
            if (const json::value* found = get_child(*source.container, source.key)) value = *found;
        } catch (const AccessError& e) {
            fail("error in copy for from: '" + from + "': " + e.what());
        }
        const std::string path = path_or_missing(op, "copy");
        const Target target = target_or_fail(
            path, "copy operation does not apply: doc is missing destination path: " + path);
        // Copies are the one way a patch can grow a document beyond its own size, so their total
        // is capped (upstream counts the marshalled bytes; a missing source counts nothing).
        if (!value.is_null()) copied_bytes_ += json::serialize(value).size();
        if (copied_bytes_ > kMaxCopyBytes) {
            fail("Unable to complete the copy, the accumulated size increase of copy is " +
                 std::to_string(copied_bytes_) + ", exceeding the limit " +
                 std::to_string(kMaxCopyBytes));
        }
        require_insertable(target, value);
        try {
            add_child(*target.container, target.key, std::move(value));
        } catch (const AccessError& e) {
            fail(std::string("error while adding value during copy: ") + e.what());
        }
    }

    json::value& document_;
    std::size_t copied_bytes_ = 0;
};

// DecodePatch: the only failures that make the patch itself a bad request (400).
std::vector<Operation> decode_operations(const json::value& patch) {
    std::vector<Operation> operations;
    if (patch.is_null()) return operations;  // a null patch decodes to no operations
    const auto* array = patch.if_array();
    if (array == nullptr) {
        throw PatchError("json: cannot unmarshal " +
                             std::string(patch_detail::json_type_name(patch)) +
                             " into Go value of type jsonpatch.Patch",
                         true);
    }
    operations.reserve(array->size());
    for (const auto& element : *array) {
        if (element.is_null()) {
            operations.emplace_back(nullptr);
        } else if (const auto* object = element.if_object()) {
            operations.emplace_back(object);
        } else {
            throw PatchError("json: cannot unmarshal " +
                                 std::string(patch_detail::json_type_name(element)) +
                                 " into Go value of type jsonpatch.Operation",
                             true);
        }
    }
    return operations;
}

}  // namespace

json::value apply_json_patch(const json::value& document, const json::value& patch) {
    // Operations carry values two levels below the patch array.
    patch_detail::require_depth(patch, kMaxDepth + 2, "the patch", true);
    const auto operations = decode_operations(patch);
    if (operations.size() > kMaxOperations) {
        fail("The allowed maximum operations in a JSON patch is " + std::to_string(kMaxOperations) +
             ", got " + std::to_string(operations.size()));
    }
    if (!document.is_object() && !document.is_array()) {
        fail("json: cannot unmarshal " + std::string(patch_detail::json_type_name(document)) +
             " into Go value of type jsonpatch.partialDoc");
    }
    patch_detail::require_depth(document, kMaxDepth, "the document", false);
    json::value result = document;
    Applier applier(result);
    for (const auto& operation : operations)
        applier.apply(operation);
    return result;
}

}  // namespace kcube::api
