#include "cli/output.hpp"

#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

namespace kcube::cli {
namespace json = boost::json;

void add_output_flag(CLI::App& command, Format& format, bool with_yaml) {
    std::map<std::string, Format> formats = {{"text", Format::kText}, {"json", Format::kJson}};
    if (with_yaml) formats["yaml"] = Format::kYaml;
    command
        .add_option("-o,--output", format,
                    with_yaml ? "Output format: text, json or yaml" : "Output format: text or json")
        ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case))
        ->default_str("text");
}

namespace {

void write_json(const json::value& value, std::string& out, int indent) {
    const std::string pad(static_cast<size_t>(indent) * 2, ' ');
    const std::string inner(static_cast<size_t>(indent + 1) * 2, ' ');
    switch (value.kind()) {
        case json::kind::object: {
            const auto& object = value.get_object();
            if (object.empty()) {
                out += "{}";
                return;
            }
            out += "{\n";
            bool first = true;
            for (const auto& member : object) {
                if (!first) out += ",\n";
                first = false;
                out += inner + json::serialize(json::string(member.key())) + ": ";
                write_json(member.value(), out, indent + 1);
            }
            out += "\n" + pad + "}";
            return;
        }
        case json::kind::array: {
            const auto& array = value.get_array();
            if (array.empty()) {
                out += "[]";
                return;
            }
            out += "[\n";
            for (size_t i = 0; i < array.size(); ++i) {
                if (i > 0) out += ",\n";
                out += inner;
                write_json(array[i], out, indent + 1);
            }
            out += "\n" + pad + "]";
            return;
        }
        default:
            out += json::serialize(value);
    }
}

void emit_yaml(const json::value& value, YAML::Emitter& out) {
    switch (value.kind()) {
        case json::kind::object:
            out << YAML::BeginMap;
            for (const auto& member : value.get_object()) {
                out << YAML::Key << std::string(member.key()) << YAML::Value;
                emit_yaml(member.value(), out);
            }
            out << YAML::EndMap;
            return;
        case json::kind::array:
            out << YAML::BeginSeq;
            for (const auto& item : value.get_array())
                emit_yaml(item, out);
            out << YAML::EndSeq;
            return;
        case json::kind::string:
            // Quoted, so a string such as "true" or "8443" stays a string for YAML readers.
            out << YAML::DoubleQuoted << std::string(value.get_string());
            return;
        case json::kind::null:
            out << YAML::Null;
            return;
        default:
            out << json::serialize(value);
    }
}

}  // namespace

std::string pretty_json(const json::value& value) {
    std::string out;
    write_json(value, out, 0);
    return out + "\n";
}

std::string to_yaml(const json::value& value) {
    YAML::Emitter out;
    emit_yaml(value, out);
    return std::string(out.c_str()) + "\n";
}

std::string table(const std::vector<std::string>& headers,
                  const std::vector<std::vector<std::string>>& rows) {
    std::vector<size_t> widths(headers.size());
    for (size_t c = 0; c < headers.size(); ++c)
        widths[c] = headers[c].size();
    for (const auto& row : rows) {
        for (size_t c = 0; c < row.size() && c < widths.size(); ++c) {
            widths[c] = std::max(widths[c], row[c].size());
        }
    }
    auto line = [&](const std::vector<std::string>& cells) {
        std::string out;
        for (size_t c = 0; c < cells.size(); ++c) {
            out += cells[c];
            if (c + 1 < cells.size()) out += std::string(widths[c] - cells[c].size() + 3, ' ');
        }
        return out + "\n";
    };
    std::string out = line(headers);
    for (const auto& row : rows)
        out += line(row);
    return out;
}

}  // namespace kcube::cli
