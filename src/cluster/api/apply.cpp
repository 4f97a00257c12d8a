#include "cluster/api/apply.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>

#include "cluster/api/errors.hpp"
#include "cluster/api/meta.hpp"
#include "cluster/api/schema.hpp"

namespace kcube::api {
namespace json = boost::json;

namespace {

// ---------------------------------------------------------------------------------------------
// JSON text exactly as Go's encoding/json writes it. FieldsV1 keys ("k:{...}", "v:..."), manager
// identifiers and the last-applied annotation are compared and sorted as strings upstream, so
// they must be byte-identical: sorted object keys, HTML-safe escaping, Go's float formatting.

constexpr char kHexDigits[] = "0123456789abcdef";

// Length of the valid UTF-8 sequence at `at`, or 0 if the bytes there are not one.
std::size_t utf8_length(std::string_view text, std::size_t at) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char lead = byte(at);
    std::size_t length = 0;
    std::uint32_t min = 0;
    if (lead >= 0xc2 && lead <= 0xdf) {
        length = 2;
        min = 0x80;
    } else if (lead >= 0xe0 && lead <= 0xef) {
        length = 3;
        min = 0x800;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
        length = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (at + length > text.size()) return 0;
    std::uint32_t code = lead & (0x7f >> length);
    for (std::size_t i = 1; i < length; ++i) {
        if ((byte(at + i) & 0xc0) != 0x80) return 0;
        code = (code << 6) | (byte(at + i) & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return 0;
    return length;
}

void append_escaped_byte(std::string& out, unsigned char c) {
    out += "\\u00";
    out += kHexDigits[c >> 4];
    out += kHexDigits[c & 0xf];
}

void append_go_json_string(std::string& out, std::string_view text) {
    out += '"';
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            switch (c) {
                case '"':
                    out += "\\\"";
                    break;
                case '\\':
                    out += "\\\\";
                    break;
                case '\n':
                    out += "\\n";
                    break;
                case '\r':
                    out += "\\r";
                    break;
                case '\t':
                    out += "\\t";
                    break;
                case '\b':
                    out += "\\b";
                    break;
                case '\f':
                    out += "\\f";
                    break;
                default:
                    if (c < 0x20 || c == '<' || c == '>' || c == '&') {
                        append_escaped_byte(out, c);
                    } else {
                        out += static_cast<char>(c);
                    }
            }
            ++i;
            continue;
        }
        const std::size_t length = utf8_length(text, i);
        if (length == 0) {
            out += "\\ufffd";
            ++i;
            continue;
        }
        // U+2028 and U+2029 are escaped so the text is safe inside JavaScript, as Go does.
        if (length == 3 && c == 0xe2 && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
            (static_cast<unsigned char>(text[i + 2]) & 0xfe) == 0xa8) {
            out += static_cast<unsigned char>(text[i + 2]) == 0xa8 ? "\\u2028" : "\\u2029";
        } else {
            out.append(text.substr(i, length));
        }
        i += length;
    }
    out += '"';
}

// Go's strconv.FormatFloat(f, 'f' or 'e', -1, 64) as encoding/json picks between them.
std::string go_float(double value) {
    char buffer[64];
    const double magnitude = std::fabs(value);
    if (magnitude != 0 && (magnitude < 1e-6 || magnitude >= 1e21)) {
        const auto end =
            std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific).ptr;
        std::string text(buffer, end);
        // C++ writes at least two exponent digits ("1e-07"); Go writes "1e-07" as "1e-7".
        const auto e = text.find('e');
        if (e != std::string::npos && e + 3 < text.size() && text[e + 2] == '0') {
            text.erase(e + 2, 1);
        }
        return text;
    }
    const auto end =
        std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed).ptr;
    return std::string(buffer, end);
}

void append_go_json(std::string& out, const json::value& value) {
    switch (value.kind()) {
        case json::kind::null:
            out += "null";
            return;
        case json::kind::bool_:
            out += value.get_bool() ? "true" : "false";
            return;
        case json::kind::int64:
            out += std::to_string(value.get_int64());
            return;
        case json::kind::uint64:
            out += std::to_string(value.get_uint64());
            return;
        case json::kind::double_:
            out += go_float(value.get_double());
            return;
        case json::kind::string:
            append_go_json_string(out, value.get_string());
            return;
        case json::kind::array: {
            out += '[';
            bool first = true;
            for (const auto& item : value.get_array()) {
                if (!first) out += ',';
                first = false;
                append_go_json(out, item);
            }
            out += ']';
            return;
        }
        case json::kind::object: {
            // Go encodes maps with their keys sorted bytewise.
            std::vector<const json::key_value_pair*> entries;
            for (const auto& entry : value.get_object())
                entries.push_back(&entry);
            std::sort(entries.begin(), entries.end(),
                      [](const auto* a, const auto* b) { return a->key() < b->key(); });
            out += '{';
            bool first = true;
            for (const auto* entry : entries) {
                if (!first) out += ',';
                first = false;
                append_go_json_string(out, entry->key());
                out += ':';
                append_go_json(out, entry->value());
            }
            out += '}';
            return;
        }
    }
}

std::string go_json(const json::value& value) {
    std::string out;
    append_go_json(out, value);
    return out;
}

// Go's %q (strconv.Quote): the quoting upstream uses for strings in field paths and manager
// names in conflict messages.
std::string go_quote(std::string_view text) {
    std::string out = "\"";
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x80) {
            const std::size_t length = utf8_length(text, i);
            if (length == 0) {
                out += "\\x";
                out += kHexDigits[c >> 4];
                out += kHexDigits[c & 0xf];
                ++i;
            } else {
                out.append(text.substr(i, length));
                i += length;
            }
            continue;
        }
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\a':
                out += "\\a";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\v':
                out += "\\v";
                break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    out += "\\x";
                    out += kHexDigits[c >> 4];
                    out += kHexDigits[c & 0xf];
                } else {
                    out += static_cast<char>(c);
                }
        }
        ++i;
    }
    out += '"';
    return out;
}

// ---------------------------------------------------------------------------------------------
// Value order and equality as SMD's value.Compare / value.Equals: numbers compare numerically
// whether integer or float, then strings, booleans, lists, maps, null.

bool is_number(const json::value& v) {
    return v.is_int64() || v.is_uint64() || v.is_double();
}

double number_as_double(const json::value& v) {
    if (v.is_int64()) return static_cast<double>(v.get_int64());
    if (v.is_uint64()) return static_cast<double>(v.get_uint64());
    return v.get_double();
}

int three_way(auto a, auto b) {
    return a < b ? -1 : (b < a ? 1 : 0);
}

int compare_numbers(const json::value& a, const json::value& b) {
    if (a.is_double() || b.is_double()) return three_way(number_as_double(a), number_as_double(b));
    if (a.is_int64() && b.is_int64()) return three_way(a.get_int64(), b.get_int64());
    if (a.is_uint64() && b.is_uint64()) return three_way(a.get_uint64(), b.get_uint64());
    // One signed, one unsigned: a negative signed value is the smaller.
    if (a.is_int64()) {
        return a.get_int64() < 0
                   ? -1
                   : three_way(static_cast<std::uint64_t>(a.get_int64()), b.get_uint64());
    }
    return b.get_int64() < 0 ? 1
                             : three_way(a.get_uint64(), static_cast<std::uint64_t>(b.get_int64()));
}

int value_rank(const json::value& v) {
    if (is_number(v)) return 0;
    if (v.is_string()) return 1;
    if (v.is_bool()) return 2;
    if (v.is_array()) return 3;
    if (v.is_object()) return 4;
    return 5;  // null
}

int compare_values(const json::value& a, const json::value& b);

int compare_objects(const json::object& a, const json::object& b) {
    std::vector<std::string_view> a_keys, b_keys;
    for (const auto& entry : a)
        a_keys.push_back(entry.key());
    for (const auto& entry : b)
        b_keys.push_back(entry.key());
    std::sort(a_keys.begin(), a_keys.end());
    std::sort(b_keys.begin(), b_keys.end());
    for (std::size_t i = 0;; ++i) {
        if (i >= a_keys.size() || i >= b_keys.size()) {
            return three_way(a_keys.size(), b_keys.size());
        }
        if (const int c = a_keys[i].compare(b_keys[i]); c != 0) return c < 0 ? -1 : 1;
        if (const int c = compare_values(a.at(a_keys[i]), b.at(b_keys[i])); c != 0) return c;
    }
}

int compare_values(const json::value& a, const json::value& b) {
    const int rank = value_rank(a);
    if (rank != value_rank(b)) return three_way(rank, value_rank(b));
    switch (rank) {
        case 0:
            return compare_numbers(a, b);
        case 1: {
            const int c = a.get_string().subview().compare(b.get_string().subview());
            return c < 0 ? -1 : (c > 0 ? 1 : 0);
        }
        case 2:
            return three_way(a.get_bool(), b.get_bool());
        case 3: {
            const auto& x = a.get_array();
            const auto& y = b.get_array();
            for (std::size_t i = 0;; ++i) {
                if (i >= x.size() || i >= y.size()) return three_way(x.size(), y.size());
                if (const int c = compare_values(x[i], y[i]); c != 0) return c;
            }
        }
        case 4:
            return compare_objects(a.get_object(), b.get_object());
        default:
            return 0;
    }
}

bool values_equal(const json::value& a, const json::value& b) {
    if (is_number(a) || is_number(b)) {
        return is_number(a) && is_number(b) && compare_numbers(a, b) == 0;
    }
    if (a.kind() != b.kind()) return false;
    if (a.is_array()) {
        const auto& x = a.get_array();
        const auto& y = b.get_array();
        if (x.size() != y.size()) return false;
        for (std::size_t i = 0; i < x.size(); ++i) {
            if (!values_equal(x[i], y[i])) return false;
        }
        return true;
    }
    if (a.is_object()) {
        const auto& x = a.get_object();
        const auto& y = b.get_object();
        if (x.size() != y.size()) return false;
        for (const auto& [key, item] : x) {
            const auto* other = y.if_contains(key);
            if (other == nullptr || !values_equal(item, *other)) return false;
        }
        return true;
    }
    return a == b;
}

// Go's %v of a value inside a field path (SMD's value.ToString).
std::string value_string(const json::value& v) {
    switch (v.kind()) {
        case json::kind::null:
            return "null";
        case json::kind::bool_:
            return v.get_bool() ? "true" : "false";
        case json::kind::int64:
            return std::to_string(v.get_int64());
        case json::kind::uint64:
            return std::to_string(v.get_uint64());
        case json::kind::double_: {
            char buffer[64];
            const auto end = std::to_chars(buffer, buffer + sizeof buffer, v.get_double()).ptr;
            return std::string(buffer, end);
        }
        case json::kind::string:
            return go_quote(v.get_string());
        case json::kind::array: {
            std::string out = "[";
            for (std::size_t i = 0; i < v.get_array().size(); ++i) {
                if (i > 0) out += ",";
                out += value_string(v.get_array()[i]);
            }
            return out + "]";
        }
        case json::kind::object: {
            std::string out;
            for (const auto& [key, item] : v.get_object()) {
                out += std::string(key) + "=" + value_string(item);
            }
            return out;
        }
    }
    return "{{undefined}}";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Path elements.

PathElement PathElement::field(std::string name) {
    PathElement out;
    out.kind = Kind::kField;
    out.name = std::move(name);
    return out;
}

PathElement PathElement::key_of(std::vector<std::pair<std::string, json::value>> fields) {
    std::stable_sort(fields.begin(), fields.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    PathElement out;
    out.kind = Kind::kKey;
    out.key = std::move(fields);
    return out;
}

PathElement PathElement::value_of(json::value value) {
    PathElement out;
    out.kind = Kind::kValue;
    out.value = std::move(value);
    return out;
}

PathElement PathElement::index_of(std::int64_t index) {
    PathElement out;
    out.kind = Kind::kIndex;
    out.index = index;
    return out;
}

namespace {

// SMD's FieldList.Compare: field by field (name, then value), a shorter list first.
int compare_keys(const std::vector<std::pair<std::string, json::value>>& a,
                 const std::vector<std::pair<std::string, json::value>>& b) {
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
        if (const int c = a[i].first.compare(b[i].first); c != 0) return c < 0 ? -1 : 1;
        if (const int c = compare_values(a[i].second, b[i].second); c != 0) return c;
    }
    return three_way(a.size(), b.size());
}

}  // namespace

int compare(const PathElement& a, const PathElement& b) {
    if (a.kind != b.kind) return a.kind < b.kind ? -1 : 1;
    switch (a.kind) {
        case PathElement::Kind::kField: {
            const int c = a.name.compare(b.name);
            return c < 0 ? -1 : (c > 0 ? 1 : 0);
        }
        case PathElement::Kind::kKey:
            return compare_keys(a.key, b.key);
        case PathElement::Kind::kValue:
            return compare_values(a.value, b.value);
        case PathElement::Kind::kIndex:
            return three_way(a.index, b.index);
    }
    return 0;
}

namespace {

std::string element_string(const PathElement& e) {
    switch (e.kind) {
        case PathElement::Kind::kField:
            return "." + e.name;
        case PathElement::Kind::kKey: {
            std::string out = "[";
            for (std::size_t i = 0; i < e.key.size(); ++i) {
                if (i > 0) out += ",";
                out += e.key[i].first + "=" + value_string(e.key[i].second);
            }
            return out + "]";
        }
        case PathElement::Kind::kValue:
            return "[=" + value_string(e.value) + "]";
        case PathElement::Kind::kIndex:
            return "[" + std::to_string(e.index) + "]";
    }
    return "{{invalid path element}}";
}

// The FieldsV1 key of one element: "f:name", "k:{...}", "v:...", "i:N".
std::string serialize_element(const PathElement& e) {
    switch (e.kind) {
        case PathElement::Kind::kField:
            return "f:" + e.name;
        case PathElement::Kind::kKey: {
            std::string out = "k:{";
            for (std::size_t i = 0; i < e.key.size(); ++i) {
                if (i > 0) out += ",";
                append_go_json_string(out, e.key[i].first);
                out += ':';
                append_go_json(out, e.key[i].second);
            }
            return out + "}";
        }
        case PathElement::Kind::kValue:
            return "v:" + go_json(e.value);
        case PathElement::Kind::kIndex:
            return "i:" + std::to_string(e.index);
    }
    return {};
}

// The element a FieldsV1 key names; nullopt for prefixes this version does not know (upstream
// drops those rather than failing). Throws std::invalid_argument for malformed keys.
std::optional<PathElement> deserialize_element(std::string_view text) {
    if (text.size() < 2 || text[1] != ':') {
        throw std::invalid_argument("invalid field path element \"" + std::string(text) + "\"");
    }
    const std::string_view body = text.substr(2);
    switch (text[0]) {
        case 'f':
            return PathElement::field(std::string(body));
        case 'k': {
            json::value parsed = json::parse(body);
            if (!parsed.is_object()) {
                throw std::invalid_argument("key element is not a JSON object: " +
                                            std::string(text));
            }
            std::vector<std::pair<std::string, json::value>> fields;
            for (const auto& [name, value] : parsed.get_object()) {
                fields.emplace_back(std::string(name), value);
            }
            return PathElement::key_of(std::move(fields));
        }
        case 'v':
            return PathElement::value_of(json::parse(body));
        case 'i': {
            std::int64_t index = 0;
            const auto [end, error] =
                std::from_chars(body.data(), body.data() + body.size(), index);
            if (error != std::errc() || end != body.data() + body.size()) {
                throw std::invalid_argument("invalid index element \"" + std::string(text) + "\"");
            }
            return PathElement::index_of(index);
        }
        default:
            return std::nullopt;
    }
}

}  // namespace

std::string path_string(const FieldPath& path) {
    std::string out;
    for (const auto& element : path)
        out += element_string(element);
    return out;
}

// ---------------------------------------------------------------------------------------------
// Field sets: sorted vectors, combined by merging as SMD's fieldpath.Set does.

namespace {

template <class T, class ElementOf>
auto lower_bound_element(std::vector<T>& items, const PathElement& element, ElementOf element_of) {
    return std::lower_bound(
        items.begin(), items.end(), element,
        [&](const T& item, const PathElement& e) { return compare(element_of(item), e) < 0; });
}

const PathElement& self(const PathElement& e) {
    return e;
}
const PathElement& child_element(const FieldSet::Child& c) {
    return c.element;
}

}  // namespace

void FieldSet::insert_member(const PathElement& element) {
    auto at = lower_bound_element(members_, element, self);
    if (at == members_.end() || compare(*at, element) != 0) members_.insert(at, element);
}

FieldSet& FieldSet::descend(const PathElement& element) {
    auto at = lower_bound_element(children_, element, child_element);
    if (at == children_.end() || compare(at->element, element) != 0) {
        at = children_.insert(at, Child{element, FieldSet{}});
    }
    return at->set;
}

void FieldSet::insert(const FieldPath& path) {
    if (path.empty()) return;
    FieldSet* node = this;
    for (std::size_t i = 0; i + 1 < path.size(); ++i)
        node = &node->descend(path[i]);
    node->insert_member(path.back());
}

bool FieldSet::empty() const {
    if (!members_.empty()) return false;
    return std::all_of(children_.begin(), children_.end(),
                       [](const Child& c) { return c.set.empty(); });
}

bool FieldSet::has_member(const PathElement& element) const {
    return std::binary_search(
        members_.begin(), members_.end(), element,
        [](const PathElement& a, const PathElement& b) { return compare(a, b) < 0; });
}

const FieldSet* FieldSet::child(const PathElement& element) const {
    const auto at = std::lower_bound(
        children_.begin(), children_.end(), element,
        [](const Child& c, const PathElement& e) { return compare(c.element, e) < 0; });
    return at != children_.end() && compare(at->element, element) == 0 ? &at->set : nullptr;
}

bool FieldSet::has(const FieldPath& path) const {
    if (path.empty()) return false;
    const FieldSet* node = this;
    for (std::size_t i = 0; i + 1 < path.size(); ++i) {
        node = node->child(path[i]);
        if (node == nullptr) return false;
    }
    return node->has_member(path.back());
}

FieldSet FieldSet::union_with(const FieldSet& other) const {
    FieldSet out;
    std::set_union(members_.begin(), members_.end(), other.members_.begin(), other.members_.end(),
                   std::back_inserter(out.members_));
    std::size_t i = 0, j = 0;
    while (i < children_.size() || j < other.children_.size()) {
        const int c = i == children_.size() ? 1
                      : j == other.children_.size()
                          ? -1
                          : compare(children_[i].element, other.children_[j].element);
        if (c < 0) {
            out.children_.push_back(children_[i++]);
        } else if (c > 0) {
            out.children_.push_back(other.children_[j++]);
        } else {
            out.children_.push_back(
                {children_[i].element, children_[i].set.union_with(other.children_[j].set)});
            ++i;
            ++j;
        }
    }
    return out;
}

FieldSet FieldSet::intersection(const FieldSet& other) const {
    FieldSet out;
    std::set_intersection(members_.begin(), members_.end(), other.members_.begin(),
                          other.members_.end(), std::back_inserter(out.members_));
    for (const auto& c : children_) {
        if (const FieldSet* theirs = other.child(c.element)) {
            FieldSet common = c.set.intersection(*theirs);
            if (!common.empty()) out.children_.push_back({c.element, std::move(common)});
        }
    }
    return out;
}

FieldSet FieldSet::difference(const FieldSet& other) const {
    FieldSet out;
    std::set_difference(members_.begin(), members_.end(), other.members_.begin(),
                        other.members_.end(), std::back_inserter(out.members_));
    for (const auto& c : children_) {
        const FieldSet* theirs = other.child(c.element);
        if (theirs == nullptr) {
            out.children_.push_back(c);
            continue;
        }
        FieldSet rest = c.set.difference(*theirs);
        if (!rest.empty()) out.children_.push_back({c.element, std::move(rest)});
    }
    return out;
}

FieldSet FieldSet::recursive_difference(const FieldSet& other) const {
    FieldSet out;
    std::set_difference(members_.begin(), members_.end(), other.members_.begin(),
                        other.members_.end(), std::back_inserter(out.members_));
    for (const auto& c : children_) {
        if (other.has_member(c.element)) continue;
        const FieldSet* theirs = other.child(c.element);
        if (theirs == nullptr) {
            out.children_.push_back(c);
            continue;
        }
        FieldSet rest = c.set.recursive_difference(*theirs);
        if (!rest.empty()) out.children_.push_back({c.element, std::move(rest)});
    }
    return out;
}

namespace {

void for_each_path_below(const FieldSet& set, FieldPath& prefix,
                         const std::function<void(const FieldPath&)>& visit) {
    for (const auto& member : set.members()) {
        prefix.push_back(member);
        visit(prefix);
        prefix.pop_back();
    }
    for (const auto& child : set.children()) {
        prefix.push_back(child.element);
        for_each_path_below(child.set, prefix, visit);
        prefix.pop_back();
    }
}

}  // namespace

void FieldSet::for_each_path(const std::function<void(const FieldPath&)>& visit) const {
    FieldPath prefix;
    for_each_path_below(*this, prefix, visit);
}

std::vector<FieldPath> FieldSet::paths() const {
    std::vector<FieldPath> out;
    for_each_path([&](const FieldPath& path) { out.push_back(path); });
    return out;
}

bool operator==(const FieldSet& a, const FieldSet& b) {
    if (a.members_.size() != b.members_.size() || a.children_.size() != b.children_.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.members_.size(); ++i) {
        if (compare(a.members_[i], b.members_[i]) != 0) return false;
    }
    for (std::size_t i = 0; i < a.children_.size(); ++i) {
        if (compare(a.children_[i].element, b.children_[i].element) != 0) return false;
        if (!(a.children_[i].set == b.children_[i].set)) return false;
    }
    return true;
}

namespace {

// SMD's emitContentsV1: members and children interleaved in element order; an element that is
// both writes its own membership as "." first.
void emit_fields_v1(const FieldSet& set, json::object& out, bool include_self) {
    if (include_self && !(set.members().empty() && set.children().empty())) {
        out["."] = json::object{};
    }
    const auto& members = set.members();
    const auto& children = set.children();
    std::size_t m = 0, c = 0;
    while (m < members.size() || c < children.size()) {
        const int order = m == members.size()    ? 1
                          : c == children.size() ? -1
                                                 : compare(members[m], children[c].element);
        if (order < 0) {
            out[serialize_element(members[m++])] = json::object{};
            continue;
        }
        json::object nested;
        emit_fields_v1(children[c].set, nested, order == 0);
        out[serialize_element(children[c].element)] = std::move(nested);
        if (order == 0) ++m;
        ++c;
    }
}

// SMD's readIterV1: returns the children below `fields` and whether `fields` marks its own
// element as a member (an empty object, or one with ".").
bool read_fields_v1(const json::object& fields, FieldSet& children) {
    bool is_member = false;
    bool has_children = false;
    for (const auto& [key, value] : fields) {
        if (key == ".") {
            is_member = true;
            continue;
        }
        const auto element = deserialize_element(key);
        if (!element) continue;
        if (!value.is_object()) {
            throw std::invalid_argument("managed fields entry \"" + std::string(key) +
                                        "\" is not a JSON object");
        }
        FieldSet grandchildren;
        const bool child_is_member = read_fields_v1(value.get_object(), grandchildren);
        if (child_is_member) {
            children.insert_member(*element);
            has_children = true;
        }
        if (!grandchildren.members().empty() || !grandchildren.children().empty()) {
            children.descend(*element) = std::move(grandchildren);
            has_children = true;
        }
    }
    return is_member || !has_children;
}

}  // namespace

json::object FieldSet::to_fields_v1() const {
    json::object out;
    emit_fields_v1(*this, out, false);
    return out;
}

FieldSet FieldSet::from_fields_v1(const json::object& fields) {
    FieldSet out;
    try {
        read_fields_v1(fields, out);
    } catch (const std::invalid_argument&) {
        throw;
    } catch (const std::exception& e) {
        throw std::invalid_argument(std::string("invalid FieldsV1: ") + e.what());
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// The kind's schema as SMD sees it: what shape each value has and how lists are keyed.

namespace {

constexpr std::string_view kObjectMetaDefinition =
    "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

// Nesting bound for request documents: every walker below recurses once per level.
constexpr std::size_t kMaxDepth = 200;

// A schema-walking failure inside an object ("associative list with keys has an element that
// omits all key fields"), with the field path upstream prefixes it with.
class TypedError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct TypeRef {
    const Schema* node = nullptr;      // the field's schema as written (list/map metadata)
    const Schema* resolved = nullptr;  // its definition, references followed
    bool deduced = false;              // no schema: the JSON shape decides (SMD "deduced")
};

enum class Shape { kScalar, kAtomicList, kAssociativeList, kAtomicMap, kMap };

class Typer {
  public:
    Typer(const SchemaSet& schemas, const Schema* root, bool typed)
        : schemas_(schemas), typed_(typed) {
        if (root == nullptr) {
            root_.deduced = true;
        } else {
            root_ = {root, schemas.resolve(root), false};
            if (root_.resolved == nullptr) root_ = TypeRef{nullptr, nullptr, true};
        }
    }

    const TypeRef& root() const { return root_; }

    // The shape of `value` (nullptr when absent) as a value of `type`.
    Shape shape(const TypeRef& type, const json::value* value) const {
        if (type.deduced) return deduced_shape(value);
        const Schema* s = type.resolved;
        if (s == nullptr) return Shape::kScalar;  // a field the schema lacks: one opaque leaf
        if (s->int_or_string) return Shape::kScalar;
        if (s->type == "array" || s->items) {
            return list_type(type) == "atomic" ? Shape::kAtomicList : Shape::kAssociativeList;
        }
        if (s->type == "object" || !s->properties.empty() || s->additional_properties) {
            return map_type(type) == "atomic" ? Shape::kAtomicMap : Shape::kMap;
        }
        if (!s->type.empty()) return Shape::kScalar;
        return deduced_shape(value);  // untyped ("any"): Quantity, JSON, RawExtension
    }

    TypeRef field(const TypeRef& map, std::string_view name) const {
        if (map.deduced) return deduced();
        const Schema* s = map.resolved;
        if (s == nullptr) return {};
        // Custom resources' schemas leave metadata open; upstream types it as ObjectMeta.
        if (s == root_.resolved && name == "metadata") {
            const Schema* declared = property_of(schemas_, s, name);
            if (declared == nullptr || declared->properties.empty()) {
                if (const Schema* meta = schemas_.find(kObjectMetaDefinition)) {
                    return {meta, meta, false};
                }
            }
        }
        if (const Schema* node = s->property(name)) {
            return {node, property_of(schemas_, s, name), false};
        }
        if (s->additional_properties) {
            return {s->additional_properties.get(), additional_of(schemas_, s), false};
        }
        if (s->preserve_unknown_fields || s->properties.empty()) return deduced();
        return {};
    }

    // Whether `name` is a declared struct field of `map` (SMD's FindField).
    bool declares(const TypeRef& map, std::string_view name) const {
        if (map.deduced || map.resolved == nullptr) return false;
        if (map.resolved == root_.resolved && name == "metadata") return true;
        return map.resolved->property(name) != nullptr;
    }

    TypeRef element(const TypeRef& list) const {
        if (list.deduced) return deduced();
        if (list.resolved == nullptr || !list.resolved->items) return {};
        return {list.resolved->items.get(), items_of(schemas_, list.resolved), false};
    }

    // The element naming one list item: "k:" by the map keys (with their defaults), "v:" for a
    // set. Throws TypedError with upstream's message for items that cannot be named.
    PathElement item_element(const TypeRef& list, const json::value& item) const {
        const std::vector<std::string> keys = map_keys(list);
        if (keys.empty()) return set_element(item);
        if (item.is_null()) {
            throw TypedError("associative list with keys may not have a null element");
        }
        if (!item.is_object()) {
            throw TypedError("associative list with keys may not have non-map elements");
        }
        const TypeRef item_type = element(list);
        std::vector<std::pair<std::string, json::value>> fields;
        for (const auto& key : keys) {
            if (const auto* value = item.get_object().if_contains(key)) {
                fields.emplace_back(key, *value);
            } else if (auto fallback = key_default(item_type, key)) {
                fields.emplace_back(key, std::move(*fallback));
            }
        }
        if (fields.empty()) {
            std::string quoted = "[";
            for (std::size_t i = 0; i < keys.size(); ++i)
                quoted += (i ? " " : "") + go_quote(keys[i]);
            throw TypedError(
                "associative list with keys has an element that omits all key "
                "fields " +
                quoted + "] (and doesn't have default values for any key fields)");
        }
        return PathElement::key_of(std::move(fields));
    }

    // What an absent field of a built-in kind is upstream, where objects are Go structs: null
    // when the other side is null, a struct ({}) when the other side has content (non-pointer
    // structs are never absent), null for a field without omitempty (OpenAPI "required"). This
    // decides whether a container is itself owned (".") and keeps nulls from being changes.
    std::optional<json::value> absent_value(const TypeRef& map, std::string_view name,
                                            const json::value& other) const {
        if (!typed_ || !declares(map, name)) return std::nullopt;
        // A Go struct cannot tell an absent field from a null one.
        if (other.is_null()) return json::value(nullptr);
        const TypeRef type = field(map, name);
        const Shape s = shape(type, &other);
        const bool other_has_content = (other.is_object() && !other.get_object().empty()) ||
                                       (other.is_array() && !other.get_array().empty());
        if (!other_has_content) return std::nullopt;
        if (s == Shape::kMap && type.resolved != nullptr && !type.resolved->properties.empty() &&
            other.is_object()) {
            return json::value(json::object{});
        }
        if ((s == Shape::kMap || s == Shape::kAssociativeList) && required(map, name)) {
            return json::value(nullptr);
        }
        return std::nullopt;
    }

    bool nullable(const TypeRef& type) const {
        return (type.node != nullptr && type.node->nullable) ||
               (type.resolved != nullptr && type.resolved->nullable);
    }

  private:
    static TypeRef deduced() { return TypeRef{nullptr, nullptr, true}; }

    static Shape deduced_shape(const json::value* value) {
        if (value != nullptr && value->is_object()) return Shape::kMap;
        if (value != nullptr && value->is_array()) return Shape::kAtomicList;
        return Shape::kScalar;
    }

    // The field's own metadata wins over its definition's (a ref node may override map-type).
    static std::string list_type(const TypeRef& t) {
        for (const Schema* s : {t.node, t.resolved}) {
            if (s != nullptr && !s->list_type.empty()) return s->list_type;
        }
        // No x-kubernetes-list-type: a strategic-merge list keyed by its merge key is a map
        // list, as upstream's OpenAPI-to-SMD conversion treats it; anything else is atomic.
        return merge_key(t).empty() ? "atomic" : "map";
    }

    static std::string map_type(const TypeRef& t) {
        for (const Schema* s : {t.node, t.resolved}) {
            if (s != nullptr && !s->map_type.empty()) return s->map_type;
        }
        return "granular";
    }

    static std::string merge_key(const TypeRef& t) {
        for (const Schema* s : {t.node, t.resolved}) {
            if (s != nullptr && !s->patch_merge_key.empty()) return s->patch_merge_key;
        }
        return {};
    }

    static std::vector<std::string> map_keys(const TypeRef& list) {
        if (list.deduced || list_type(list) != "map") return {};
        for (const Schema* s : {list.node, list.resolved}) {
            if (s != nullptr && !s->list_map_keys.empty()) return s->list_map_keys;
        }
        const std::string key = merge_key(list);
        return key.empty() ? std::vector<std::string>{} : std::vector<std::string>{key};
    }

    static PathElement set_element(const json::value& item) {
        if (item.is_object()) {
            throw TypedError("associative list without keys has an element that's a map type");
        }
        if (item.is_array()) {
            throw TypedError("not supported: associative list with lists as elements");
        }
        if (item.is_null()) {
            throw TypedError(
                "associative list without keys has an element that's an explicit "
                "null");
        }
        return PathElement::value_of(item);
    }

    // Map-list keys with a `+default` upstream: an item that omits them is the same item as one
    // that spells the default out. The built-in schema data does not record defaults, so the
    // two Kubernetes 1.32 has are listed here.
    static std::optional<json::value> key_default(const TypeRef& item, std::string_view key) {
        if (item.node == nullptr || key != "protocol") return std::nullopt;
        if (item.node->ref == "io.k8s.api.core.v1.ContainerPort" ||
            item.node->ref == "io.k8s.api.core.v1.ServicePort") {
            return json::value("TCP");
        }
        return std::nullopt;
    }

    bool required(const TypeRef& map, std::string_view name) const {
        if (map.resolved == nullptr) return false;
        const auto& names = map.resolved->required;
        return std::find(names.begin(), names.end(), name) != names.end();
    }

    const SchemaSet& schemas_;
    bool typed_;
    TypeRef root_;
};

// Prefixes a TypedError's message with the path it happened at, as SMD reports them.
[[noreturn]] void fail_at(const FieldPath& path, const std::string& message) {
    throw TypedError(path.empty() ? message : path_string(path) + ": " + message);
}

// ---------------------------------------------------------------------------------------------
// The schema-directed walks of SMD: ToFieldSet, Compare, Merge, RemoveItems and
// EnsureNamedFieldsAreMembers, over JSON values.

class FieldSetBuilder {
  public:
    explicit FieldSetBuilder(const Typer& typer) : typer_(typer) {}

    FieldSet build(const json::value& value) {
        visit(value, typer_.root());
        return std::move(out_);
    }

  private:
    void visit(const json::value& value, const TypeRef& type) {
        if (path_.size() > kMaxDepth) fail_at(path_, "the object nests too deeply");
        switch (typer_.shape(type, &value)) {
            case Shape::kScalar:
            case Shape::kAtomicList:
            case Shape::kAtomicMap:
                out_.insert(path_);
                return;
            case Shape::kAssociativeList:
                if (value.is_array()) {
                    visit_items(value.get_array(), type);
                } else if (!value.is_null()) {
                    out_.insert(path_);
                }
                return;
            case Shape::kMap:
                if (value.is_object()) {
                    visit_fields(value.get_object(), type);
                } else if (!value.is_null()) {
                    out_.insert(path_);
                }
                return;
        }
    }

    void visit_fields(const json::object& object, const TypeRef& type) {
        for (const auto& [key, child] : object) {
            path_.push_back(PathElement::field(std::string(key)));
            visit(child, typer_.field(type, key));
            const bool empty = child.is_null() || (child.is_object() && child.get_object().empty());
            if (empty || !typer_.declares(type, key)) out_.insert(path_);
            path_.pop_back();
        }
    }

    void visit_items(const json::array& items, const TypeRef& type) {
        std::vector<PathElement> elements;
        elements.reserve(items.size());
        for (std::size_t i = 0; i < items.size(); ++i) {
            try {
                elements.push_back(typer_.item_element(type, items[i]));
            } catch (const TypedError& e) {
                fail_at(path_, "element " + std::to_string(i) + ": " + e.what());
            }
        }
        // A duplicated item is owned as a whole, never field by field (SMD does the same).
        std::set<PathElement> seen, duplicates;
        for (const auto& element : elements) {
            if (!seen.insert(element).second && duplicates.insert(element).second) {
                path_.push_back(element);
                out_.insert(path_);
                path_.pop_back();
            }
        }
        const TypeRef item_type = typer_.element(type);
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (duplicates.count(elements[i]) > 0) continue;
            path_.push_back(elements[i]);
            visit(items[i], item_type);
            out_.insert(path_);
            path_.pop_back();
        }
    }

    const Typer& typer_;
    FieldPath path_;
    FieldSet out_;
};

// Which fields a write removed, changed and added (SMD's typed.Comparison).
struct Comparison {
    FieldSet removed;
    FieldSet modified;
    FieldSet added;

    bool same() const { return removed.empty() && modified.empty() && added.empty(); }
    Comparison excluding(const FieldSet& ignored) const {
        return {removed.recursive_difference(ignored), modified.recursive_difference(ignored),
                added.recursive_difference(ignored)};
    }
};

bool empty_list(const json::value* v) {
    return v == nullptr || v->is_null() || (v->is_array() && v->get_array().empty());
}
bool empty_map(const json::value* v) {
    return v == nullptr || v->is_null() || (v->is_object() && v->get_object().empty());
}
bool list_or_null(const json::value* v) {
    return v == nullptr || v->is_null() || v->is_array();
}
bool map_or_null(const json::value* v) {
    return v == nullptr || v->is_null() || v->is_object();
}

class Comparer {
  public:
    explicit Comparer(const Typer& typer) : typer_(typer) {}

    Comparison run(const json::value& old_value, const json::value& new_value) {
        compare(&old_value, &new_value, typer_.root());
        return std::move(out_);
    }

  private:
    // `l`/`r`: the old and new value, nullptr when absent.
    void compare(const json::value* l, const json::value* r, const TypeRef& type) {
        if (path_.size() > kMaxDepth) fail_at(path_, "the object nests too deeply");
        const Shape shape = typer_.shape(type, r != nullptr ? r : l);
        if (l != nullptr && r != nullptr && typer_.shape(type, l) != shape) {
            leaf(l, r);
            return;
        }
        if (shape == Shape::kAssociativeList && list_or_null(l) && list_or_null(r) &&
            !(empty_list(l) && empty_list(r))) {
            compare_items(l, r, type);
        } else if (shape == Shape::kMap && map_or_null(l) && map_or_null(r) &&
                   !(empty_map(l) && empty_map(r))) {
            compare_fields(l, r, type);
        } else {
            leaf(l, r);
            return;
        }
        if (l == nullptr) {
            out_.added.insert(path_);
        } else if (r == nullptr) {
            out_.removed.insert(path_);
        }
    }

    void leaf(const json::value* l, const json::value* r) {
        if (l == nullptr) {
            out_.added.insert(path_);
        } else if (r == nullptr) {
            out_.removed.insert(path_);
        } else if (!values_equal(*l, *r)) {
            out_.modified.insert(path_);
        }
    }

    void compare_fields(const json::value* l, const json::value* r, const TypeRef& type) {
        const json::object* lo = l != nullptr && l->is_object() ? &l->get_object() : nullptr;
        const json::object* ro = r != nullptr && r->is_object() ? &r->get_object() : nullptr;
        std::vector<std::string_view> keys;
        if (lo != nullptr) {
            for (const auto& entry : *lo)
                keys.push_back(entry.key());
        }
        if (ro != nullptr) {
            for (const auto& entry : *ro) {
                if (lo == nullptr || !lo->contains(entry.key())) keys.push_back(entry.key());
            }
        }
        for (const auto key : keys) {
            const json::value* lc = lo != nullptr ? lo->if_contains(key) : nullptr;
            const json::value* rc = ro != nullptr ? ro->if_contains(key) : nullptr;
            std::optional<json::value> stand_in;
            if (lc == nullptr && rc != nullptr) {
                stand_in = typer_.absent_value(type, key, *rc);
                if (stand_in) lc = &*stand_in;
            } else if (rc == nullptr && lc != nullptr) {
                stand_in = typer_.absent_value(type, key, *lc);
                if (stand_in) rc = &*stand_in;
            }
            path_.push_back(PathElement::field(std::string(key)));
            compare(lc, rc, typer_.field(type, key));
            path_.pop_back();
        }
    }

    struct Occurrences {
        std::vector<const json::value*> old_items;
        std::vector<const json::value*> new_items;
    };

    void compare_items(const json::value* l, const json::value* r, const TypeRef& type) {
        std::vector<PathElement> order;  // every element once, old items first
        std::map<PathElement, Occurrences> by_element;
        const auto index = [&](const json::value* list, bool is_old) {
            if (list == nullptr || !list->is_array()) return;
            const auto& items = list->get_array();
            for (std::size_t i = 0; i < items.size(); ++i) {
                PathElement element;
                try {
                    element = typer_.item_element(type, items[i]);
                } catch (const TypedError& e) {
                    fail_at(path_, "element " + std::to_string(i) + ": " + e.what());
                }
                auto [at, inserted] = by_element.try_emplace(element);
                if (inserted) order.push_back(element);
                (is_old ? at->second.old_items : at->second.new_items).push_back(&items[i]);
            }
        };
        index(l, true);
        index(r, false);
        const TypeRef item_type = typer_.element(type);
        for (const auto& element : order) {
            const auto& found = by_element.at(element);
            const auto& ls = found.old_items;
            const auto& rs = found.new_items;
            path_.push_back(element);
            if (ls.size() <= 1 && rs.size() <= 1) {
                compare(ls.empty() ? nullptr : ls[0], rs.empty() ? nullptr : rs[0], item_type);
            } else if (ls.size() >= 2 && rs.size() >= 2) {
                // Duplicates before and after: compared as one atomic value.
                const bool same = ls.size() == rs.size() &&
                                  std::equal(ls.begin(), ls.end(), rs.begin(),
                                             [](const json::value* a, const json::value* b) {
                                                 return values_equal(*a, *b);
                                             });
                if (!same) out_.modified.insert(path_);
            } else if (ls.size() >= 2) {
                if (rs.size() == 1) compare(nullptr, rs[0], item_type);
                out_.removed.insert(path_);
            } else {
                if (ls.size() == 1) compare(ls[0], nullptr, item_type);
                out_.added.insert(path_);
            }
            path_.pop_back();
        }
    }

    const Typer& typer_;
    FieldPath path_;
    Comparison out_;
};

// SMD's merge with "keep the right-hand side" for leaves: the applied configuration (rhs) wins
// value by value; granular maps merge key by key, map and set lists item by item, keeping the
// live order and placing new items where the configuration puts them.
class Merger {
  public:
    explicit Merger(const Typer& typer) : typer_(typer) {}

    json::value run(const json::value& live, const json::value& config) {
        return merge(&live, &config, typer_.root());
    }

  private:
    json::value merge(const json::value* l, const json::value* r, const TypeRef& type) {
        if (r == nullptr) return *l;
        if (l == nullptr) return *r;
        if (path_.size() > kMaxDepth) fail_at(path_, "the object nests too deeply");
        const Shape shape = typer_.shape(type, r);
        if (typer_.shape(type, l) != shape) return *r;
        if (shape == Shape::kAssociativeList && list_or_null(l) && list_or_null(r) &&
            !(empty_list(l) && empty_list(r))) {
            return merge_items(l, r, type);
        }
        if (shape == Shape::kMap && map_or_null(l) && map_or_null(r) &&
            !(empty_map(l) && empty_map(r))) {
            return merge_fields(l, r, type);
        }
        return *r;
    }

    json::value merge_fields(const json::value* l, const json::value* r, const TypeRef& type) {
        const json::object empty;
        const json::object& lo = l->is_object() ? l->get_object() : empty;
        const json::object& ro = r->is_object() ? r->get_object() : empty;
        json::object out;
        for (const auto& [key, value] : lo) {
            path_.push_back(PathElement::field(std::string(key)));
            out[key] = merge(&value, ro.if_contains(key), typer_.field(type, key));
            path_.pop_back();
        }
        for (const auto& [key, value] : ro) {
            if (!lo.contains(key)) out[key] = value;
        }
        return out;
    }

    struct Indexed {
        std::vector<PathElement> elements;
        std::map<PathElement, const json::value*> items;  // nullptr: duplicated (live only)
    };

    Indexed index(const json::value* list, const TypeRef& type, bool allow_duplicates) {
        Indexed out;
        if (list == nullptr || !list->is_array()) return out;
        const auto& items = list->get_array();
        for (std::size_t i = 0; i < items.size(); ++i) {
            PathElement element;
            try {
                element = typer_.item_element(type, items[i]);
            } catch (const TypedError& e) {
                fail_at(path_, "element " + std::to_string(i) + ": " + e.what());
            }
            auto [at, inserted] = out.items.try_emplace(element, &items[i]);
            if (!inserted) {
                if (!allow_duplicates) {
                    fail_at(path_, "duplicate entries for key " + element_string(element));
                }
                at->second = nullptr;  // duplicated live items are not merged with anything
            }
            out.elements.push_back(std::move(element));
        }
        return out;
    }

    static const json::value* find(const Indexed& indexed, const PathElement& element,
                                   bool& present) {
        const auto at = indexed.items.find(element);
        present = at != indexed.items.end();
        return present ? at->second : nullptr;
    }

    // SMD's visitListItems for merging, step for step, so item order matches upstream's.
    json::value merge_items(const json::value* l, const json::value* r, const TypeRef& type) {
        const Indexed rhs = index(r, type, false);
        const Indexed lhs = index(l, type, true);
        const TypeRef item_type = typer_.element(type);
        std::vector<PathElement> shared;  // rhs order of items both sides have
        for (const auto& element : rhs.elements) {
            if (lhs.items.count(element) > 0) shared.push_back(element);
        }
        std::size_t next_shared = 0;
        const auto has_next_shared = [&] { return next_shared < shared.size(); };
        std::set<PathElement> merged_rhs;
        json::array out;
        const auto emit = [&](const PathElement& element, const json::value* lc,
                              const json::value* rc) {
            path_.push_back(element);
            if (lc != nullptr || rc != nullptr) out.push_back(merge(lc, rc, item_type));
            path_.pop_back();
        };
        const std::size_t l_size = lhs.elements.size();
        const std::size_t r_size = rhs.elements.size();
        const json::array empty_array;
        const json::array& l_items = l != nullptr && l->is_array() ? l->get_array() : empty_array;
        std::size_t li = 0, ri = 0;
        while (li < l_size || ri < r_size) {
            if (li < l_size && ri < r_size) {
                const PathElement& element = lhs.elements[li];
                if (compare(element, rhs.elements[ri]) == 0) {
                    merged_rhs.insert(element);
                    bool present = false;
                    emit(element, find(lhs, element, present), find(rhs, element, present));
                    ++li;
                    ++ri;
                    if (has_next_shared()) ++next_shared;
                    continue;
                }
                if (rhs.items.count(element) > 0 && has_next_shared() &&
                    compare(shared[next_shared], element) != 0) {
                    ++li;  // shared, but not the one this round wants: rhs order places it
                    continue;
                }
            }
            if (li < l_size) {
                const PathElement& element = lhs.elements[li];
                if (rhs.items.count(element) == 0) {
                    emit(element, &l_items[li], nullptr);
                    ++li;
                    continue;
                }
                if (merged_rhs.count(element) > 0) ++li;
            }
            if (ri < r_size) {
                const PathElement& element = rhs.elements[ri];
                merged_rhs.insert(element);
                bool present = false;
                const json::value* lc = find(lhs, element, present);
                emit(element, lc, find(rhs, element, present));
                ++ri;
                if (has_next_shared() && compare(shared[next_shared], element) == 0) {
                    ++next_shared;
                }
            }
        }
        return out;
    }

    const Typer& typer_;
    FieldPath path_;
};

// SMD's RemoveItems: the value without the paths in `remove`. A list or map left empty, or an
// atomic one under a removed prefix, becomes null, as upstream's walker leaves it.
json::value remove_items(const Typer& typer, const json::value& value, const FieldSet& remove,
                         const TypeRef& type, std::size_t depth = 0) {
    if (depth > kMaxDepth) throw TypedError("the object nests too deeply");
    switch (typer.shape(type, &value)) {
        case Shape::kScalar:
            return value;
        case Shape::kAtomicList:
        case Shape::kAtomicMap:
            return nullptr;
        case Shape::kAssociativeList: {
            if (!value.is_array()) return nullptr;
            json::array out;
            const TypeRef item_type = typer.element(type);
            for (const auto& item : value.get_array()) {
                const PathElement element = typer.item_element(type, item);
                if (remove.has_member(element)) continue;
                const FieldSet* below = remove.child(element);
                out.push_back(below != nullptr && !below->empty()
                                  ? remove_items(typer, item, *below, item_type, depth + 1)
                                  : item);
            }
            return out.empty() ? json::value(nullptr) : json::value(std::move(out));
        }
        case Shape::kMap: {
            if (!value.is_object()) return nullptr;
            json::object out;
            for (const auto& [key, item] : value.get_object()) {
                const PathElement element = PathElement::field(std::string(key));
                if (remove.has_member(element)) continue;
                const FieldSet* below = remove.child(element);
                out[key] =
                    below != nullptr && !below->empty()
                        ? remove_items(typer, item, *below, typer.field(type, key), depth + 1)
                        : item;
            }
            return out.empty() ? json::value(nullptr) : json::value(std::move(out));
        }
    }
    return value;
}

// SMD's EnsureNamedFieldsAreMembers: a struct field with owned fields below it counts as owned
// itself, so removing the last of them removes the struct rather than leaving {} behind.
FieldSet ensure_named_fields_are_members(const Typer& typer, const FieldSet& set,
                                         const TypeRef& type, std::size_t depth = 0) {
    FieldSet out;
    if (depth > kMaxDepth) return set;
    for (const auto& member : set.members())
        out.insert_member(member);
    for (const auto& child : set.children()) {
        TypeRef child_type;
        if (child.element.kind == PathElement::Kind::kField) {
            if (typer.declares(type, child.element.name)) out.insert_member(child.element);
            child_type = typer.field(type, child.element.name);
        } else if (child.element.kind == PathElement::Kind::kKey) {
            child_type = typer.element(type);
        }
        out.descend(child.element) =
            ensure_named_fields_are_members(typer, child.set, child_type, depth + 1);
    }
    return out;
}

// Drops the fields the configuration set to null: upstream decodes the result into Go structs
// (or prunes a custom resource's non-nullable nulls), so applying null means "unset". Only the
// configuration's nulls go; the live object is otherwise left byte for byte as stored.
void strip_applied_nulls(const Typer& typer, json::value& result, const json::value& config,
                         const TypeRef& type, std::size_t depth = 0) {
    if (depth > kMaxDepth || !result.is_object() || !config.is_object()) return;
    if (typer.shape(type, &config) != Shape::kMap) return;
    auto& object = result.get_object();
    for (const auto& [key, value] : config.get_object()) {
        const TypeRef item_type = typer.field(type, key);
        auto* item = object.if_contains(key);
        if (item == nullptr) continue;
        if (value.is_null() && item->is_null() && !typer.nullable(item_type)) {
            object.erase(key);
        } else {
            strip_applied_nulls(typer, *item, value, item_type, depth + 1);
        }
    }
}

}  // namespace

FieldSet field_set_of(const json::value& object, const SchemaSet& schemas, const Schema* schema) {
    const Typer typer(schemas, schema, false);
    try {
        return FieldSetBuilder(typer).build(object);
    } catch (const TypedError& e) {
        throw std::invalid_argument(e.what());
    }
}

// ---------------------------------------------------------------------------------------------
// metadata.managedFields: one versioned field set per manager identifier.

namespace {

constexpr std::string_view kApply = "Apply";
constexpr std::string_view kUpdate = "Update";
constexpr std::size_t kMaxUpdateManagers = 10;  // upstream's DefaultMaxUpdateManagers
constexpr std::string_view kLastAppliedAnnotation =
    "kubectl.kubernetes.io/last-applied-configuration";

struct VersionedSet {
    FieldSet set;
    std::string api_version;
    bool applied = false;
};

// By manager identifier: the JSON of {manager, operation, apiVersion (updates only),
// subresource}, as upstream's BuildManagerIdentifier makes it. Ordered, so conflicts list in a
// stable order.
using ManagerSets = std::map<std::string, VersionedSet>;

struct Managed {
    ManagerSets fields;
    std::map<std::string, std::string> times;  // RFC 3339, by identifier
};

std::string manager_identifier(std::string_view manager, std::string_view operation,
                               std::string_view api_version, std::string_view subresource) {
    // Field order and omitempty as metav1.ManagedFieldsEntry marshals.
    std::string out = "{";
    const auto field = [&](std::string_view name, std::string_view value) {
        if (value.empty()) return;
        if (out.size() > 1) out += ',';
        append_go_json_string(out, name);
        out += ':';
        append_go_json_string(out, value);
    };
    field("manager", manager);
    field("operation", operation);
    if (operation != kApply) field("apiVersion", api_version);
    field("subresource", subresource);
    return out + "}";
}

struct ManagerIdentity {
    std::string manager, operation, api_version, subresource;
};

ManagerIdentity identity_of(const std::string& identifier) {
    ManagerIdentity out;
    try {
        const json::value parsed = json::parse(identifier);
        const auto text = [&](std::string_view key) {
            const auto* v = parsed.as_object().if_contains(key);
            return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
        };
        out = {text("manager"), text("operation"), text("apiVersion"), text("subresource")};
    } catch (const std::exception&) {
        out.manager = identifier;
    }
    return out;
}

std::string entry_string(const json::object& entry, std::string_view key) {
    const auto* value = entry.if_contains(key);
    return value != nullptr && value->is_string() ? std::string(value->get_string())
                                                  : std::string();
}

// upstream's DecodeManagedFields. Throws std::invalid_argument on an invalid entry.
Managed decode_managed(const json::value& encoded) {
    Managed out;
    if (encoded.is_null()) return out;
    if (!encoded.is_array()) throw std::invalid_argument("managedFields must be a list");
    std::size_t i = 0;
    for (const auto& item : encoded.get_array()) {
        if (!item.is_object()) throw std::invalid_argument("managedFields entry is not an object");
        const auto& entry = item.get_object();
        const std::string operation = entry_string(entry, "operation");
        if (operation != kApply && operation != kUpdate) {
            throw std::invalid_argument("operation must be `Apply` or `Update`");
        }
        const std::string api_version = entry_string(entry, "apiVersion");
        if (api_version.empty()) throw std::invalid_argument("apiVersion must not be empty");
        const std::string fields_type = entry_string(entry, "fieldsType");
        if (fields_type.empty()) {
            throw std::invalid_argument("missing fieldsType in managed fields entry " +
                                        std::to_string(i));
        }
        if (fields_type != "FieldsV1") {
            throw std::invalid_argument("invalid fieldsType \"" + fields_type +
                                        "\" in managed fields entry " + std::to_string(i));
        }
        const std::string id = manager_identifier(entry_string(entry, "manager"), operation,
                                                  api_version, entry_string(entry, "subresource"));
        FieldSet set;
        if (const auto* fields = entry.if_contains("fieldsV1"); fields && fields->is_object()) {
            set = FieldSet::from_fields_v1(fields->get_object());
        }
        out.fields[id] = {std::move(set), api_version, operation == kApply};
        const std::string time = entry_string(entry, "time");
        if (time.empty()) {
            out.times.erase(id);
        } else {
            out.times[id] = time;
        }
        ++i;
    }
    return out;
}

std::int64_t unix_seconds(const std::string* time) {
    std::chrono::system_clock::time_point parsed;
    if (time == nullptr || !parse_time(*time, parsed)) return 0;
    return std::chrono::duration_cast<std::chrono::seconds>(parsed.time_since_epoch()).count();
}

// upstream's encodeManagedFields: entries sorted by operation (Apply first), time, manager,
// apiVersion and subresource. Empty when nothing is managed (the field is then dropped).
json::array encode_managed(const Managed& managed) {
    struct Sorted {
        ManagerIdentity identity;
        const VersionedSet* set;
        const std::string* time;
        json::object entry;
    };
    std::vector<Sorted> entries;
    for (const auto& [id, versioned] : managed.fields) {
        ManagerIdentity identity = identity_of(id);
        const std::string operation(versioned.applied ? kApply : kUpdate);
        const auto time = managed.times.find(id);
        const std::string* time_text = time == managed.times.end() ? nullptr : &time->second;
        json::object entry;
        entry["manager"] = identity.manager;
        entry["operation"] = operation;
        entry["apiVersion"] = versioned.api_version;
        if (time_text != nullptr) entry["time"] = *time_text;
        entry["fieldsType"] = "FieldsV1";
        entry["fieldsV1"] = versioned.set.to_fields_v1();
        if (!identity.subresource.empty()) entry["subresource"] = identity.subresource;
        identity.operation = operation;
        identity.api_version = versioned.api_version;
        entries.push_back({std::move(identity), &versioned, time_text, std::move(entry)});
    }
    std::sort(entries.begin(), entries.end(), [](const Sorted& p, const Sorted& q) {
        if (p.identity.operation != q.identity.operation) {
            return p.identity.operation < q.identity.operation;
        }
        const auto ps = unix_seconds(p.time), qs = unix_seconds(q.time);
        if (ps != qs) return ps < qs;
        if (p.identity.manager != q.identity.manager) {
            return p.identity.manager < q.identity.manager;
        }
        if (p.identity.api_version != q.identity.api_version) {
            return p.identity.api_version < q.identity.api_version;
        }
        return p.identity.subresource < q.identity.subresource;
    });
    json::array out;
    for (auto& sorted : entries)
        out.push_back(std::move(sorted.entry));
    return out;
}

const json::value* managed_fields_of(const json::object& object) {
    const auto* metadata = object.if_contains("metadata");
    if (metadata == nullptr || !metadata->is_object()) return nullptr;
    return metadata->get_object().if_contains("managedFields");
}

void erase_managed_fields(json::object& object) {
    if (auto* metadata = object.if_contains("metadata"); metadata && metadata->is_object()) {
        metadata->get_object().erase("managedFields");
    }
}

void write_managed_fields(json::object& object, const Managed& managed) {
    json::array encoded = encode_managed(managed);
    if (encoded.empty()) {
        erase_managed_fields(object);
        return;
    }
    auto& metadata = object["metadata"];
    if (!metadata.is_object()) metadata = json::object{};
    metadata.get_object()["managedFields"] = std::move(encoded);
}

// A request that sets managedFields to [] (or [{}]) asks for them to be reset.
bool resets_managed_fields(const json::value* encoded) {
    if (encoded == nullptr || !encoded->is_array()) return false;
    const auto& entries = encoded->get_array();
    if (entries.empty()) return true;
    return entries.size() == 1 && entries[0].is_object() && entries[0].get_object().empty();
}

Managed decode_or_empty(const json::value* encoded) {
    if (encoded == nullptr) return {};
    try {
        return decode_managed(*encoded);
    } catch (const std::exception&) {
        return {};
    }
}

// upstream's decodeLiveOrNew: the request's managedFields when it sets valid ones (that is how
// a client rewrites them), otherwise the stored ones, so clients that do not know about
// managedFields cannot drop them by accident. Subresource writes always keep the stored ones.
Managed decode_live_or_new(const json::object& live, const json::object& updated,
                           bool subresource) {
    const json::value* stored = managed_fields_of(live);
    if (subresource) return decode_or_empty(stored);
    const json::value* requested = managed_fields_of(updated);
    if (resets_managed_fields(requested)) return {};
    Managed managed = decode_or_empty(requested);
    if (managed.fields.empty()) return decode_or_empty(stored);
    return managed;
}

// Fields nobody owns: the object's identity and system metadata (upstream's stripMeta).
FieldSet system_fields() {
    FieldSet out;
    out.insert({PathElement::field("apiVersion")});
    out.insert({PathElement::field("kind")});
    out.insert({PathElement::field("metadata")});
    for (const char* name : {"name", "namespace", "creationTimestamp", "selfLink", "uid",
                             "clusterName", "generation", "managedFields", "resourceVersion"}) {
        out.insert({PathElement::field("metadata"), PathElement::field(name)});
    }
    return out;
}

// The fields a write through `subresource` may never own (upstream's per-strategy
// GetResetFields): the main resource does not own status, /status owns nothing but status.
FieldSet reset_fields(const ManagedScope& scope, const Typer& typer) {
    FieldSet out;
    if (!scope.status_subresource) return out;
    if (scope.subresource != "status") {
        out.insert({PathElement::field("status")});
        return out;
    }
    const Schema* root = typer.root().resolved;
    if (root == nullptr || root->properties.empty()) {
        out.insert({PathElement::field("spec")});
        return out;
    }
    for (const auto& [name, unused] : root->properties) {
        if (name != "status" && name != "metadata" && name != "apiVersion" && name != "kind") {
            out.insert({PathElement::field(name)});
        }
    }
    return out;
}

// An apply that changes values other managers own, by manager identifier.
struct Conflict {
    std::string manager;
    FieldPath path;
};

class ApplyConflicts : public std::runtime_error {
  public:
    explicit ApplyConflicts(std::vector<Conflict> conflicts)
        : std::runtime_error("apply conflicts"), conflicts_(std::move(conflicts)) {}
    const std::vector<Conflict>& conflicts() const { return conflicts_; }

  private:
    std::vector<Conflict> conflicts_;
};

// SMD's merge.Updater over one API version (kcube serves each kind in one version, so no
// conversion between the versions managers used is needed).
class Updater {
  public:
    Updater(const Typer& typer, FieldSet ignored) : typer_(typer), ignored_(std::move(ignored)) {}

    FieldSet field_set(const json::value& value) const {
        return FieldSetBuilder(typer_).build(value);
    }

    Comparison compare(const json::value& old_value, const json::value& new_value) const {
        return Comparer(typer_).run(old_value, new_value).excluding(ignored_);
    }

    // upstream's Updater.Update: `manager` owns what this write added or changed.
    void update(const json::value& live, const json::value& updated, const std::string& version,
                ManagerSets& managers, const std::string& manager) const {
        const Comparison changes = take_over(live, updated, managers, manager, true);
        FieldSet set;
        if (const auto at = managers.find(manager); at != managers.end()) set = at->second.set;
        set = set.difference(changes.removed)
                  .union_with(changes.modified)
                  .union_with(changes.added)
                  .recursive_difference(ignored_);
        if (set.empty()) {
            managers.erase(manager);
        } else {
            managers[manager] = {std::move(set), version, false};
        }
    }

    // upstream's Updater.Apply: the merged object (nullopt when it equals `live`).
    std::optional<json::value> apply(const json::value& live, const json::value& config,
                                     const std::string& version, ManagerSets& managers,
                                     const std::string& manager, bool force) const {
        json::value merged = Merger(typer_).run(live, config);
        std::optional<VersionedSet> last;
        if (const auto at = managers.find(manager); at != managers.end()) last = at->second;
        managers[manager] = {field_set(config).recursive_difference(ignored_), version, true};
        merged = prune(merged, managers, last);
        take_over(live, merged, managers, manager, force);
        if (values_equal(live, merged)) return std::nullopt;
        return merged;
    }

  private:
    // upstream's Updater.update: other managers lose what changed; without `force`, changing
    // what they own is a conflict.
    Comparison take_over(const json::value& live, const json::value& updated, ManagerSets& managers,
                         const std::string& workflow, bool force) const {
        Comparison changes = compare(live, updated);
        const FieldSet changed = changes.modified.union_with(changes.added);
        std::vector<Conflict> conflicts;
        std::map<std::string, FieldSet> conflict_sets;
        for (const auto& [id, versioned] : managers) {
            if (id == workflow) continue;
            FieldSet overlap = versioned.set.intersection(changed);
            if (overlap.empty()) continue;
            overlap.for_each_path([&](const FieldPath& path) { conflicts.push_back({id, path}); });
            conflict_sets[id] = std::move(overlap);
        }
        if (!force && !conflicts.empty()) throw ApplyConflicts(std::move(conflicts));
        for (auto it = managers.begin(); it != managers.end();) {
            if (it->first != workflow) {
                if (const auto c = conflict_sets.find(it->first); c != conflict_sets.end()) {
                    it->second.set = it->second.set.difference(c->second);
                }
                it->second.set = it->second.set.difference(changes.removed);
            }
            it = it->second.set.empty() ? managers.erase(it) : std::next(it);
        }
        return changes;
    }

    FieldSet named(const FieldSet& set) const {
        return ensure_named_fields_are_members(typer_, set, typer_.root());
    }

    json::value remove(const json::value& value, const FieldSet& set) const {
        json::value out = remove_items(typer_, value, set, typer_.root());
        return out.is_null() ? json::value(json::object{}) : out;
    }

    // Removes what the applier applied last time and no longer applies, unless someone else
    // (or the new configuration) owns it (upstream's prune, addBackOwnedItems and
    // addBackDanglingItems).
    json::value prune(const json::value& merged, const ManagerSets& managers,
                      const std::optional<VersionedSet>& last) const {
        if (!last || last->set.empty()) return merged;
        const FieldSet last_named = named(last->set);
        json::value pruned = remove(merged, last_named);
        FieldSet owned;
        for (const auto& [id, versioned] : managers)
            owned = owned.union_with(versioned.set);
        const FieldSet merged_named = named(field_set(merged));
        pruned = remove(merged,
                        merged_named.difference(named(field_set(pruned)).union_with(named(owned))));
        return remove(merged,
                      merged_named.difference(named(field_set(pruned))).intersection(last_named));
    }

    const Typer& typer_;
    FieldSet ignored_;
};

// ---------------------------------------------------------------------------------------------
// Conflict errors, worded exactly as upstream's (kubectl prints the message as it comes).

std::string print_manager(const std::string& identifier) {
    const ManagerIdentity identity = identity_of(identifier);
    std::string out = go_quote(identity.manager);
    if (!identity.subresource.empty()) {
        out += " with subresource " + go_quote(identity.subresource);
    }
    if (identity.operation == kUpdate) out += " using " + identity.api_version;
    return out;
}

ApiError conflict_error(const std::vector<Conflict>& conflicts) {
    std::vector<StatusCause> causes;
    for (const auto& c : conflicts) {
        causes.push_back({"FieldManagerConflict", "conflict with " + print_manager(c.manager),
                          path_string(c.path)});
    }
    std::string message;
    if (conflicts.size() == 1) {
        message = "Apply failed with 1 conflict: conflict with " +
                  print_manager(conflicts[0].manager) + ": " + path_string(conflicts[0].path);
    } else {
        std::map<std::string, std::vector<const FieldPath*>> by_manager;
        for (const auto& c : conflicts)
            by_manager[c.manager].push_back(&c.path);
        message = "Apply failed with " + std::to_string(conflicts.size()) + " conflicts: ";
        bool first = true;
        for (const auto& [manager, paths] : by_manager) {
            if (!first) message += "\n";
            first = false;
            message += "conflicts with " + print_manager(manager) + ":";
            for (const auto* path : paths)
                message += "\n- " + path_string(*path);
        }
    }
    return ApiError(409, "Conflict", message).with_causes(std::move(causes));
}

// ---------------------------------------------------------------------------------------------
// The field manager: upstream's chain of wrappers around the Updater, flattened.

std::string group_version_kind_string(std::string_view api_version, std::string_view kind) {
    // schema.GroupVersionKind.String(): "apps/v1, Kind=Deployment", "/v1, Kind=ConfigMap".
    const auto slash = api_version.find('/');
    const std::string group_version =
        slash == std::string_view::npos ? "/" + std::string(api_version) : std::string(api_version);
    return group_version + ", Kind=" + std::string(kind);
}

std::string string_field(const json::object& object, std::string_view key) {
    const auto* value = object.if_contains(key);
    return value != nullptr && value->is_string() ? std::string(value->get_string())
                                                  : std::string();
}

std::string metadata_string(const json::object& object, std::string_view key) {
    const auto* metadata = object.if_contains("metadata");
    if (metadata == nullptr || !metadata->is_object()) return {};
    return string_field(metadata->get_object(), key);
}

std::optional<std::string> last_applied_of(const json::value& object) {
    if (!object.is_object()) return std::nullopt;
    const auto* metadata = object.get_object().if_contains("metadata");
    if (metadata == nullptr || !metadata->is_object()) return std::nullopt;
    const auto* annotations = metadata->get_object().if_contains("annotations");
    if (annotations == nullptr || !annotations->is_object()) return std::nullopt;
    const auto* value = annotations->get_object().if_contains(kLastAppliedAnnotation);
    if (value == nullptr || !value->is_string() || value->get_string().empty()) {
        return std::nullopt;
    }
    return std::string(value->get_string());
}

struct ApplyOutcome {
    std::optional<json::value> object;  // nullopt: the object does not change
    Managed managed;
};

class FieldManager {
  public:
    explicit FieldManager(const ManagedScope& scope)
        : scope_(scope),
          typer_(scope.schemas, scope.schema, scope.typed),
          updater_(typer_, reset_fields(scope, typer_)),
          now_(now_rfc3339()) {}

    const Typer& typer() const { return typer_; }

    // The Update chain: skipNonApplied (by the caller), capManagers, buildManagerInfo,
    // managedFieldsUpdater, stripMeta, Updater.Update.
    void update(const json::value& live, const json::value& updated, Managed& managed,
                const std::string& manager) const {
        const std::string id = manager_identifier(manager.empty() ? "unknown" : manager, kUpdate,
                                                  scope_.api_version, scope_.subresource);
        // The write's own changes go to a temporary manager first, so the entry's time only
        // moves when this write actually took fields (upstream's managedFieldsUpdater).
        const std::string self = "current-operation";
        updater_.update(live, updated, scope_.api_version, managed.fields, self);
        strip_system_fields(managed.fields, self);
        if (auto current = managed.fields.find(self); current != managed.fields.end()) {
            VersionedSet taken = std::move(current->second);
            managed.fields.erase(current);
            if (const auto previous = managed.fields.find(id); previous != managed.fields.end()) {
                taken.set = taken.set.union_with(previous->second.set);
            }
            managed.fields[id] = std::move(taken);
            managed.times[id] = now_;
        }
        cap_update_managers(managed);
    }

    // The Apply chain: lastAppliedManager, skipNonApplied, buildManagerInfo,
    // managedFieldsUpdater, stripMeta, Updater.Apply.
    ApplyOutcome apply(const json::value& live, const json::value& config, const Managed& managed,
                       const std::string& manager, bool force) const {
        try {
            return apply_tracking(live, config, managed, manager, force);
        } catch (const ApplyConflicts& e) {
            // kubectl upgrading from client-side apply: fields whose live values still match
            // its last-applied annotation were kubectl's, so taking them is no conflict.
            if (manager != "kubectl") throw;
            const auto allowed = allowed_from_last_applied(live);
            if (!allowed) throw;
            std::vector<Conflict> remaining;
            for (const auto& c : e.conflicts()) {
                if (!allowed->has(c.path)) remaining.push_back(c);
            }
            if (!remaining.empty()) throw ApplyConflicts(std::move(remaining));
            return apply_tracking(live, config, managed, manager, true);
        }
    }

  private:
    ApplyOutcome apply_tracking(const json::value& live, const json::value& config, Managed managed,
                                const std::string& manager, bool force) const {
        // An object nobody manages yet (created before field management) gets its current
        // fields owned by "before-first-apply", so the first apply conflicts like later ones.
        if (managed.fields.empty()) update(json::object{}, live, managed, "before-first-apply");
        const std::string id = manager_identifier(manager, kApply, "", scope_.subresource);
        std::optional<json::value> object =
            updater_.apply(live, config, scope_.api_version, managed.fields, id, force);
        strip_system_fields(managed.fields, id);
        if (object) managed.times[id] = now_;
        return {std::move(object), std::move(managed)};
    }

    std::optional<FieldSet> allowed_from_last_applied(const json::value& live) const {
        const auto annotation = last_applied_of(live);
        if (!annotation) return std::nullopt;
        json::value last;
        try {
            last = json::parse(*annotation);
        } catch (const std::exception&) {
            return std::nullopt;
        }
        if (!last.is_object() ||
            string_field(last.get_object(), "apiVersion") != scope_.api_version) {
            return std::nullopt;
        }
        try {
            const FieldSet fields = FieldSetBuilder(typer_).build(last);
            const Comparison differences = Comparer(typer_).run(last, live);
            return fields.difference(differences.modified)
                .difference(differences.added)
                .difference(differences.removed);
        } catch (const TypedError&) {
            return std::nullopt;
        }
    }

    static void strip_system_fields(ManagerSets& managers, const std::string& id) {
        const auto at = managers.find(id);
        if (at == managers.end()) return;
        at->second.set = at->second.set.difference(system_fields());
        if (at->second.set.empty()) managers.erase(at);
    }

    // upstream's capManagersManager: beyond ten Update entries, the oldest are merged into one
    // "ancient-changes" entry per API version.
    static void cap_update_managers(Managed& managed) {
        std::vector<std::string> updaters;
        for (const auto& [id, versioned] : managed.fields) {
            if (!versioned.applied) updaters.push_back(id);
        }
        if (updaters.size() <= kMaxUpdateManagers) return;
        const auto seconds = [&](const std::string& id) {
            const auto at = managed.times.find(id);
            return unix_seconds(at == managed.times.end() ? nullptr : &at->second);
        };
        std::sort(updaters.begin(), updaters.end(), [&](const auto& a, const auto& b) {
            const auto sa = seconds(a), sb = seconds(b);
            return sa != sb ? sa < sb : a < b;
        });
        std::map<std::string, std::string> first_by_version;
        std::size_t remaining = updaters.size();
        for (std::size_t i = 0; i < updaters.size() && remaining > kMaxUpdateManagers; ++i) {
            const std::string& id = updaters[i];
            const VersionedSet versioned = managed.fields.at(id);
            const auto time = managed.times.find(id);
            const std::optional<std::string> when = time == managed.times.end()
                                                        ? std::nullopt
                                                        : std::optional<std::string>(time->second);
            const std::string bucket =
                manager_identifier("ancient-changes", kUpdate, versioned.api_version, "");
            const auto first = first_by_version.find(versioned.api_version);
            if (first == first_by_version.end()) {
                first_by_version[versioned.api_version] = id;
                continue;
            }
            if (managed.fields.count(bucket) == 0) {
                managed.fields[bucket] = managed.fields.at(first->second);
                managed.fields.erase(first->second);
                managed.times.erase(first->second);
            }
            auto& merged = managed.fields[bucket];
            merged = {versioned.set.union_with(merged.set), versioned.api_version, false};
            managed.fields.erase(id);
            managed.times.erase(id);
            if (when) {
                managed.times[bucket] = *when;
            } else {
                managed.times.erase(bucket);
            }
            --remaining;
        }
    }

    const ManagedScope& scope_;
    Typer typer_;
    Updater updater_;
    std::string now_;
};

// The configuration must name the kind the URL names (upstream's versionCheckManager) and may
// not carry managedFields of its own.
void check_configuration(const json::object& applied, const ManagedScope& scope) {
    const std::string api_version = string_field(applied, "apiVersion");
    const std::string kind = string_field(applied, "kind");
    if (api_version != scope.api_version || kind != scope.kind) {
        throw bad_request("invalid object type: " + group_version_kind_string(api_version, kind));
    }
    const json::value* managed = managed_fields_of(applied);
    if (managed != nullptr && !managed->is_null()) {
        throw bad_request("metadata.managedFields must be nil");
    }
}

// Upstream's field manager returns these failures as plain Go errors, which the API server
// answers with a bare 500 Status: no reason, no "Internal error occurred" prefix.
ApiError server_error(const std::string& message) {
    return ApiError(500, "", message);
}

// What upstream prefixes typed-conversion failures of the configuration with.
std::string typed_patch_failure(const json::object& applied, const ManagedScope& scope,
                                const std::string& what) {
    return "failed to create typed patch object (" + metadata_string(applied, "namespace") + "/" +
           metadata_string(applied, "name") + "; " +
           group_version_kind_string(scope.api_version, scope.kind) + "): " + what;
}

// Rejects configurations the schema cannot name fields of (list items without keys,
// duplicated keys), before anything is merged, as upstream's typed conversion does.
void validate_configuration(const Typer& typer, const json::object& applied,
                            const ManagedScope& scope) {
    try {
        // Merging the configuration with itself names every item of every list on both sides,
        // so it finds what upstream's validation finds: unnameable items and duplicates.
        const json::value config = applied;
        Merger(typer).run(config, config);
    } catch (const TypedError& e) {
        throw server_error(typed_patch_failure(applied, scope, e.what()));
    }
}

void set_last_applied(json::value& object, const json::object& applied) {
    json::object copy = applied;
    if (auto* metadata = copy.if_contains("metadata"); metadata && metadata->is_object()) {
        if (auto* annotations = metadata->get_object().if_contains("annotations");
            annotations && annotations->is_object()) {
            annotations->get_object().erase(kLastAppliedAnnotation);
        }
    }
    auto& metadata = object.get_object()["metadata"];
    if (!metadata.is_object()) metadata = json::object{};
    auto& annotations = metadata.get_object()["annotations"];
    if (!annotations.is_object()) annotations = json::object{};
    // runtime.Encode's JSON: sorted keys, ending in a newline.
    annotations.get_object()[kLastAppliedAnnotation] = go_json(copy) + "\n";
}

}  // namespace

void check_apply_target(const json::object& applied, const ManagedScope& scope) {
    check_configuration(applied, scope);
}

json::object apply_configuration(const json::object* live, const json::object& applied,
                                 const std::string& manager, bool force,
                                 const ManagedScope& scope) {
    check_configuration(applied, scope);
    const FieldManager field_manager(scope);
    validate_configuration(field_manager.typer(), applied, scope);
    json::object live_object = live != nullptr ? *live : json::object{};
    Managed managed;
    try {
        const json::value* encoded = managed_fields_of(live_object);
        if (encoded != nullptr) managed = decode_managed(*encoded);
    } catch (const std::exception& e) {
        throw server_error(std::string("failed to decode managed fields: ") + e.what());
    }
    erase_managed_fields(live_object);
    const json::value live_value = live_object;
    const json::value config = applied;
    ApplyOutcome outcome;
    try {
        outcome = field_manager.apply(live_value, config, managed, manager, force);
    } catch (const ApplyConflicts& e) {
        throw conflict_error(e.conflicts());
    } catch (const TypedError& e) {
        throw server_error(std::string("failed to apply: ") + e.what());
    }
    json::value result = outcome.object ? std::move(*outcome.object) : live_value;
    if (!result.is_object()) result = json::object{};
    strip_applied_nulls(field_manager.typer(), result, config, field_manager.typer().root());
    // kubectl's client-side apply annotation follows server-side applies by kubectl, so a
    // later client-side apply computes its patch from what was really applied last.
    if (manager == "kubectl" && last_applied_of(result)) set_last_applied(result, applied);
    json::object object = std::move(result.get_object());
    write_managed_fields(object, outcome.managed);
    return object;
}

void record_update(const json::object* old, json::object& updated, const std::string& manager,
                   const ManagedScope& scope) {
    const json::object nothing;
    const json::object& live = old != nullptr ? *old : nothing;
    const json::value* stored = managed_fields_of(live);
    const json::value stored_copy = stored != nullptr ? *stored : json::value(nullptr);
    try {
        Managed managed = decode_live_or_new(live, updated, !scope.subresource.empty());
        erase_managed_fields(updated);
        // Objects nobody manages stay that way until an apply (upstream's skipNonApplied);
        // creates are always tracked.
        if (managed.fields.empty() && old != nullptr) return;
        json::object live_copy = live;
        erase_managed_fields(live_copy);
        const FieldManager field_manager(scope);
        field_manager.update(json::value(std::move(live_copy)), json::value(updated), managed,
                             manager);
        write_managed_fields(updated, managed);
    } catch (const std::exception&) {
        // Like upstream's UpdateNoErrors: a write never fails over its managed fields.
        erase_managed_fields(updated);
        if (!stored_copy.is_null()) metadata_of(updated)["managedFields"] = stored_copy;
    }
}

// ---------------------------------------------------------------------------------------------
// Apply bodies: YAML (or JSON, which is YAML) to JSON, typed as Go's yaml.v2 types scalars.

namespace {

// A body nested deeper than this is refused before yaml-cpp (which recurses per level) sees it.
constexpr int kMaxYamlNesting = 200;
constexpr std::size_t kMaxYamlIndent = 1000;
// Bounds alias expansion ("billion laughs"): nodes converted per document.
constexpr std::size_t kMaxYamlNodes = 1'000'000;

[[noreturn]] void fail_decoding(const std::string& why) {
    throw bad_request("error decoding YAML: " + why);
}

void check_yaml_nesting(std::string_view body) {
    int depth = 0;
    std::size_t indent = 0;
    bool line_start = true;
    for (const char c : body) {
        if (c == '\n') {
            line_start = true;
            indent = 0;
            continue;
        }
        if (line_start) {
            // Block nesting shows as indentation and "- " / "? " / ": " prefixes.
            if (c == ' ' || c == '\t' || c == '-' || c == '?' || c == ':') {
                if (++indent > kMaxYamlIndent) fail_decoding("the document nests too deeply");
                continue;
            }
            line_start = false;
        }
        if (c == '[' || c == '{') {
            if (++depth > kMaxYamlNesting) fail_decoding("the document nests too deeply");
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
}

bool one_of(std::string_view text, std::initializer_list<std::string_view> options) {
    return std::find(options.begin(), options.end(), text) != options.end();
}

// Go's strconv.ParseInt(text, 0, 64) (and ParseUint as a fallback), as yaml.v2 resolves ints.
std::optional<json::value> parse_go_integer(std::string_view text) {
    bool negative = false;
    std::string_view digits = text;
    if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) {
        negative = digits[0] == '-';
        digits.remove_prefix(1);
    }
    if (digits.empty()) return std::nullopt;
    int base = 10;
    if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
        base = 16;
        digits.remove_prefix(2);
    } else if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'o' || digits[1] == 'O')) {
        base = 8;
        digits.remove_prefix(2);
    } else if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'b' || digits[1] == 'B')) {
        base = 2;
        digits.remove_prefix(2);
    } else if (digits.size() > 1 && digits[0] == '0') {
        base = 8;
        digits.remove_prefix(1);
    }
    std::uint64_t magnitude = 0;
    const auto [end, error] =
        std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
    if (error != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    constexpr auto kMaxInt64 = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (negative) {
        if (magnitude > kMaxInt64 + 1) return std::nullopt;
        return json::value(magnitude == kMaxInt64 + 1 ? std::numeric_limits<std::int64_t>::min()
                                                      : -static_cast<std::int64_t>(magnitude));
    }
    if (magnitude <= kMaxInt64) return json::value(static_cast<std::int64_t>(magnitude));
    return json::value(magnitude);
}

// yaml.v2's float syntax: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool yaml_float_syntax(std::string_view text) {
    std::size_t i = 0;
    const auto digits = [&] {
        const std::size_t start = i;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9')
            ++i;
        return i > start;
    };
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (i < text.size() && text[i] == '.') {
        ++i;
        if (!digits()) return false;
    } else {
        if (!digits()) return false;
        if (i < text.size() && text[i] == '.') {
            ++i;
            digits();
        }
    }
    if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
        ++i;
        if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
        if (!digits()) return false;
    }
    return i == text.size();
}

// Go marshals a float with an integral value without a fraction ("3", "1e+21"), and the API
// server reads "3" back as an integer: floats the YAML wrote as 3.0 arrive as integers.
json::value normalize_float(double value) {
    if (std::isfinite(value) && value == std::trunc(value) && std::fabs(value) < 1e18) {
        return static_cast<std::int64_t>(value);
    }
    return value;
}

json::value resolve_plain_scalar(const std::string& text) {
    if (one_of(text, {"", "~", "null", "Null", "NULL"})) return nullptr;
    if (one_of(text, {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"})) {
        return true;
    }
    if (one_of(text,
               {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"})) {
        return false;
    }
    if (one_of(text, {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
                      ".nan", ".NaN", ".NAN"})) {
        fail_decoding("json: unsupported value: " + text);
    }
    std::string plain = text;
    plain.erase(std::remove(plain.begin(), plain.end(), '_'), plain.end());
    if (auto integer = parse_go_integer(plain)) return std::move(*integer);
    if (yaml_float_syntax(plain)) {
        double value = 0;
        const auto [end, error] = std::from_chars(plain.data(), plain.data() + plain.size(), value);
        if (error == std::errc() && end == plain.data() + plain.size()) {
            return normalize_float(value);
        }
        // from_chars rejects a leading '+'; strtod does not.
        return normalize_float(std::strtod(plain.c_str(), nullptr));
    }
    return json::string(text);
}

json::value scalar_value(const YAML::Node& node) {
    const std::string& tag = node.Tag();
    const std::string& text = node.Scalar();
    if (tag == "!" || tag == "tag:yaml.org,2002:str") return json::string(text);
    if (tag == "?" || tag.empty() || tag.rfind("tag:yaml.org,2002:", 0) == 0) {
        return resolve_plain_scalar(text);
    }
    return json::string(text);  // application tags: the text, as Go's decoder keeps it
}

class YamlConverter {
  public:
    json::value convert(const YAML::Node& node, int depth = 0) {
        if (++nodes_ > kMaxYamlNodes) fail_decoding("the document expands to too many nodes");
        if (depth > kMaxYamlNesting) fail_decoding("the document nests too deeply");
        switch (node.Type()) {
            case YAML::NodeType::Null:
            case YAML::NodeType::Undefined:
                return nullptr;
            case YAML::NodeType::Scalar:
                return scalar_value(node);
            case YAML::NodeType::Sequence: {
                json::array out;
                for (const auto& item : node)
                    out.push_back(convert(item, depth + 1));
                return out;
            }
            case YAML::NodeType::Map: {
                json::object out;
                for (const auto& entry : node) {
                    if (!entry.first.IsScalar() && !entry.first.IsNull()) {
                        fail_decoding("a mapping key is not a scalar");
                    }
                    out[entry.first.IsNull() ? "null" : entry.first.Scalar()] =
                        convert(entry.second, depth + 1);
                }
                return out;
            }
        }
        return nullptr;
    }

  private:
    std::size_t nodes_ = 0;
};

void normalize_json_numbers(json::value& value) {
    if (value.is_double()) {
        value = normalize_float(value.get_double());
    } else if (value.is_array()) {
        for (auto& item : value.get_array())
            normalize_json_numbers(item);
    } else if (value.is_object()) {
        for (auto& [key, item] : value.get_object())
            normalize_json_numbers(item);
    }
}

std::optional<json::value> parse_as_json(std::string_view body) {
    const auto first = body.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos || body[first] != '{') return std::nullopt;
    json::parse_options options;
    options.max_depth = kMaxDepth;
    boost::system::error_code error;
    json::value value = json::parse(body, error, {}, options);
    if (error) return std::nullopt;
    normalize_json_numbers(value);
    return value;
}

}  // namespace

json::object parse_apply_patch(std::string_view body) {
    std::optional<json::value> value = parse_as_json(body);
    if (!value) {
        check_yaml_nesting(body);
        try {
            value = YamlConverter().convert(YAML::Load(std::string(body)));
        } catch (const YAML::Exception& e) {
            fail_decoding(e.what());
        }
    }
    if (value->is_null()) return json::object{};
    if (!value->is_object()) {
        fail_decoding("json: cannot unmarshal " +
                      std::string(value->is_array() ? "array" : "string") +
                      " into Go value of type map[string]interface {}");
    }
    return std::move(value->get_object());
}

}  // namespace kcube::api
