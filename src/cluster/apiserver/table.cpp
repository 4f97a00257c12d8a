#include "cluster/apiserver/table.hpp"

#include <boost/json.hpp>
#include <chrono>

#include "cluster/api/crd.hpp"
#include "cluster/api/meta.hpp"
#include "cluster/api/printers.hpp"

namespace kcube::apiserver {
namespace json = boost::json;

bool wants_table(const std::string& accept) {
    return accept.find("as=Table") != std::string::npos &&
           accept.find("g=meta.k8s.io") != std::string::npos;
}

namespace {

json::object row_object(const api::ResourceInfo& info, const json::object& object,
                        const std::string& include_object) {
    if (include_object == "Object") {
        json::object full = object;
        full["kind"] = info.kind;
        full["apiVersion"] = info.api_version();
        return full;
    }
    json::object partial{{"kind", "PartialObjectMetadata"}, {"apiVersion", "meta.k8s.io/v1"}};
    if (const auto* metadata = object.if_contains("metadata")) partial["metadata"] = *metadata;
    return partial;
}

// A custom resource's columns: Name, then its additionalPrinterColumns (or Age when it has none),
// evaluated from their JSONPaths; dates print as ages, as upstream's CRD table convertor does.
std::vector<api::CustomPrinterColumn> custom_columns(const api::ResourceInfo& info) {
    std::vector<api::CustomPrinterColumn> columns = {
        {"Name", "string", "name", "Name must be unique within a namespace.", ".metadata.name", 0}};
    if (info.custom_columns.empty()) {
        columns.push_back({"Age", "date", "",
                           "CreationTimestamp is a timestamp representing the server time when "
                           "this object was created.",
                           ".metadata.creationTimestamp", 0});
    }
    columns.insert(columns.end(), info.custom_columns.begin(), info.custom_columns.end());
    return columns;
}

json::array custom_cells(const std::vector<api::CustomPrinterColumn>& columns,
                         const json::object& object, std::chrono::system_clock::time_point now) {
    json::array cells;
    for (const auto& column : columns) {
        json::value value = api::eval_simple_jsonpath(object, column.json_path);
        if (column.type == "date" && value.is_string()) {
            std::chrono::system_clock::time_point t;
            value = api::parse_time(value.as_string(), t)
                        ? json::value(api::human_duration(now - t))
                        : json::value("<unknown>");
        } else if (value.is_null() || (value.is_string() && value.as_string().empty())) {
            value = nullptr;
        }
        cells.push_back(std::move(value));
    }
    return cells;
}

}  // namespace

json::object to_table(const api::ResourceInfo& info, const json::object& payload, bool is_list,
                      const std::string& include_object) {
    const api::Printer* printer = info.custom ? nullptr : api::find_printer(info.group, info.kind);
    if (printer == nullptr) printer = &api::default_printer();
    const auto custom =
        info.custom ? custom_columns(info) : std::vector<api::CustomPrinterColumn>{};
    std::vector<api::TableColumn> definitions = printer->columns;
    if (info.custom) {
        definitions.clear();
        for (const auto& c : custom) {
            definitions.push_back({c.name, c.type, c.format, c.description, c.priority});
        }
    }
    json::array columns;
    for (const auto& c : definitions) {
        columns.push_back(json::object{{"name", c.name},
                                       {"type", c.type},
                                       {"format", c.format},
                                       {"description", c.description},
                                       {"priority", c.priority}});
    }
    const auto now = std::chrono::system_clock::now();
    json::array rows;
    auto add_row = [&](const json::object& object) {
        json::object row{{"cells", info.custom ? custom_cells(custom, object, now)
                                               : printer->cells(object, now)}};
        if (!info.custom && printer->conditions) {
            auto conditions = printer->conditions(object);
            if (!conditions.empty()) row["conditions"] = std::move(conditions);
        }
        if (include_object != "None") row["object"] = row_object(info, object, include_object);
        rows.push_back(std::move(row));
    };
    json::object metadata;
    if (is_list) {
        for (const auto& item : payload.at("items").as_array())
            add_row(item.as_object());
        if (const auto* m = payload.if_contains("metadata")) metadata = m->as_object();
    } else {
        add_row(payload);
        if (const auto* m = payload.if_contains("metadata"); m && m->is_object()) {
            if (const auto* rv = m->as_object().if_contains("resourceVersion")) {
                metadata["resourceVersion"] = *rv;
            }
        }
    }
    return json::object{{"kind", "Table"},
                        {"apiVersion", "meta.k8s.io/v1"},
                        {"metadata", std::move(metadata)},
                        {"columnDefinitions", std::move(columns)},
                        {"rows", std::move(rows)}};
}

}  // namespace kcube::apiserver
