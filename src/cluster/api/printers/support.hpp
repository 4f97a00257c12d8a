#pragma once
// Helpers shared by the per-group printer files: reading fields of an object's JSON the way
// upstream's Go types see them (a missing field is the zero value), timestamps and ages, column
// definitions, and the small formatters upstream's printers share (labels, selectors,
// quantities, container lists).
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster/api/printers.hpp"

namespace kcube::api::printers {

using Clock = std::chrono::system_clock;
using Path = std::initializer_list<std::string_view>;

// One row of the registry: the printer of a kind in an API group ("" for core).
struct KindPrinter {
    std::string_view group;
    std::string_view kind;
    Printer printer;
};

// The registries of the group files, each built once.
const std::vector<KindPrinter>& core_printers();
const std::vector<KindPrinter>& apps_printers();
const std::vector<KindPrinter>& batch_printers();
const std::vector<KindPrinter>& networking_printers();
const std::vector<KindPrinter>& cluster_printers();
const std::vector<KindPrinter>& autoscaling_printers();

// --- Reading JSON ------------------------------------------------------------------------------

// The value at `path` (object keys), or nullptr when a step is missing or not an object.
const boost::json::value* find(const boost::json::object& object, Path path);
// Present and not null: what a non-nil pointer field is in upstream's Go types.
bool present(const boost::json::object& object, Path path);
// The string at `path`, or "" (the Go zero value) when missing or not a string.
std::string_view get_string(const boost::json::object& object, Path path);
// The integer at `path`, or `fallback` when missing or not a number.
std::int64_t get_int(const boost::json::object& object, Path path, std::int64_t fallback = 0);
// The boolean at `path`, or `fallback` when missing or not a boolean.
bool get_bool(const boost::json::object& object, Path path, bool fallback = false);
const boost::json::object* get_object(const boost::json::object& object, Path path);
const boost::json::array* get_array(const boost::json::object& object, Path path);
// Number of members of the object or elements of the array at `path` (0 when missing).
std::int64_t count(const boost::json::object& object, Path path);
// The objects of the array at `path`, skipping elements that are not objects.
std::vector<const boost::json::object*> objects(const boost::json::object& object, Path path);

std::string_view name_of(const boost::json::object& object);

// --- Time --------------------------------------------------------------------------------------

// An RFC 3339 timestamp (metav1.Time or MicroTime). nullopt when missing, malformed, or Go's
// zero time (0001-01-01T00:00:00Z), which upstream treats as "not set".
std::optional<Clock::time_point> parse_time(std::string_view text);
std::optional<Clock::time_point> time_at(const boost::json::object& object, Path path);
// upstream's translateTimestampSince: "<unknown>" for an unset time, else the human duration
// from the time to `now`.
std::string since(const std::optional<Clock::time_point>& time, Clock::time_point now);
std::string since(const boost::json::object& object, Path path, Clock::time_point now);
// The Age cell of every printer: metadata.creationTimestamp since `now`.
std::string age(const boost::json::object& object, Clock::time_point now);

// --- Columns -----------------------------------------------------------------------------------

TableColumn name_column();
TableColumn age_column();
// A default column (priority 0) of type `type` (upstream's types: "string", "integer",
// "boolean").
TableColumn column(std::string name, std::string_view description, std::string type = "string");
// A column shown only with -o wide (priority 1).
TableColumn wide_column(std::string name, std::string_view description,
                        std::string type = "string");

// --- Formatting --------------------------------------------------------------------------------

std::string join(const std::vector<std::string>& items, std::string_view separator);
std::string lower_ascii(std::string_view text);
std::string trim_space(std::string_view text);

// labels.FormatLabels: "k=v,..." sorted, "<none>" when empty or missing.
std::string format_labels(const boost::json::object* labels);
// The string of a metav1.LabelSelector as upstream's labels.Selector prints it: requirements
// sorted by key, "" for a missing or empty selector, nullopt when the selector is invalid.
std::optional<std::string> selector_string(const boost::json::object* selector);
// metav1.FormatLabelSelector: the selector string, "<none>" when empty, "<error>" when invalid.
std::string format_label_selector(const boost::json::object* selector);

// The Containers and Images cells: names and images of `containers`, comma separated.
std::pair<std::string, std::string> container_cells(const boost::json::array* containers);

// A resource.Quantity in its canonical form, as the API server prints it ("1024Mi" -> "1Gi",
// "0.5" -> "500m"); text that does not parse is returned as it is.
std::string canonical_quantity(std::string_view text);
// The canonical quantity at `path`, "0" (the zero Quantity) when missing.
std::string quantity_at(const boost::json::object& object, Path path);

// An IntOrString value as upstream prints it; "" when missing.
std::string int_or_string(const boost::json::value* value);

// status.loadBalancer.ingress of a Service or Ingress: each entry's IP, else its hostname,
// sorted and without duplicates. Upstream clips this to 16 characters only for client-side
// printing; the server prints the wide form.
std::string load_balancer_addresses(const boost::json::object& object);

// "RWO,ROX,RWX,RWOP": the access modes present, in upstream's fixed order.
std::string access_modes(const boost::json::array* modes);

// upstream's printBoolPtr: "True", "False", or "<unset>" when missing.
std::string bool_ptr(const boost::json::object& object, Path path);

}  // namespace kcube::api::printers
