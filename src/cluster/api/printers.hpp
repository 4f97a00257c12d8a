#pragma once
// Table columns for `kubectl get` (as=Table): for each built-in kind, upstream's column
// definitions (name, type, format, description, priority 0 = default, 1 = -o wide only) and a
// function that computes one row's cells from the object, exactly as upstream's printers do
// (pkg/printers/internalversion/printers.go is the reference for behaviour).
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace kcube::api {

struct TableColumn {
    std::string name;         // "Name", "Ready", "Status", "Restarts", "Age", ...
    std::string type;         // "string", "integer", "number", "boolean", "date"
    std::string format;       // "name" for the Name column, else usually ""
    std::string description;  // shown in the columnDefinitions
    int priority = 0;
};

struct Printer {
    std::vector<TableColumn> columns;
    // Cells of one row, one per column, in order. `now` makes ages deterministic in tests.
    boost::json::array (*cells)(const boost::json::object& object,
                                std::chrono::system_clock::time_point now) = nullptr;
    // The row's "conditions" (metav1.TableRowCondition objects), for the kinds whose upstream
    // printer sets them (a Succeeded or Failed Pod is "Completed"); nullptr for the others. An
    // empty array means no "conditions" field in the row (upstream omits it when empty).
    boost::json::array (*conditions)(const boost::json::object& object) = nullptr;
};

// The printer for a built-in kind (group "" for core), or nullptr: the server then uses the
// default Name/Age table, like upstream.
const Printer* find_printer(std::string_view group, std::string_view kind);

// Upstream's default table for kinds without a printer (and custom resources without
// additionalPrinterColumns): Name and Created At.
const Printer& default_printer();

// kubectl's human duration ("5s", "3m2s", "4h", "2d3h", "5y"), as in apimachinery's
// duration.HumanDuration. Upstream's built-in printers compute their Age cells (and Job
// Duration, CronJob Last Schedule, Event times) on the server with it; only the default table's
// "Created At" column (type date) is turned into an age by the client.
std::string human_duration(std::chrono::system_clock::duration d);

}  // namespace kcube::api
