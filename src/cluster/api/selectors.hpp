#pragma once
// Label selectors ("app=web,tier!=db,env in (a,b),!canary,release") and field selectors
// ("metadata.name=web,status.phase!=Running"), parsed as upstream parses them.
#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace kcube::api {

class LabelSelector {
  public:
    // Throws ApiError 400 with upstream's message on a malformed selector.
    static LabelSelector parse(std::string_view text);
    // From a metav1.LabelSelector object ({matchLabels, matchExpressions}).
    static LabelSelector from_object(const boost::json::object& selector);
    bool empty() const { return requirements_.empty(); }
    bool matches(const boost::json::object* labels) const;

  private:
    struct Requirement {
        std::string key;
        enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist } op;
        std::vector<std::string> values;
    };
    std::vector<Requirement> requirements_;
};

class FieldSelector {
  public:
    // `supported` are the fields this resource allows besides metadata.name/namespace; any
    // other field is a 400 "field label not supported: <field>".
    static FieldSelector parse(std::string_view text, const std::vector<std::string>& supported);
    bool empty() const { return terms_.empty(); }
    bool matches(const boost::json::object& object) const;
    // The value required for metadata.namespace / spec.nodeName etc., if the selector pins it.
    std::string required(std::string_view field) const;

  private:
    struct Term {
        std::string field;
        bool equals;
        std::string value;
    };
    std::vector<Term> terms_;
};

// The value of a dotted field path ("spec.nodeName") as a field selector sees it: strings as
// they are, booleans "true"/"false", numbers in decimal, missing as "".
std::string field_value(const boost::json::object& object, std::string_view path);

}  // namespace kcube::api
