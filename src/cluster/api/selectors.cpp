#include "cluster/api/selectors.hpp"

#include <boost/json.hpp>

#include "cluster/api/errors.hpp"

namespace kcube::api {
namespace json = boost::json;
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

// Splits on commas that are not inside parentheses.
std::vector<std::string_view> split_terms(std::string_view text) {
    std::vector<std::string_view> out;
    int depth = 0;
    size_t start = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '(') ++depth;
        if (text[i] == ')') --depth;
        if (text[i] == ',' && depth == 0) {
            out.push_back(trim(text.substr(start, i - start)));
            start = i + 1;
        }
    }
    out.push_back(trim(text.substr(start)));
    return out;
}

bool valid_key(std::string_view key) {
    if (key.empty()) return false;
    for (char c : key) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
              c == '/')) {
            return false;
        }
    }
    return true;
}

}  // namespace

LabelSelector LabelSelector::parse(std::string_view text) {
    LabelSelector selector;
    if (trim(text).empty()) return selector;
    auto fail = [&](const std::string& why) {
        return bad_request("unable to parse requirement: " + why);
    };
    for (std::string_view term : split_terms(text)) {
        if (term.empty()) throw fail("found '', expected: identifier");
        Requirement r;
        if (term.front() == '!') {
            r.key = std::string(trim(term.substr(1)));
            r.op = Requirement::Op::kDoesNotExist;
        } else if (auto in = term.find(" in ");
                   in != std::string_view::npos || term.find(" notin ") != std::string_view::npos) {
            const bool not_in = in == std::string_view::npos;
            const size_t at = not_in ? term.find(" notin ") : in;
            r.key = std::string(trim(term.substr(0, at)));
            r.op = not_in ? Requirement::Op::kNotIn : Requirement::Op::kIn;
            std::string_view rest = trim(term.substr(at + (not_in ? 7 : 4)));
            if (rest.size() < 2 || rest.front() != '(' || rest.back() != ')') {
                throw fail("found '" + std::string(rest) + "', expected: '('");
            }
            rest = rest.substr(1, rest.size() - 2);
            size_t start = 0;
            for (size_t i = 0; i <= rest.size(); ++i) {
                if (i == rest.size() || rest[i] == ',') {
                    r.values.emplace_back(trim(rest.substr(start, i - start)));
                    start = i + 1;
                }
            }
        } else if (auto ne = term.find("!="); ne != std::string_view::npos) {
            r.key = std::string(trim(term.substr(0, ne)));
            r.op = Requirement::Op::kNotEquals;
            r.values.emplace_back(trim(term.substr(ne + 2)));
        } else if (auto eq = term.find('='); eq != std::string_view::npos) {
            r.key = std::string(trim(term.substr(0, eq)));
            r.op = Requirement::Op::kEquals;
            std::string_view value = term.substr(eq + 1);
            if (!value.empty() && value.front() == '=') value.remove_prefix(1);  // "=="
            r.values.emplace_back(trim(value));
        } else {
            r.key = std::string(term);
            r.op = Requirement::Op::kExists;
        }
        if (!valid_key(r.key)) throw fail("invalid label key \"" + r.key + "\"");
        selector.requirements_.push_back(std::move(r));
    }
    return selector;
}

LabelSelector LabelSelector::from_object(const json::object& object) {
    LabelSelector selector;
    if (const auto* labels = object.if_contains("matchLabels"); labels && labels->is_object()) {
        for (const auto& [key, value] : labels->as_object()) {
            if (!value.is_string()) continue;
            selector.requirements_.push_back(
                {std::string(key), Requirement::Op::kEquals, {std::string(value.as_string())}});
        }
    }
    if (const auto* exprs = object.if_contains("matchExpressions"); exprs && exprs->is_array()) {
        for (const auto& e : exprs->as_array()) {
            if (!e.is_object()) continue;
            const auto& o = e.as_object();
            Requirement r;
            r.key =
                o.contains("key") && o.at("key").is_string() ? o.at("key").as_string().c_str() : "";
            const std::string op = o.contains("operator") && o.at("operator").is_string()
                                       ? std::string(o.at("operator").as_string())
                                       : "";
            if (op == "In")
                r.op = Requirement::Op::kIn;
            else if (op == "NotIn")
                r.op = Requirement::Op::kNotIn;
            else if (op == "Exists")
                r.op = Requirement::Op::kExists;
            else if (op == "DoesNotExist")
                r.op = Requirement::Op::kDoesNotExist;
            else
                continue;
            if (const auto* values = o.if_contains("values"); values && values->is_array()) {
                for (const auto& v : values->as_array()) {
                    if (v.is_string()) r.values.emplace_back(v.as_string());
                }
            }
            selector.requirements_.push_back(std::move(r));
        }
    }
    return selector;
}

bool LabelSelector::matches(const json::object* labels) const {
    for (const auto& r : requirements_) {
        const json::value* value = labels ? labels->if_contains(r.key) : nullptr;
        const bool present = value != nullptr && value->is_string();
        const std::string actual = present ? std::string(value->as_string()) : "";
        auto in_values = [&] {
            for (const auto& v : r.values) {
                if (v == actual) return true;
            }
            return false;
        };
        switch (r.op) {
            case Requirement::Op::kEquals:
            case Requirement::Op::kIn:
                if (!present || !in_values()) return false;
                break;
            case Requirement::Op::kNotEquals:
            case Requirement::Op::kNotIn:
                if (present && in_values()) return false;
                break;
            case Requirement::Op::kExists:
                if (!present) return false;
                break;
            case Requirement::Op::kDoesNotExist:
                if (present) return false;
                break;
        }
    }
    return true;
}

FieldSelector FieldSelector::parse(std::string_view text,
                                   const std::vector<std::string>& supported) {
    FieldSelector selector;
    if (trim(text).empty()) return selector;
    for (std::string_view term : split_terms(text)) {
        Term t;
        size_t at;
        size_t op_len;
        if ((at = term.find("!=")) != std::string_view::npos) {
            t.equals = false;
            op_len = 2;
        } else if ((at = term.find("==")) != std::string_view::npos) {
            t.equals = true;
            op_len = 2;
        } else if ((at = term.find('=')) != std::string_view::npos) {
            t.equals = true;
            op_len = 1;
        } else {
            throw bad_request("invalid selector: '" + std::string(text) + "'; can't understand '" +
                              std::string(term) + "'");
        }
        t.field = std::string(trim(term.substr(0, at)));
        t.value = std::string(trim(term.substr(at + op_len)));
        const bool known =
            t.field == "metadata.name" || t.field == "metadata.namespace" ||
            std::find(supported.begin(), supported.end(), t.field) != supported.end();
        if (!known) throw bad_request("field label not supported: " + t.field);
        selector.terms_.push_back(std::move(t));
    }
    return selector;
}

std::string field_value(const json::object& object, std::string_view path) {
    const json::object* current = &object;
    const json::value* value = nullptr;
    size_t start = 0;
    while (start <= path.size()) {
        size_t dot = path.find('.', start);
        const std::string_view part = path.substr(
            start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        value = current->if_contains(part);
        if (value == nullptr) return "";
        if (dot == std::string_view::npos) break;
        if (!value->is_object()) return "";
        current = &value->as_object();
        start = dot + 1;
    }
    if (value == nullptr) return "";
    if (value->is_string()) return std::string(value->as_string());
    if (value->is_bool()) return value->as_bool() ? "true" : "false";
    if (value->is_number()) return json::serialize(*value);
    return "";
}

bool FieldSelector::matches(const json::object& object) const {
    for (const auto& t : terms_) {
        const bool equal = field_value(object, t.field) == t.value;
        if (equal != t.equals) return false;
    }
    return true;
}

std::string FieldSelector::required(std::string_view field) const {
    for (const auto& t : terms_) {
        if (t.field == field && t.equals) return t.value;
    }
    return "";
}

}  // namespace kcube::api
