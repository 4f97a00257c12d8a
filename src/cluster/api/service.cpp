#include "cluster/api/service.hpp"

#include <boost/json.hpp>
#include <mutex>
#include <optional>

#include "cluster/api/apply.hpp"
#include "cluster/api/builtin_schemas.hpp"
#include "cluster/api/crd.hpp"
#include "cluster/api/meta.hpp"
#include "cluster/api/patch.hpp"
#include "cluster/api/prune.hpp"
#include "cluster/api/schema.hpp"
#include "cluster/api/selectors.hpp"
#include "cluster/api/service_ips.hpp"
#include "cluster/api/strategy.hpp"
#include "cluster/store/store.hpp"
#include "common/base64.hpp"

namespace kcube::api {
namespace json = boost::json;
using store::StoreError;

namespace {

constexpr int kMaxPatchRetries = 8;

json::object parse_stored(const store::Object& stored) {
    json::value value = parse_document(stored.value);
    json::object& object = value.as_object();
    metadata_of(object)["resourceVersion"] = std::to_string(stored.mod_revision);
    return std::move(object);
}

// Stored documents start with apiVersion, kind and then metadata, so a list can be written by
// splicing the resourceVersion into the text instead of parsing every item (see list_json).
std::string encode_for_store(json::object object) {
    metadata_of(object).erase("resourceVersion");
    json::object ordered;
    ordered.reserve(object.size());
    for (const char* key : {"apiVersion", "kind", "metadata"}) {
        if (auto* value = object.if_contains(key)) ordered[key] = std::move(*value);
    }
    for (auto& [key, value] : object) {
        if (key != "apiVersion" && key != "kind" && key != "metadata") {
            ordered[key] = std::move(value);
        }
    }
    return json::serialize(ordered);
}

// One list item as JSON text from its stored document: metadata.resourceVersion spliced in
// and, for built-in kinds, apiVersion and kind left out (as upstream lists them).
void append_list_item(std::string& out, const store::Object& stored, bool keep_type) {
    static constexpr std::string_view kMetadata = "\"metadata\":{";
    const std::string_view text = stored.value;
    const auto at = text.find(kMetadata);
    if (at == std::string_view::npos) {
        // Not written by encode_for_store: take the slow, always-correct path.
        json::object object = parse_stored(stored);
        if (!keep_type) {
            object.erase("apiVersion");
            object.erase("kind");
        }
        out += json::serialize(object);
        return;
    }
    const auto after = at + kMetadata.size();
    out += keep_type ? text.substr(0, after) : "{" + std::string(kMetadata);
    out += "\"resourceVersion\":\"" + std::to_string(stored.mod_revision) + "\"";
    if (after < text.size() && text[after] != '}') out += ',';
    out += text.substr(after);
}

// Everything but metadata and status: a change here bumps metadata.generation.
json::object spec_part(const json::object& object) {
    json::object out = object;
    out.erase("metadata");
    out.erase("status");
    return out;
}

bool same_ignoring_version(json::object a, json::object b) {
    metadata_of(a).erase("resourceVersion");
    metadata_of(b).erase("resourceVersion");
    return a == b;
}

std::int64_t parse_revision(const std::string& text, bool& ok) {
    ok = !text.empty();
    std::int64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') {
            ok = false;
            return 0;
        }
        value = value * 10 + (c - '0');
    }
    return value;
}

// Continue tokens: base64url of "<revision>:<last key>".
std::string encode_continue(store::Revision revision, const std::string& key) {
    return base64::encode_url(std::to_string(revision) + ":" + key);
}

bool decode_continue(const std::string& token, store::Revision& revision, std::string& key) {
    const auto raw = base64::decode_url(token);
    if (!raw) return false;
    const auto colon = raw->find(':');
    if (colon == std::string::npos) return false;
    bool ok;
    revision = parse_revision(raw->substr(0, colon), ok);
    key = raw->substr(colon + 1);
    return ok;
}

json::object success_status(const ResourceInfo& info, const std::string& name,
                            const std::string& uid) {
    json::object details{{"name", name}, {"kind", info.plural}};
    if (!info.group.empty()) details["group"] = info.group;
    if (!uid.empty()) details["uid"] = uid;
    return json::object{{"kind", "Status"},
                        {"apiVersion", "v1"},
                        {"metadata", json::object{}},
                        {"status", "Success"},
                        {"details", std::move(details)}};
}

const json::object* labels_of(const json::object& object) {
    const auto* metadata = object.if_contains("metadata");
    if (metadata == nullptr || !metadata->is_object()) return nullptr;
    const auto* labels = metadata->as_object().if_contains("labels");
    return labels && labels->is_object() ? &labels->as_object() : nullptr;
}

struct Filter {
    LabelSelector labels;
    FieldSelector fields;
    bool matches(const json::object& object) const {
        return labels.matches(labels_of(object)) && fields.matches(object);
    }
};

Filter make_filter(const ResourceInfo& info, const ListOptions& options) {
    return {LabelSelector::parse(options.label_selector),
            FieldSelector::parse(options.field_selector, info.field_selectors)};
}

[[noreturn]] void rethrow_store_error(const StoreError& e, const ResourceInfo& info,
                                      const std::string& name) {
    switch (e.code()) {
        case StoreError::Code::kNotFound:
            throw not_found(info.group, info.plural, name);
        case StoreError::Code::kAlreadyExists:
            throw already_exists(info.group, info.plural, name);
        case StoreError::Code::kConflict:
            throw conflict(info.group, info.plural, name,
                           "the object has been modified; please apply your changes to the "
                           "latest version and try again");
        case StoreError::Code::kCompacted:
            throw gone(std::string("too old resource version: ") + e.what());
        case StoreError::Code::kUnavailable:
            throw ApiError(503, "ServiceUnavailable", e.what());
    }
    throw internal_error(e.what());
}

class ServiceWatch final : public WatchStream {
  public:
    ServiceWatch(std::unique_ptr<store::Watch> watch, store::Store& store, Filter filter,
                 std::vector<WatchEvent> initial, const ResourceInfo& info)
        : watch_(std::move(watch)),
          store_(store),
          filter_(std::move(filter)),
          pending_(std::move(initial)),
          kind_(info.kind),
          api_version_(info.api_version()) {}

    std::vector<WatchEvent> poll() override {
        std::vector<WatchEvent> out = std::move(pending_);
        pending_.clear();
        if (failed_) return out;
        try {
            const store::Revision seen = store_.revision();
            auto events = watch_->poll();
            for (auto& e : events)
                convert(e, out);
            if (events.empty()) delivered_ = std::max(delivered_, seen);
        } catch (const StoreError& e) {
            failed_ = true;
            const std::string message = e.code() == StoreError::Code::kCompacted
                                            ? std::string("too old resource version: ") + e.what()
                                            : std::string(e.what());
            ApiError error = e.code() == StoreError::Code::kCompacted
                                 ? gone(message)
                                 : ApiError(503, "ServiceUnavailable", message);
            out.push_back({"ERROR", error.to_status()});
        }
        return out;
    }

    void on_ready(std::function<void()> callback) override {
        watch_->on_ready(std::move(callback));
    }

    WatchEvent bookmark() override {
        json::object object{
            {"kind", kind_},
            {"apiVersion", api_version_},
            {"metadata", json::object{{"resourceVersion", std::to_string(delivered_)}}}};
        return {"BOOKMARK", std::move(object)};
    }

  private:
    void convert(const store::Event& e, std::vector<WatchEvent>& out) {
        delivered_ = e.object.mod_revision;
        json::object current = parse_stored(e.object);
        if (filter_.labels.empty() && filter_.fields.empty()) {
            out.push_back({type_name(e.type), std::move(current)});
            return;
        }
        const bool now_matches = filter_.matches(current);
        // A filtered watch sees objects entering and leaving the selection, as upstream's.
        bool before_matched = false;
        json::object previous;
        if (e.type != store::EventType::kAdded) {
            if (auto prev = store_.get(e.object.key, e.object.mod_revision - 1)) {
                previous = parse_stored(*prev);
                before_matched = filter_.matches(previous);
            }
        }
        if (e.type == store::EventType::kDeleted) {
            if (now_matches || before_matched) out.push_back({"DELETED", std::move(current)});
        } else if (e.type == store::EventType::kAdded) {
            if (now_matches) out.push_back({"ADDED", std::move(current)});
        } else if (now_matches) {
            out.push_back({before_matched ? "MODIFIED" : "ADDED", std::move(current)});
        } else if (before_matched) {
            metadata_of(previous)["resourceVersion"] = std::to_string(e.object.mod_revision);
            out.push_back({"DELETED", std::move(previous)});
        }
    }

    static std::string type_name(store::EventType type) {
        switch (type) {
            case store::EventType::kAdded:
                return "ADDED";
            case store::EventType::kModified:
                return "MODIFIED";
            case store::EventType::kDeleted:
                return "DELETED";
        }
        return "ERROR";
    }

    std::unique_ptr<store::Watch> watch_;
    store::Store& store_;
    Filter filter_;
    std::vector<WatchEvent> pending_;
    std::string kind_;
    std::string api_version_;
    store::Revision delivered_ = 0;
    bool failed_ = false;

  public:
    void set_delivered(store::Revision r) { delivered_ = r; }
};

}  // namespace

struct ResourceService::Impl {
    explicit Impl(const SchemaSet& s) : schemas(s) {}
    const SchemaSet& schemas;
    // Serialises Service writes so two Services never get the same cluster IP or node port.
    std::mutex service_allocation;
    ServiceRanges service_ranges{};

    static bool is_service(const ResourceInfo& info) {
        return info.group.empty() && info.plural == "services";
    }

    void allocate_service(store::Store& store, json::object& service, const json::object* old,
                          std::vector<StatusCause>& causes) const {
        std::vector<json::object> existing;
        for (auto& stored : store.list("/registry/core/services/").items) {
            existing.push_back(parse_stored(stored));
        }
        const auto in_use = addresses_in_use(existing, meta_string(service, "namespace"),
                                             meta_string(service, "name"));
        allocate_service_addresses(service, old, in_use, service_ranges, causes);
    }

    const Schema* schema_for(const ResourceInfo& info) const {
        if (info.custom) return info.custom_schema.get();
        return info.definition.empty() ? nullptr : schemas.find(info.definition);
    }

    // What field management (managedFields, server-side apply) needs to know about a kind.
    ManagedScope managed_scope(const ResourceInfo& info, std::string_view subresource) const {
        return ManagedScope{schemas,
                            schema_for(info),
                            info.api_version(),
                            info.kind,
                            std::string(subresource),
                            !info.custom,
                            info.has_subresource("status")};
    }

    // Drops fields the type does not have and reports them as fieldValidation asks.
    void check_fields(const ResourceInfo& info, json::object& object,
                      const WriteOptions& options) const {
        const Schema* schema = schema_for(info);
        if (schema == nullptr) return;
        json::value value = std::move(object);
        const auto unknown = prune_unknown_fields(value, schemas, schema);
        object = std::move(value.as_object());
        if (unknown.empty() || options.field_validation == "Ignore") return;
        if (options.field_validation == "Strict") {
            std::string message = info.kind + " in version \"" + info.version +
                                  "\" cannot be handled as a " + info.kind +
                                  ": strict decoding error: ";
            for (size_t i = 0; i < unknown.size(); ++i) {
                message += (i ? ", " : "") + std::string("unknown field \"") + unknown[i] + "\"";
            }
            throw bad_request(message);
        }
        if (options.warnings != nullptr) {
            for (const auto& field : unknown) {
                options.warnings->push_back("unknown field \"" + field + "\"");
            }
        }
    }
};

ResourceService::ResourceService(std::shared_ptr<store::Store> store,
                                 std::shared_ptr<ResourceRegistry> registry,
                                 const SchemaSet& schemas)
    : impl_(std::make_unique<Impl>(schemas)),
      store_(std::move(store)),
      registry_(std::move(registry)) {}

ResourceService::~ResourceService() = default;

const SchemaSet& ResourceService::schemas() const {
    return impl_->schemas;
}

std::string ResourceService::storage_key(const ResourceInfo& info, std::string_view ns,
                                         std::string_view name) const {
    std::string key = "/registry/";
    key += info.group.empty() ? "core" : info.group;
    key += "/";
    key += info.plural;
    key += "/";
    if (info.namespaced && !ns.empty()) {
        key += ns;
        key += "/";
    }
    key += name;
    return key;
}

json::object ResourceService::get(const ResourceInfo& info, const std::string& ns,
                                  const std::string& name) {
    auto stored = store_->get(storage_key(info, ns, name));
    if (!stored) throw not_found(info.group, info.plural, name);
    return parse_stored(*stored);
}

struct ResourceService::Listing {
    std::vector<store::Object> items;
    store::Revision revision = 0;
    bool more = false;
    std::string last_key;
};

ResourceService::Listing ResourceService::collect(const ResourceInfo& info, const std::string& ns,
                                                  const ListOptions& options) {
    const Filter filter = make_filter(info, options);
    // "": every namespace (a namespaced resource listed cluster-wide).
    const std::string prefix = storage_key(info, ns, "");
    store::Revision at = 0;
    std::string start_after;
    if (!options.continue_token.empty()) {
        if (!decode_continue(options.continue_token, at, start_after) ||
            start_after.rfind(prefix, 0) != 0) {
            throw bad_request("continue key is not valid: invalid continue token");
        }
        if (at < store_->compacted_revision()) {
            throw gone(
                "The provided continue parameter is too old to display a consistent list "
                "result. You can start a new list without the continue parameter, or use the "
                "continue token in this response to retrieve the remainder of the results. "
                "Continuing with the provided token results in an inconsistent list - objects "
                "that were created, modified, or deleted between the time the first chunk was "
                "returned and now may show up in the list.");
        }
    } else if (!options.resource_version.empty() && options.resource_version != "0") {
        bool ok;
        const auto requested = parse_revision(options.resource_version, ok);
        if (!ok) {
            throw bad_request("invalid resource version \"" + options.resource_version + "\"");
        }
        if (options.resource_version_match == "Exact") {
            if (requested < store_->compacted_revision()) {
                throw gone("too old resource version: " + options.resource_version + " (" +
                           std::to_string(store_->compacted_revision()) + ")");
            }
            at = requested;
        } else if (requested > store_->revision()) {
            throw ApiError(504, "Timeout",
                           "Too large resource version: " + options.resource_version +
                               ", current: " + std::to_string(store_->revision()))
                .with_retry_after(1);
        }
    }
    Listing listing;
    const size_t limit = options.limit > 0 ? static_cast<size_t>(options.limit) : 0;
    const bool filtered = !filter.labels.empty() || !filter.fields.empty();
    for (;;) {
        const size_t chunk = limit == 0 ? 0 : std::max<size_t>(limit - listing.items.size(), 50);
        auto page = store_->list(prefix, at, chunk, start_after);
        listing.revision = page.revision;
        at = page.revision;  // later chunks read the same snapshot
        for (auto& stored : page.items) {
            listing.last_key = stored.key;
            if (filtered && !filter.matches(parse_stored(stored))) continue;
            listing.items.push_back(std::move(stored));
            if (limit > 0 && listing.items.size() == limit) break;
        }
        if (limit > 0 && listing.items.size() == limit) {
            listing.more =
                page.more || listing.last_key != (page.items.empty() ? "" : page.items.back().key);
            break;
        }
        if (!page.more) break;
        start_after = page.items.back().key;
    }
    return listing;
}

json::object ResourceService::list(const ResourceInfo& info, const std::string& ns,
                                   const ListOptions& options) {
    Listing listing = collect(info, ns, options);
    json::array items;
    items.reserve(listing.items.size());
    for (const auto& stored : listing.items) {
        json::object object = parse_stored(stored);
        if (!info.custom) {
            object.erase("kind");
            object.erase("apiVersion");
        }
        items.push_back(std::move(object));
    }
    json::object metadata{{"resourceVersion", std::to_string(listing.revision)}};
    if (listing.more) metadata["continue"] = encode_continue(listing.revision, listing.last_key);
    return json::object{{"kind", info.list_kind},
                        {"apiVersion", info.api_version()},
                        {"metadata", std::move(metadata)},
                        {"items", std::move(items)}};
}

std::string ResourceService::list_json(const ResourceInfo& info, const std::string& ns,
                                       const ListOptions& options) {
    const Listing listing = collect(info, ns, options);
    std::string out = "{\"kind\":\"" + info.list_kind + "\",\"apiVersion\":\"" +
                      info.api_version() + "\",\"metadata\":{\"resourceVersion\":\"" +
                      std::to_string(listing.revision) + "\"";
    if (listing.more) {
        out += ",\"continue\":\"" + encode_continue(listing.revision, listing.last_key) + "\"";
    }
    out += "},\"items\":[";
    size_t bytes = out.size();
    for (const auto& stored : listing.items)
        bytes += stored.value.size() + 40;
    out.reserve(bytes + 2);
    for (size_t i = 0; i < listing.items.size(); ++i) {
        if (i > 0) out += ',';
        append_list_item(out, listing.items[i], info.custom);
    }
    out += "]}";
    return out;
}

namespace {

void check_type(const ResourceInfo& info, json::object& object) {
    const auto* kind = object.if_contains("kind");
    const auto* api_version = object.if_contains("apiVersion");
    if (api_version != nullptr && api_version->is_string() &&
        api_version->as_string() != info.api_version()) {
        throw bad_request("the API version in the data (" + std::string(api_version->as_string()) +
                          ") does not match the expected API version (" + info.api_version() + ")");
    }
    if (kind != nullptr && kind->is_string() && kind->as_string() != info.kind) {
        throw bad_request("the kind in the data (" + std::string(kind->as_string()) +
                          ") does not match the expected kind (" + info.kind + ")");
    }
    object["apiVersion"] = info.api_version();
    object["kind"] = info.kind;
}

void check_namespace(const ResourceInfo& info, json::object& object, const std::string& ns) {
    auto& metadata = metadata_of(object);
    if (!info.namespaced) {
        metadata.erase("namespace");
        return;
    }
    const std::string given = meta_string(object, "namespace");
    if (!given.empty() && given != ns) {
        throw bad_request(
            "the namespace of the provided object does not match the namespace sent on the "
            "request");
    }
    metadata["namespace"] = ns;
}

void validate_custom(const ResourceInfo& info, const json::object& object,
                     std::vector<StatusCause>& causes) {
    if (!info.custom || !info.custom_schema) return;
    // The custom schema is self-contained (no references), so an empty set resolves it.
    static const SchemaSet no_definitions;
    validate_custom_object(object, no_definitions, info.custom_schema.get(), causes);
}

void validate_common(const ResourceInfo& info, const json::object& object,
                     std::vector<StatusCause>& causes) {
    const std::string name = meta_string(object, "name");
    const Strategy& strategy = strategy_for(info);
    if (name.empty()) {
        causes.push_back({"FieldValueRequired", "Required value: name or generateName is required",
                          "metadata.name"});
    } else {
        switch (strategy.name_rule) {
            case Strategy::NameRule::kSubdomain:
                validate_dns1123_subdomain(name, "metadata.name", causes);
                break;
            case Strategy::NameRule::kLabel:
                validate_dns1123_label(name, "metadata.name", causes);
                break;
            case Strategy::NameRule::kDns1035:
                validate_dns1035_label(name, "metadata.name", causes);
                break;
            case Strategy::NameRule::kPathSegment:
                validate_path_segment_name(name, "metadata.name", causes);
                break;
        }
    }
    const auto* metadata = object.if_contains("metadata");
    if (metadata != nullptr && metadata->is_object()) {
        validate_labels(metadata->as_object(), causes);
        validate_annotations(metadata->as_object(), causes);
    }
    if (strategy.validate) strategy.validate(object, causes);
    validate_custom(info, object, causes);
}

void throw_if_invalid(const ResourceInfo& info, const json::object& object,
                      std::vector<StatusCause> causes) {
    if (causes.empty()) return;
    throw invalid(info.group, info.kind, meta_string(object, "name"), std::move(causes));
}

}  // namespace

json::object ResourceService::create(const ResourceInfo& info, const std::string& ns,
                                     json::object object, const WriteOptions& options) {
    return create_object(info, ns, std::move(object), options, true);
}

json::object ResourceService::create_object(const ResourceInfo& info, const std::string& ns,
                                            json::object object, const WriteOptions& options,
                                            bool track) {
    check_type(info, object);
    check_namespace(info, object, ns);
    impl_->check_fields(info, object, options);
    auto& metadata = metadata_of(object);
    if (!meta_string(object, "resourceVersion").empty()) {
        throw bad_request("resourceVersion should not be set on objects to be created");
    }
    if (info.namespaced && info.plural != "namespaces") {
        auto ns_info = registry_->find("", "v1", "namespaces");
        auto stored = store_->get(storage_key(*ns_info, "", ns));
        if (!stored) throw not_found("", "namespaces", ns);
        const json::object namespace_object = parse_stored(*stored);
        if (!meta_string(namespace_object, "deletionTimestamp").empty()) {
            throw ApiError(403, "Forbidden",
                           info.plural + " \"" + meta_string(object, "name") +
                               "\" is forbidden: unable to create new content in namespace " + ns +
                               " because it is being terminated")
                .with_details({info.group, info.plural, meta_string(object, "name")});
        }
    }
    const std::string generate_name = meta_string(object, "generateName");
    const bool generated = meta_string(object, "name").empty() && !generate_name.empty();
    metadata.erase("deletionTimestamp");
    metadata.erase("deletionGracePeriodSeconds");
    metadata["uid"] = new_uid();
    metadata["creationTimestamp"] = now_rfc3339();
    metadata["generation"] = 1;
    const Strategy& strategy = strategy_for(info);
    if (strategy.prepare_for_create) strategy.prepare_for_create(object);
    if (strategy.apply_defaults) strategy.apply_defaults(object);
    if (track) {
        record_update(nullptr, object, options.field_manager, impl_->managed_scope(info, ""));
    }
    std::unique_lock<std::mutex> allocation;
    if (Impl::is_service(info)) allocation = std::unique_lock(impl_->service_allocation);

    for (int attempt = 0;; ++attempt) {
        if (generated) metadata_of(object)["name"] = generate_name + random_name_suffix();
        std::vector<StatusCause> causes;
        if (Impl::is_service(info)) impl_->allocate_service(*store_, object, nullptr, causes);
        validate_common(info, object, causes);
        throw_if_invalid(info, object, std::move(causes));
        const std::string name = meta_string(object, "name");
        if (options.dry_run) {
            if (store_->get(storage_key(info, ns, name))) {
                throw already_exists(info.group, info.plural, name);
            }
            return object;
        }
        try {
            auto stored = store_->create(storage_key(info, ns, name), encode_for_store(object));
            metadata_of(object)["resourceVersion"] = std::to_string(stored.mod_revision);
            return object;
        } catch (const StoreError& e) {
            // A generated name that collides is retried, as upstream does a few times.
            if (generated && e.code() == StoreError::Code::kAlreadyExists && attempt < 5) continue;
            rethrow_store_error(e, info, name);
        }
    }
}

namespace {

// The new state of the object for an update of `subresource`, from the stored `old` and the
// client's `incoming`.
json::object merge_for_update(const ResourceInfo& info, const json::object& old,
                              json::object incoming, std::string_view subresource) {
    if (subresource == "status") {
        json::object result = old;
        if (const auto* status = incoming.if_contains("status")) {
            result["status"] = *status;
        } else {
            result.erase("status");
        }
        return result;
    }
    auto& metadata = metadata_of(incoming);
    const auto* old_metadata = old.if_contains("metadata");
    for (const char* kept : {"uid", "creationTimestamp", "deletionTimestamp",
                             "deletionGracePeriodSeconds", "generation"}) {
        metadata.erase(kept);
        if (old_metadata != nullptr) {
            if (const auto* value = old_metadata->as_object().if_contains(kept)) {
                metadata[kept] = *value;
            }
        }
    }
    if (!metadata.contains("managedFields") && old_metadata != nullptr) {
        if (const auto* value = old_metadata->as_object().if_contains("managedFields")) {
            metadata["managedFields"] = *value;
        }
    }
    if (info.has_subresource("status")) {
        // The main resource cannot change status; the status subresource does that.
        if (const auto* status = old.if_contains("status")) {
            incoming["status"] = *status;
        } else {
            incoming.erase("status");
        }
    }
    return incoming;
}

void carry_managed_fields(const json::object& from, json::object& to) {
    const auto* metadata = from.if_contains("metadata");
    const auto* managed = metadata != nullptr && metadata->is_object()
                              ? metadata->as_object().if_contains("managedFields")
                              : nullptr;
    if (managed != nullptr) {
        metadata_of(to)["managedFields"] = *managed;
    } else {
        metadata_of(to).erase("managedFields");
    }
}

bool non_empty_array(const json::object& object, std::string_view field) {
    const auto* value = object.if_contains(field);
    return value != nullptr && value->is_array() && !value->as_array().empty();
}

// metadata.finalizers, and for a Namespace also spec.finalizers (the namespace controller's).
bool has_pending_finalizers(const ResourceInfo& info, const json::object& object) {
    if (const auto* metadata = object.if_contains("metadata"); metadata && metadata->is_object()) {
        if (non_empty_array(metadata->as_object(), "finalizers")) return true;
    }
    if (info.group.empty() && info.plural == "namespaces") {
        if (const auto* spec = object.if_contains("spec"); spec && spec->is_object()) {
            return non_empty_array(spec->as_object(), "finalizers");
        }
    }
    return false;
}

}  // namespace

json::object ResourceService::update(const ResourceInfo& info, const std::string& ns,
                                     const std::string& name, json::object object,
                                     const WriteOptions& options, std::string_view subresource) {
    return update_object(info, ns, name, std::move(object), options, subresource, true,
                         subresource);
}

json::object ResourceService::update_object(const ResourceInfo& info, const std::string& ns,
                                            const std::string& name, json::object object,
                                            const WriteOptions& options,
                                            std::string_view subresource, bool track,
                                            std::string_view tracked_as) {
    if (subresource == "scale") {
        json::object current = get(info, ns, name);
        const auto* spec = object.if_contains("spec");
        json::value replicas = spec && spec->is_object() && spec->as_object().contains("replicas")
                                   ? spec->as_object().at("replicas")
                                   : json::value(0);
        if (!replicas.is_int64() || replicas.as_int64() < 0) {
            throw invalid("autoscaling", "Scale", name,
                          {{"FieldValueInvalid",
                            "Invalid value: must be greater than or equal to 0", "spec.replicas"}});
        }
        auto& current_spec = current["spec"];
        if (!current_spec.is_object()) current_spec = json::object{};
        current_spec.as_object()["replicas"] = replicas;
        const std::string rv = meta_string(object, "resourceVersion");
        if (!rv.empty()) metadata_of(current)["resourceVersion"] = rv;
        update_object(info, ns, name, std::move(current), options, "", track, "scale");
        return get_scale(info, ns, name);
    }
    check_type(info, object);
    check_namespace(info, object, ns);
    impl_->check_fields(info, object, options);
    const std::string body_name = meta_string(object, "name");
    if (!body_name.empty() && body_name != name) {
        throw bad_request("the name of the object (" + body_name +
                          ") does not match the name on the URL (" + name + ")");
    }
    metadata_of(object)["name"] = name;
    const std::string key = storage_key(info, ns, name);
    const std::string requested_rv = meta_string(object, "resourceVersion");
    std::unique_lock<std::mutex> allocation;
    if (Impl::is_service(info)) allocation = std::unique_lock(impl_->service_allocation);
    for (int attempt = 0;; ++attempt) {
        auto stored = store_->get(key);
        if (!stored) throw not_found(info.group, info.plural, name);
        if (!requested_rv.empty() && requested_rv != std::to_string(stored->mod_revision)) {
            throw conflict(info.group, info.plural, name,
                           "the object has been modified; please apply your changes to the "
                           "latest version and try again");
        }
        const json::object old = parse_stored(*stored);
        json::object next = merge_for_update(info, old, object, subresource);
        // Server-side apply computed the managed fields; a status write would drop them.
        if (!track) carry_managed_fields(object, next);
        const Strategy& strategy = strategy_for(info);
        if (strategy.apply_defaults) strategy.apply_defaults(next);
        if (spec_part(next) != spec_part(old)) {
            const auto* generation = old.at("metadata").as_object().if_contains("generation");
            const std::int64_t g =
                generation && generation->is_int64() ? generation->as_int64() : 0;
            metadata_of(next)["generation"] = g + 1;
        }
        if (track) {
            record_update(&old, next, options.field_manager,
                          impl_->managed_scope(info, tracked_as));
        }
        std::vector<StatusCause> causes;
        if (Impl::is_service(info) && subresource.empty()) {
            impl_->allocate_service(*store_, next, &old, causes);
        }
        validate_common(info, next, causes);
        throw_if_invalid(info, next, std::move(causes));
        if (same_ignoring_version(next, old)) return old;
        // Removing the last finalizer of an object being deleted without a grace period
        // completes the deletion (a gracefully terminating pod waits for its kubelet).
        const bool terminating = !meta_string(next, "deletionTimestamp").empty() &&
                                 field_value(next, "metadata.deletionGracePeriodSeconds") == "0";
        const bool no_finalizers = !has_pending_finalizers(info, next);
        if (options.dry_run) return next;
        try {
            if (terminating && no_finalizers) {
                auto removed = store_->remove(key, stored->mod_revision);
                metadata_of(next)["resourceVersion"] = std::to_string(removed.mod_revision);
                return next;
            }
            auto written = store_->update(key, encode_for_store(next), stored->mod_revision);
            metadata_of(next)["resourceVersion"] = std::to_string(written.mod_revision);
            return next;
        } catch (const StoreError& e) {
            // Without a resourceVersion from the client the update is unconditional: retry
            // against the newer object, as upstream's GuaranteedUpdate does.
            if (e.code() == StoreError::Code::kConflict && requested_rv.empty() &&
                attempt < kMaxPatchRetries) {
                continue;
            }
            rethrow_store_error(e, info, name);
        }
    }
}

json::object ResourceService::patch(const ResourceInfo& info, const std::string& ns,
                                    const std::string& name, PatchType type, std::string_view body,
                                    const WriteOptions& options, std::string_view subresource) {
    // An apply body is YAML (JSON being YAML), so it is not parsed as JSON here.
    if (type == PatchType::kApply) return apply(info, ns, name, body, options, subresource);
    json::value patch_document;
    try {
        patch_document = parse_document(body);
    } catch (const std::exception& e) {
        throw bad_request(std::string("error decoding patch: ") + e.what());
    }
    if (type == PatchType::kStrategic && info.custom) {
        throw unsupported_media_type(
            "strategic merge patch is not supported for custom resources; use a JSON merge "
            "patch (--type=merge) or a JSON patch (--type=json)");
    }
    const auto& schemas = impl_->schemas;
    const Schema* schema = impl_->schema_for(info);
    for (int attempt = 0;; ++attempt) {
        json::object current =
            subresource == "scale" ? get_scale(info, ns, name) : get(info, ns, name);
        const std::string current_rv = meta_string(current, "resourceVersion");
        json::value patched;
        try {
            switch (type) {
                case PatchType::kJson:
                    patched = apply_json_patch(current, patch_document);
                    break;
                case PatchType::kMerge:
                    patched = apply_merge_patch(current, patch_document);
                    break;
                case PatchType::kStrategic:
                    patched =
                        apply_strategic_merge_patch(current, patch_document, schemas,
                                                    subresource == "scale" ? nullptr : schema);
                    break;
                case PatchType::kApply:
                    break;
            }
        } catch (const PatchError& e) {
            if (e.bad_request()) throw bad_request(e.what());
            throw ApiError(422, "Invalid", e.what());
        }
        if (!patched.is_object()) throw bad_request("the patch produced a non-object document");
        json::object next = std::move(patched.as_object());
        // A resourceVersion in the patch is a precondition; otherwise the patch applies to
        // whatever is current, retrying on conflicts.
        const std::string patched_rv = meta_string(next, "resourceVersion");
        const bool precondition = patched_rv != current_rv;
        if (!precondition) metadata_of(next)["resourceVersion"] = current_rv;
        try {
            return update(info, ns, name, std::move(next), options, subresource);
        } catch (const ApiError& e) {
            if (e.code() == 409 && e.reason() == "Conflict" && !precondition &&
                attempt < kMaxPatchRetries) {
                continue;
            }
            throw;
        }
    }
}

namespace {

// upstream's ValidatePatchOptions for an apply: the manager is required and short.
void check_apply_manager(const std::string& manager) {
    constexpr std::size_t kMaxFieldManagerLength = 128;
    std::vector<StatusCause> causes;
    if (manager.empty()) {
        causes.push_back(
            {"FieldValueRequired", "Required value: is required for apply patch", "fieldManager"});
    } else if (manager.size() > kMaxFieldManagerLength) {
        causes.push_back(
            {"FieldValueTooLong", "Too long: may not be more than 128 bytes", "fieldManager"});
    }
    if (!causes.empty()) throw invalid("meta.k8s.io", "PatchOptions", "", std::move(causes));
}

// An apply through /scale carries an autoscaling/v1 Scale; what it sets is the main object's
// spec.replicas, so it is applied as a configuration of the main object holding only that.
json::object scale_configuration(const ResourceInfo& info, const json::object& scale,
                                 const std::string& name) {
    const ManagedScope scale_kind{
        builtin_schemas(), nullptr, "autoscaling/v1", "Scale", "", false, false};
    check_apply_target(scale, scale_kind);
    json::object metadata{{"name", meta_string(scale, "name")}};
    if (meta_string(scale, "name").empty()) metadata["name"] = name;
    json::object configuration{
        {"apiVersion", info.api_version()}, {"kind", info.kind}, {"metadata", std::move(metadata)}};
    if (const auto* spec = scale.if_contains("spec"); spec && spec->is_object()) {
        if (const auto* replicas = spec->as_object().if_contains("replicas")) {
            configuration["spec"] = json::object{{"replicas", *replicas}};
        }
    }
    return configuration;
}

}  // namespace

json::object ResourceService::apply(const ResourceInfo& info, const std::string& ns,
                                    const std::string& name, std::string_view body,
                                    const WriteOptions& options, std::string_view subresource) {
    check_apply_manager(options.field_manager);
    const bool scale = subresource == "scale";
    json::object applied = parse_apply_patch(body);
    if (scale) applied = scale_configuration(info, applied, name);
    const ManagedScope scope = impl_->managed_scope(info, subresource);
    check_apply_target(applied, scope);
    impl_->check_fields(info, applied, options);
    // A resourceVersion in the configuration is a precondition; otherwise the apply is
    // recomputed against whatever is current when a concurrent write wins the race.
    const bool precondition = !meta_string(applied, "resourceVersion").empty();
    const std::string_view written = scale ? std::string_view() : subresource;
    for (int attempt = 0;; ++attempt) {
        auto stored = store_->get(storage_key(info, ns, name));
        // Only the main resource is created by an apply; subresources need the object.
        if (!stored && !subresource.empty()) throw not_found(info.group, info.plural, name);
        std::optional<json::object> live;
        if (stored) live = parse_stored(*stored);
        json::object result = apply_configuration(live ? &*live : nullptr, applied,
                                                  options.field_manager, options.force, scope);
        const std::string result_name = meta_string(result, "name");
        if (result_name != name) {
            throw bad_request("the name of the object (" + result_name +
                              ") does not match the name on the URL (" + name + ")");
        }
        try {
            if (!live) {
                json::object created = create_object(info, ns, std::move(result), options, false);
                if (options.created != nullptr) *options.created = true;
                return created;
            }
            json::object updated =
                update_object(info, ns, name, std::move(result), options, written, false, written);
            return scale && !options.dry_run ? get_scale(info, ns, name) : updated;
        } catch (const ApiError& e) {
            const bool raced = e.code() == 409 && (e.reason() == "AlreadyExists" ||
                                                   (e.reason() == "Conflict" && !precondition));
            if (raced && attempt < kMaxPatchRetries) continue;
            throw;
        }
    }
}

json::object ResourceService::remove(const ResourceInfo& info, const std::string& ns,
                                     const std::string& name, const DeleteOptions& options) {
    const std::string key = storage_key(info, ns, name);
    for (int attempt = 0;; ++attempt) {
        auto stored = store_->get(key);
        if (!stored) throw not_found(info.group, info.plural, name);
        json::object object = parse_stored(*stored);
        const std::string uid = meta_string(object, "uid");
        if (!options.precondition_uid.empty() && options.precondition_uid != uid) {
            throw conflict(info.group, info.plural, name,
                           "Precondition failed: UID in precondition: " + options.precondition_uid +
                               ", UID in object meta: " + uid);
        }
        if (!options.precondition_resource_version.empty() &&
            options.precondition_resource_version != std::to_string(stored->mod_revision)) {
            throw conflict(
                info.group, info.plural, name,
                "Precondition failed: ResourceVersion in precondition: " +
                    options.precondition_resource_version +
                    ", ResourceVersion in object meta: " + std::to_string(stored->mod_revision));
        }
        auto& metadata = metadata_of(object);
        json::array finalizers;
        if (const auto* f = metadata.if_contains("finalizers"); f && f->is_array()) {
            finalizers = f->as_array();
        }
        auto add_finalizer = [&](const char* name_) {
            for (const auto& f : finalizers) {
                if (f.is_string() && f.as_string() == name_) return;
            }
            finalizers.emplace_back(name_);
        };
        if (options.propagation_policy == "Foreground") add_finalizer("foregroundDeletion");
        if (options.propagation_policy == "Orphan") add_finalizer("orphan");
        bool graceful = false;
        bool shortened = false;  // a terminating pod's grace period was cut short
        if (info.plural == "pods" && info.group.empty()) {
            const bool terminating = !meta_string(object, "deletionTimestamp").empty();
            const auto* current = metadata.if_contains("deletionGracePeriodSeconds");
            const std::int64_t left = current && current->is_int64() ? current->as_int64() : 0;
            if (terminating) {
                // Another delete of a terminating pod can only shorten its grace period (a
                // kubelet's final grace-0 delete, `kubectl delete --force`), never lengthen it.
                if (options.grace_period_seconds && *options.grace_period_seconds < left) {
                    metadata["deletionGracePeriodSeconds"] = *options.grace_period_seconds;
                    shortened = true;
                }
                graceful = shortened ? *options.grace_period_seconds > 0 : left > 0;
            } else {
                // A pod on a node is stopped by its kubelet first, which then deletes it with 0.
                std::int64_t grace = 30;
                if (const auto* spec = object.if_contains("spec"); spec && spec->is_object()) {
                    if (const auto* g =
                            spec->as_object().if_contains("terminationGracePeriodSeconds");
                        g && g->is_int64()) {
                        grace = g->as_int64();
                    }
                }
                if (options.grace_period_seconds) grace = *options.grace_period_seconds;
                const std::string node = field_value(object, "spec.nodeName");
                const std::string phase = field_value(object, "status.phase");
                graceful = grace > 0 && !node.empty() && phase != "Succeeded" && phase != "Failed";
                if (graceful) metadata["deletionGracePeriodSeconds"] = grace;
            }
        }
        const bool is_namespace = info.plural == "namespaces" && info.group.empty();
        const bool keep = graceful || !finalizers.empty() || is_namespace;
        if (!keep) {
            if (options.dry_run) return success_status(info, name, uid);
            try {
                store_->remove(key, stored->mod_revision);
            } catch (const StoreError& e) {
                if (e.code() == StoreError::Code::kConflict && attempt < kMaxPatchRetries) {
                    continue;
                }
                rethrow_store_error(e, info, name);
            }
            return success_status(info, name, uid);
        }
        if (!shortened && !meta_string(object, "deletionTimestamp").empty() &&
            finalizers.size() ==
                (metadata.contains("finalizers") ? metadata["finalizers"].as_array().size() : 0)) {
            return object;  // already being deleted; nothing new to record
        }
        if (meta_string(object, "deletionTimestamp").empty()) {
            metadata["deletionTimestamp"] = now_rfc3339();
            if (!metadata.contains("deletionGracePeriodSeconds")) {
                metadata["deletionGracePeriodSeconds"] = 0;
            }
        }
        if (!finalizers.empty()) metadata["finalizers"] = finalizers;
        if (is_namespace) {
            auto& status = object["status"];
            if (!status.is_object()) status = json::object{};
            status.as_object()["phase"] = "Terminating";
        }
        if (options.dry_run) return object;
        try {
            auto written = store_->update(key, encode_for_store(object), stored->mod_revision);
            metadata_of(object)["resourceVersion"] = std::to_string(written.mod_revision);
            return object;
        } catch (const StoreError& e) {
            if (e.code() == StoreError::Code::kConflict && attempt < kMaxPatchRetries) continue;
            rethrow_store_error(e, info, name);
        }
    }
}

json::object ResourceService::remove_collection(const ResourceInfo& info, const std::string& ns,
                                                const ListOptions& list_options,
                                                const DeleteOptions& options) {
    json::object listing = list(info, ns, list_options);
    json::array deleted;
    for (const auto& item : listing["items"].as_array()) {
        const auto& object = item.as_object();
        try {
            remove(info, meta_string(object, "namespace"), meta_string(object, "name"), options);
            deleted.push_back(object);
        } catch (const ApiError& e) {
            if (e.code() != 404) throw;
        }
    }
    listing["items"] = std::move(deleted);
    return listing;
}

std::unique_ptr<WatchStream> ResourceService::watch(const ResourceInfo& info, const std::string& ns,
                                                    const ListOptions& options) {
    Filter filter = make_filter(info, options);
    const std::string prefix = storage_key(info, ns, "");
    std::vector<WatchEvent> initial;
    store::Revision from = 0;
    if (options.resource_version.empty() || options.resource_version == "0") {
        // Upstream starts such a watch with synthetic ADDED events for what exists now.
        auto page = store_->list(prefix);
        from = page.revision;
        for (auto& stored : page.items) {
            json::object object = parse_stored(stored);
            if (filter.matches(object)) initial.push_back({"ADDED", std::move(object)});
        }
    } else {
        bool ok;
        from = parse_revision(options.resource_version, ok);
        if (!ok) {
            throw bad_request("invalid resource version \"" + options.resource_version + "\"");
        }
    }
    std::unique_ptr<store::Watch> store_watch;
    try {
        store_watch = store_->watch(prefix, from);
    } catch (const StoreError& e) {
        if (e.code() == StoreError::Code::kCompacted) {
            throw gone("too old resource version: " + options.resource_version + " (" +
                       std::to_string(store_->compacted_revision()) + ")");
        }
        rethrow_store_error(e, info, "");
    }
    auto stream = std::make_unique<ServiceWatch>(std::move(store_watch), *store_, std::move(filter),
                                                 std::move(initial), info);
    stream->set_delivered(from);
    return stream;
}

json::object ResourceService::get_scale(const ResourceInfo& info, const std::string& ns,
                                        const std::string& name) {
    if (!info.has_subresource("scale")) {
        throw not_found(info.group, info.plural + "/scale", name);
    }
    json::object object = get(info, ns, name);
    const auto& metadata = object.at("metadata").as_object();
    json::object scale_metadata;
    for (const char* field : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"}) {
        if (const auto* v = metadata.if_contains(field)) scale_metadata[field] = *v;
    }
    json::value replicas = 0;
    if (const auto* spec = object.if_contains("spec"); spec && spec->is_object()) {
        if (const auto* r = spec->as_object().if_contains("replicas")) replicas = *r;
    }
    json::value status_replicas = 0;
    std::string selector;
    if (const auto* status = object.if_contains("status"); status && status->is_object()) {
        if (const auto* r = status->as_object().if_contains("replicas")) status_replicas = *r;
    }
    if (const auto* spec = object.if_contains("spec"); spec && spec->is_object()) {
        if (const auto* sel = spec->as_object().if_contains("selector"); sel && sel->is_object()) {
            if (const auto* ml = sel->as_object().if_contains("matchLabels");
                ml && ml->is_object()) {
                for (const auto& [k, v] : ml->as_object()) {
                    if (!selector.empty()) selector += ",";
                    selector +=
                        std::string(k) + "=" + (v.is_string() ? std::string(v.as_string()) : "");
                }
            }
        }
    }
    json::object status{{"replicas", status_replicas}};
    if (!selector.empty()) status["selector"] = selector;
    return json::object{{"kind", "Scale"},
                        {"apiVersion", "autoscaling/v1"},
                        {"metadata", std::move(scale_metadata)},
                        {"spec", json::object{{"replicas", replicas}}},
                        {"status", std::move(status)}};
}

}  // namespace kcube::api
