#include "cluster/controllers/deployment_util.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <climits>
#include <cmath>
#include <map>
#include <stdexcept>

#include "cluster/api/meta.hpp"
#include "cluster/api/selectors.hpp"
#include "cluster/controllers/runtime/object_util.hpp"

namespace kcube::controllers::rollout {
namespace json = boost::json;
using controllers::string_at;

namespace {

constexpr std::int64_t kInt32Max = INT32_MAX;

const json::object* path_object(const json::object& object,
                                std::initializer_list<std::string_view> path) {
    const json::object* current = &object;
    for (auto key : path) {
        current = object_at(*current, key);
        if (!current) return nullptr;
    }
    return current;
}

std::optional<std::int64_t> parse_int(std::string_view text) {
    std::int64_t value = 0;
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
    return value;
}

Time time_at(const json::object& object, std::string_view field) {
    Time t{};
    if (!api::parse_time(string_at(object, field), t)) return Time{};
    return t;
}

Time creation_time(const json::object& object) {
    Time t{};
    if (!api::parse_time(api::meta_string(object, "creationTimestamp"), t)) return Time{};
    return t;
}

// Representation details that do not change a template's meaning: nulls, empty objects and
// empty lists (Go's omitempty drops them on the way in, so upstream never sees them).
json::value normalised(const json::value& value) {
    if (value.is_object()) {
        json::object out;
        for (const auto& [key, member] : value.as_object()) {
            json::value n = normalised(member);
            if (n.is_null()) continue;
            if (n.is_object() && n.as_object().empty()) continue;
            if (n.is_array() && n.as_array().empty()) continue;
            out[key] = std::move(n);
        }
        return out;
    }
    if (value.is_array()) {
        json::array out;
        for (const auto& item : value.as_array())
            out.push_back(normalised(item));
        return out;
    }
    return value;
}

json::value without_hash_label(const json::object& pod_template) {
    json::object copy = pod_template;
    if (auto* metadata = copy.if_contains("metadata"); metadata && metadata->is_object()) {
        if (auto* labels = metadata->as_object().if_contains("labels");
            labels && labels->is_object()) {
            labels->as_object().erase(kPodTemplateHashLabel);
        }
    }
    return normalised(copy);
}

const json::object& template_of(const json::object& object) {
    static const json::object empty;
    const auto* t = path_object(object, {"spec", "template"});
    return t ? *t : empty;
}

json::object& annotations_of(json::object& object) {
    return child_object(api::metadata_of(object), "annotations");
}

// The annotations a deployment does not hand down to its replica sets: kubectl's, and the
// ones the controller keeps per replica set.
bool skip_copy_annotation(std::string_view key) {
    return key == "kubectl.kubernetes.io/last-applied-configuration" ||
           key == kRevisionAnnotation || key == kRevisionHistoryAnnotation ||
           key == kDesiredReplicasAnnotation || key == kMaxReplicasAnnotation ||
           key == "deprecated.deployment.rollback.to";
}

bool copy_deployment_annotations(const json::object& deployment, json::object& replica_set) {
    bool changed = false;
    const auto* metadata = object_at(deployment, "metadata");
    const auto* annotations = metadata ? object_at(*metadata, "annotations") : nullptr;
    auto& target = annotations_of(replica_set);
    if (!annotations) return false;
    for (const auto& [key, value] : *annotations) {
        if (skip_copy_annotation(key) || !value.is_string()) continue;
        const auto* existing = target.if_contains(key);
        if (existing && *existing == value) continue;
        target[key] = value;
        changed = true;
    }
    return changed;
}

void put_count(json::object& status, std::string_view key, std::int64_t value) {
    if (value != 0) status[key] = value;
}

std::int64_t pod_deletion_cost(const json::object& pod) {
    auto cost = parse_int(annotation(pod, "controller.kubernetes.io/pod-deletion-cost"));
    return cost.value_or(0);
}

int phase_ordinal(const json::object& pod) {
    const std::string phase = pod_phase(pod);
    if (phase == "Unknown") return 1;
    if (phase == "Running") return 2;
    return 0;  // Pending (and anything else, as upstream's map lookup gives)
}

std::optional<Time> ready_since(const json::object& pod) {
    if (!pod_ready(pod)) return std::nullopt;
    const auto* status = object_at(pod, "status");
    const auto* ready = status ? get_condition(*status, "Ready") : nullptr;
    if (!ready) return std::nullopt;
    Time t = time_at(*ready, "lastTransitionTime");
    if (t == Time{}) return std::nullopt;
    return t;
}

std::int64_t max_restarts(const json::object& pod) {
    std::int64_t most = 0;
    const auto* status = object_at(pod, "status");
    for (const char* list : {"initContainerStatuses", "containerStatuses"}) {
        const auto* statuses = status ? status->if_contains(list) : nullptr;
        if (!statuses || !statuses->is_array()) continue;
        for (const auto& s : statuses->as_array()) {
            if (s.is_object()) most = std::max(most, int_at(s.as_object(), "restartCount", 0));
        }
    }
    return most;
}

// Upstream's LogarithmicScaleDown: times are compared by the power of two of their age, so
// pods of similar age count as equally old and the choice among them is spread by uid.
std::int64_t log_rank(Time t, Time now) {
    const auto age = std::chrono::duration_cast<std::chrono::nanoseconds>(now - t).count();
    if (age <= 0) return -1;
    return static_cast<std::int64_t>(std::log2(static_cast<double>(age)));
}

// "i before j" by age: the later (younger) time first; a missing time first of all. With
// `now`, by logarithmic rank and then uid.
bool younger_first(const json::object& a, Time ta, const json::object& b, Time tb, Time now) {
    if (ta == Time{} || tb == Time{}) return ta == Time{} && tb != Time{};
    const std::int64_t diff = log_rank(ta, now) - log_rank(tb, now);
    if (diff == 0) return api::meta_string(a, "uid") < api::meta_string(b, "uid");
    return diff < 0;
}

}  // namespace

// ---- maxSurge and maxUnavailable -------------------------------------------------------------

std::int64_t scaled_value(const json::value& value, std::int64_t total, bool round_up) {
    if (value.is_int64()) return value.as_int64();
    if (value.is_uint64()) return static_cast<std::int64_t>(value.as_uint64());
    if (!value.is_string()) throw std::invalid_argument("invalid value for IntOrString");
    std::string_view text = value.as_string();
    if (text.empty() || text.back() != '%') {
        throw std::invalid_argument(
            "invalid value for IntOrString: invalid type: string is not a "
            "percentage");
    }
    auto percent = parse_int(text.substr(0, text.size() - 1));
    if (!percent) {
        throw std::invalid_argument("invalid value for IntOrString: invalid value \"" +
                                    std::string(text) + "\"");
    }
    const double scaled = static_cast<double>(*percent) * static_cast<double>(total) / 100.0;
    return static_cast<std::int64_t>(round_up ? std::ceil(scaled) : std::floor(scaled));
}

Fenceposts resolve_fenceposts(const json::value* max_surge, const json::value* max_unavailable,
                              std::int64_t desired) {
    static const json::value zero = 0;
    Fenceposts f;
    f.surge = scaled_value(max_surge && !max_surge->is_null() ? *max_surge : zero, desired, true);
    f.unavailable = scaled_value(
        max_unavailable && !max_unavailable->is_null() ? *max_unavailable : zero, desired, false);
    // Both can only be 0 when a percentage rounded down; surge might not work (quota), so
    // allow one unavailable pod, as upstream does.
    if (f.surge == 0 && f.unavailable == 0) f.unavailable = 1;
    return f;
}

bool is_rolling_update(const json::object& deployment) {
    const std::string type = api::field_value(deployment, "spec.strategy.type");
    return type == "RollingUpdate" || type.empty();
}

namespace {
Fenceposts fenceposts_of(const json::object& deployment) {
    const auto* rolling = path_object(deployment, {"spec", "strategy", "rollingUpdate"});
    const json::value* surge = rolling ? rolling->if_contains("maxSurge") : nullptr;
    const json::value* unavailable = rolling ? rolling->if_contains("maxUnavailable") : nullptr;
    static const json::value quarter = "25%";
    // The API defaults both to 25%; an object written before defaulting gets the same.
    if (!rolling) surge = unavailable = &quarter;
    return resolve_fenceposts(surge, unavailable, spec_replicas(deployment));
}
}  // namespace

std::int64_t max_surge(const json::object& deployment) {
    if (!is_rolling_update(deployment)) return 0;
    return fenceposts_of(deployment).surge;
}

std::int64_t max_unavailable(const json::object& deployment) {
    const std::int64_t replicas = spec_replicas(deployment);
    if (!is_rolling_update(deployment) || replicas == 0) return 0;
    return std::min(fenceposts_of(deployment).unavailable, replicas);
}

// ---- replica counts --------------------------------------------------------------------------

std::int64_t spec_replicas(const json::object& object) {
    return int_at(object, "spec.replicas", 1);
}

std::int64_t status_count(const json::object& object, std::string_view field) {
    const auto* status = object_at(object, "status");
    return status ? int_at(*status, field, 0) : 0;
}

std::int64_t sum_spec_replicas(const Objects& replica_sets) {
    std::int64_t sum = 0;
    for (const auto* rs : replica_sets)
        if (rs) sum += spec_replicas(*rs);
    return sum;
}

std::int64_t sum_status(const Objects& replica_sets, std::string_view field) {
    std::int64_t sum = 0;
    for (const auto* rs : replica_sets)
        if (rs) sum += status_count(*rs, field);
    return sum;
}

Objects active(const Objects& replica_sets) {
    Objects out;
    for (const auto* rs : replica_sets)
        if (rs && spec_replicas(*rs) > 0) out.push_back(rs);
    return out;
}

// ---- ordering --------------------------------------------------------------------------------

bool created_before(const json::object& a, const json::object& b) {
    const Time ta = creation_time(a);
    const Time tb = creation_time(b);
    if (ta != tb) return ta < tb;
    return api::meta_string(a, "name") < api::meta_string(b, "name");
}

bool larger_newer_first(const json::object& a, const json::object& b) {
    const auto ra = spec_replicas(a);
    const auto rb = spec_replicas(b);
    if (ra == rb) return created_before(b, a);
    return ra > rb;
}

bool larger_older_first(const json::object& a, const json::object& b) {
    const auto ra = spec_replicas(a);
    const auto rb = spec_replicas(b);
    if (ra == rb) return created_before(a, b);
    return ra > rb;
}

bool lower_revision_first(const json::object& a, const json::object& b) {
    const auto ra = revision_of(a);
    const auto rb = revision_of(b);
    if (ra == rb) return created_before(a, b);
    return ra < rb;
}

// ---- templates, hashes and revisions ---------------------------------------------------------

bool equal_ignore_hash(const json::object& a, const json::object& b) {
    return canonical_json(without_hash_label(a)) == canonical_json(without_hash_label(b));
}

std::string template_hash(const json::object& pod_template,
                          std::optional<std::int64_t> collision_count) {
    std::string text = canonical_json(normalised(pod_template));
    if (collision_count) text += "\n" + std::to_string(*collision_count);
    return stable_hash(text);
}

const json::object* find_new_replica_set(const json::object& deployment,
                                         const Objects& replica_sets) {
    Objects sorted;
    for (const auto* rs : replica_sets)
        if (rs) sorted.push_back(rs);
    std::sort(sorted.begin(), sorted.end(),
              [](const auto* a, const auto* b) { return created_before(*a, *b); });
    const json::object& wanted = template_of(deployment);
    for (const auto* rs : sorted) {
        // Several may match (an old bug upstream allowed it); the oldest wins.
        if (equal_ignore_hash(template_of(*rs), wanted)) return rs;
    }
    return nullptr;
}

std::string annotation(const json::object& object, std::string_view key) {
    const auto* metadata = object_at(object, "metadata");
    const auto* annotations = metadata ? object_at(*metadata, "annotations") : nullptr;
    return annotations ? string_at(*annotations, key) : std::string();
}

std::int64_t revision_of(const json::object& replica_set) {
    return parse_int(annotation(replica_set, kRevisionAnnotation)).value_or(0);
}

std::int64_t max_revision(const Objects& replica_sets) {
    std::int64_t most = 0;
    for (const auto* rs : replica_sets)
        if (rs) most = std::max(most, revision_of(*rs));
    return most;
}

bool set_annotation(json::object& object, std::string_view key, std::string_view value) {
    auto& annotations = annotations_of(object);
    const auto* existing = annotations.if_contains(key);
    if (existing && existing->is_string() && existing->as_string() == value) return false;
    annotations[key] = value;
    return true;
}

bool set_new_replica_set_annotations(const json::object& deployment, json::object& replica_set,
                                     std::int64_t new_revision, bool exists) {
    bool changed = copy_deployment_annotations(deployment, replica_set);
    auto& annotations = annotations_of(replica_set);
    const bool had_revision = annotations.contains(kRevisionAnnotation);
    const std::string old_text = string_at(annotations, kRevisionAnnotation);
    std::int64_t old_revision = 0;
    if (!old_text.empty()) {
        auto parsed = parse_int(old_text);
        if (!parsed) return false;  // upstream leaves a malformed revision alone
        old_revision = *parsed;
    }
    if (old_revision < new_revision) {
        annotations[kRevisionAnnotation] = std::to_string(new_revision);
        changed = true;
        // A revision that existed is being reused: a rollback to this template. Keep the
        // revisions it had in revision-history, within upstream's length limit.
        if (had_revision) {
            const std::string history = string_at(annotations, kRevisionHistoryAnnotation);
            if (history.empty()) {
                annotations[kRevisionHistoryAnnotation] = old_text;
            } else {
                std::vector<std::string> revisions;
                for (std::size_t start = 0;;) {
                    const auto comma = history.find(',', start);
                    revisions.push_back(history.substr(start, comma - start));
                    if (comma == std::string::npos) break;
                    start = comma + 1;
                }
                std::size_t total = history.size() + old_text.size() + 1;
                std::size_t first = 0;
                while (total > kMaxRevisionHistoryChars && first < revisions.size()) {
                    total -= revisions[first].size() + 1;
                    ++first;
                }
                if (total <= kMaxRevisionHistoryChars) {
                    std::string joined;
                    for (std::size_t i = first; i < revisions.size(); ++i)
                        joined += revisions[i] + ",";
                    annotations[kRevisionHistoryAnnotation] = joined + old_text;
                }
            }
        }
    }
    if (!exists) {
        const std::int64_t replicas = spec_replicas(deployment);
        if (set_replicas_annotations(replica_set, replicas, replicas + max_surge(deployment))) {
            changed = true;
        }
    }
    return changed;
}

bool replicas_annotations_need_update(const json::object& replica_set, std::int64_t desired,
                                      std::int64_t max) {
    return annotation(replica_set, kDesiredReplicasAnnotation) != std::to_string(desired) ||
           annotation(replica_set, kMaxReplicasAnnotation) != std::to_string(max);
}

bool set_replicas_annotations(json::object& replica_set, std::int64_t desired, std::int64_t max) {
    bool changed = set_annotation(replica_set, kDesiredReplicasAnnotation, std::to_string(desired));
    changed = set_annotation(replica_set, kMaxReplicasAnnotation, std::to_string(max)) || changed;
    return changed;
}

std::optional<std::int64_t> desired_replicas_annotation(const json::object& replica_set) {
    return parse_int(annotation(replica_set, kDesiredReplicasAnnotation));
}

// ---- scaling ---------------------------------------------------------------------------------

std::int64_t new_rs_new_replicas(const json::object& deployment, const Objects& all,
                                 const json::object& new_rs) {
    const std::int64_t desired = spec_replicas(deployment);
    const std::int64_t current_new = spec_replicas(new_rs);
    if (!is_rolling_update(deployment)) return desired;
    const std::int64_t max_total = desired + max_surge(deployment);
    // Upstream counts spec.replicas only. A replica set just scaled down still has the pods
    // its controller is about to delete (status.replicas); counting those as well keeps the
    // pods that exist at any moment within replicas + maxSurge, not just the specs.
    std::int64_t current = 0;
    for (const auto* rs : all) {
        if (rs) current += std::max(spec_replicas(*rs), status_count(*rs, "replicas"));
    }
    if (current >= max_total) return current_new;
    const std::int64_t scale_up = std::min(max_total - current, desired - current_new);
    return current_new + scale_up;
}

bool is_saturated(const json::object& deployment, const json::object* new_rs) {
    if (!new_rs) return false;
    auto desired = desired_replicas_annotation(*new_rs);
    if (!desired) return false;
    const std::int64_t replicas = spec_replicas(deployment);
    return spec_replicas(*new_rs) == replicas && *desired == replicas &&
           status_count(*new_rs, "availableReplicas") == replicas;
}

const json::object* find_active_or_latest(const json::object* new_rs, const Objects& old) {
    Objects all = old;
    all.push_back(new_rs);
    Objects running = active(all);
    if (running.size() == 1) return running.front();
    if (!running.empty()) return nullptr;
    if (new_rs) return new_rs;
    const json::object* newest = nullptr;
    for (const auto* rs : old) {
        if (rs && (!newest || created_before(*newest, *rs))) newest = rs;
    }
    return newest;
}

std::int64_t replica_set_proportion(const json::object& replica_set, const json::object& deployment,
                                    std::int64_t to_add, std::int64_t added) {
    const std::int64_t size = spec_replicas(replica_set);
    if (size == 0 || to_add == 0 || to_add == added) return 0;
    std::int64_t fraction = 0;
    const std::int64_t replicas = spec_replicas(deployment);
    if (replicas == 0) {
        fraction = -size;  // scaling to zero: all of it
    } else {
        const std::int64_t max_now = replicas + max_surge(deployment);
        std::int64_t max_before =
            parse_int(annotation(replica_set, kMaxReplicasAnnotation)).value_or(0);
        if (max_before == 0) max_before = status_count(deployment, "replicas");
        if (max_before != 0) {
            const double scaled = static_cast<double>(size) * static_cast<double>(max_now) /
                                  static_cast<double>(max_before);
            fraction = std::llround(scaled) - size;
        }
    }
    const std::int64_t allowed = to_add - added;
    return to_add > 0 ? std::min(fraction, allowed) : std::max(fraction, allowed);
}

std::vector<std::pair<const json::object*, std::int64_t>> proportional_sizes(
    const json::object& deployment, const Objects& active_sets) {
    const std::int64_t replicas = spec_replicas(deployment);
    const std::int64_t allowed = replicas > 0 ? replicas + max_surge(deployment) : 0;
    const std::int64_t to_add = allowed - sum_spec_replicas(active_sets);
    Objects sorted = active_sets;
    // Equal sizes: scaling up favours newer replica sets, scaling down takes from older ones.
    std::stable_sort(sorted.begin(), sorted.end(), [&](const auto* a, const auto* b) {
        return to_add > 0 ? larger_newer_first(*a, *b) : larger_older_first(*a, *b);
    });
    std::vector<std::pair<const json::object*, std::int64_t>> sizes;
    std::int64_t added = 0;
    for (const auto* rs : sorted) {
        const std::int64_t proportion =
            to_add != 0 ? replica_set_proportion(*rs, deployment, to_add, added) : 0;
        sizes.emplace_back(rs, spec_replicas(*rs) + proportion);
        added += proportion;
    }
    // Whatever rounding left over goes to (or comes from) the largest.
    if (!sizes.empty() && to_add != 0) {
        sizes[0].second = std::max<std::int64_t>(0, sizes[0].second + to_add - added);
    }
    return sizes;
}

// ---- conditions and status -------------------------------------------------------------------

json::object new_condition(std::string_view type, std::string_view status, std::string_view reason,
                           std::string_view message, Time now, bool with_update_time) {
    const std::string at = api::format_time(now);
    json::object condition{{"type", type}, {"status", status}};
    if (with_update_time) condition["lastUpdateTime"] = at;
    condition["lastTransitionTime"] = at;
    condition["reason"] = reason;
    condition["message"] = message;
    return condition;
}

const json::object* get_condition(const json::object& status, std::string_view type) {
    return find_condition(status, type);
}

void set_condition(json::object& status, json::object condition) {
    const std::string type = string_at(condition, "type");
    if (const auto* current = get_condition(status, type)) {
        const bool same_status = string_at(*current, "status") == string_at(condition, "status");
        if (same_status && string_at(*current, "reason") == string_at(condition, "reason")) return;
        if (same_status) condition["lastTransitionTime"] = current->at("lastTransitionTime");
    }
    remove_condition(status, type);
    auto& conditions = status["conditions"];
    if (!conditions.is_array()) conditions = json::array{};
    conditions.as_array().push_back(std::move(condition));
}

void remove_condition(json::object& status, std::string_view type) {
    auto* conditions = status.if_contains("conditions");
    if (!conditions || !conditions->is_array()) return;
    auto& list = conditions->as_array();
    for (auto it = list.begin(); it != list.end();) {
        if (it->is_object() && string_at(it->as_object(), "type") == type) {
            it = list.erase(it);
        } else {
            ++it;
        }
    }
    if (list.empty()) status.erase("conditions");
}

bool has_progress_deadline(const json::object& deployment) {
    const std::int64_t deadline = int_at(deployment, "spec.progressDeadlineSeconds", -1);
    return deadline >= 0 && deadline != kInt32Max;
}

bool has_revision_history_limit(const json::object& deployment) {
    const std::int64_t limit = int_at(deployment, "spec.revisionHistoryLimit", -1);
    return limit >= 0 && limit != kInt32Max;
}

json::object calculate_status(const json::object& deployment, const Objects& all,
                              const json::object* new_rs, Time now) {
    const std::int64_t available = sum_status(all, "availableReplicas");
    const std::int64_t unavailable = std::max<std::int64_t>(0, sum_spec_replicas(all) - available);
    json::object status;
    put_count(status, "observedGeneration", int_at(deployment, "metadata.generation", 0));
    put_count(status, "replicas", sum_status(all, "replicas"));
    put_count(status, "updatedReplicas", new_rs ? status_count(*new_rs, "replicas") : 0);
    put_count(status, "readyReplicas", sum_status(all, "readyReplicas"));
    put_count(status, "availableReplicas", available);
    put_count(status, "unavailableReplicas", unavailable);
    const auto* old = object_at(deployment, "status");
    if (old) {
        if (const auto* c = old->if_contains("conditions");
            c && c->is_array() && !c->as_array().empty())
            status["conditions"] = *c;
        if (const auto* cc = old->if_contains("collisionCount")) status["collisionCount"] = *cc;
    }
    if (available >= spec_replicas(deployment) - max_unavailable(deployment)) {
        set_condition(status, new_condition("Available", "True", "MinimumReplicasAvailable",
                                            "Deployment has minimum availability.", now));
    } else {
        set_condition(status, new_condition("Available", "False", "MinimumReplicasUnavailable",
                                            "Deployment does not have minimum availability.", now));
    }
    return status;
}

bool deployment_complete(const json::object& deployment, const json::object& status) {
    const std::int64_t replicas = spec_replicas(deployment);
    return int_at(status, "updatedReplicas", 0) == replicas &&
           int_at(status, "replicas", 0) == replicas &&
           int_at(status, "availableReplicas", 0) == replicas &&
           int_at(status, "observedGeneration", 0) >= int_at(deployment, "metadata.generation", 0);
}

bool deployment_progressing(const json::object& deployment, const json::object& status) {
    const std::int64_t old_updated = status_count(deployment, "updatedReplicas");
    const std::int64_t old_old = status_count(deployment, "replicas") - old_updated;
    const std::int64_t new_updated = int_at(status, "updatedReplicas", 0);
    const std::int64_t new_old = int_at(status, "replicas", 0) - new_updated;
    return new_updated > old_updated || new_old < old_old ||
           int_at(status, "readyReplicas", 0) > status_count(deployment, "readyReplicas") ||
           int_at(status, "availableReplicas", 0) > status_count(deployment, "availableReplicas");
}

bool deployment_timed_out(const json::object& deployment, const json::object& status, Time now) {
    if (!has_progress_deadline(deployment)) return false;
    const auto* condition = get_condition(status, "Progressing");
    if (!condition) return false;
    const std::string reason = string_at(*condition, "reason");
    // A finished rollout does not time out; one that timed out stays so.
    if (reason == "NewReplicaSetAvailable") return false;
    if (reason == "ProgressDeadlineExceeded") return true;
    const Time from = time_at(*condition, "lastUpdateTime");
    const auto deadline =
        std::chrono::seconds(int_at(deployment, "spec.progressDeadlineSeconds", 0));
    return from + deadline < now;
}

namespace {

std::string quoted(std::string_view name) {
    return "\"" + std::string(name) + "\"";
}

// The subject of the Progressing messages: the new replica set, or the deployment.
std::string progress_subject(const json::object& deployment, const json::object* new_rs) {
    if (new_rs) return "ReplicaSet " + quoted(api::meta_string(*new_rs, "name"));
    return "Deployment " + quoted(api::meta_string(deployment, "name"));
}

std::optional<json::object> replica_failure(const Objects& all, const json::object* new_rs) {
    auto failure_of = [](const json::object& rs) -> std::optional<json::object> {
        const auto* status = object_at(rs, "status");
        const auto* c = status ? get_condition(*status, "ReplicaFailure") : nullptr;
        if (!c) return std::nullopt;
        const json::value transition =
            c->contains("lastTransitionTime") ? c->at("lastTransitionTime") : json::value(nullptr);
        return json::object{
            {"type", "ReplicaFailure"},          {"status", string_at(*c, "status")},
            {"lastUpdateTime", transition},      {"lastTransitionTime", transition},
            {"reason", string_at(*c, "reason")}, {"message", string_at(*c, "message")}};
    };
    // The new replica set's failure first.
    if (new_rs) {
        if (auto f = failure_of(*new_rs)) return f;
    }
    for (const auto* rs : all) {
        if (!rs) continue;
        if (auto f = failure_of(*rs)) return f;
    }
    return std::nullopt;
}

}  // namespace

json::object rollout_status(const json::object& deployment, const Objects& all,
                            const json::object* new_rs, Time now) {
    json::object status = calculate_status(deployment, all, new_rs, now);
    if (!has_progress_deadline(deployment)) remove_condition(status, "Progressing");

    static const json::object empty;
    const auto* old_status = object_at(deployment, "status");
    const auto* current = get_condition(old_status ? *old_status : empty, "Progressing");
    // A resync of a finished rollout estimates no progress.
    const bool complete_before =
        int_at(status, "replicas", 0) == int_at(status, "updatedReplicas", 0) && current &&
        string_at(*current, "reason") == "NewReplicaSetAvailable";
    if (has_progress_deadline(deployment) && !complete_before) {
        const std::string subject = progress_subject(deployment, new_rs);
        if (deployment_complete(deployment, status)) {
            set_condition(status, new_condition("Progressing", "True", "NewReplicaSetAvailable",
                                                subject + " has successfully progressed.", now));
        } else if (deployment_progressing(deployment, status)) {
            // Progress moves lastUpdateTime even with the same reason (the deadline counts
            // from the last progress), so the condition is replaced rather than set.
            json::object condition = new_condition("Progressing", "True", "ReplicaSetUpdated",
                                                   subject + " is progressing.", now);
            if (current) {
                if (string_at(*current, "status") == "True") {
                    condition["lastTransitionTime"] = current->at("lastTransitionTime");
                }
                remove_condition(status, "Progressing");
            }
            set_condition(status, std::move(condition));
        } else if (deployment_timed_out(deployment, status, now)) {
            set_condition(status, new_condition("Progressing", "False", "ProgressDeadlineExceeded",
                                                subject + " has timed out progressing.", now));
        }
    }
    if (auto failure = replica_failure(all, new_rs)) {
        set_condition(status, std::move(*failure));
    } else {
        remove_condition(status, "ReplicaFailure");
    }
    return status;
}

std::optional<std::chrono::milliseconds> progress_check_after(const json::object& deployment,
                                                              const json::object& status,
                                                              Time now) {
    const auto* old_status = object_at(deployment, "status");
    const auto* current = old_status ? get_condition(*old_status, "Progressing") : nullptr;
    if (!has_progress_deadline(deployment) || !current) return std::nullopt;
    if (deployment_complete(deployment, status) ||
        string_at(*current, "reason") == "ProgressDeadlineExceeded") {
        return std::nullopt;
    }
    const Time deadline =
        time_at(*current, "lastUpdateTime") +
        std::chrono::seconds(int_at(deployment, "spec.progressDeadlineSeconds", 0));
    auto after = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    if (after < std::chrono::milliseconds(0)) after = std::chrono::milliseconds(0);
    // A second past the deadline: timestamps have whole seconds, and the check is strict.
    return after + std::chrono::seconds(1);
}

bool same_status(const json::value* stored, const json::object& computed) {
    static const json::value empty = json::object{};
    const json::value& x = stored && !stored->is_null() ? *stored : empty;
    return canonical_json(x) == canonical_json(computed);
}

// ---- ReplicaSets and their pods --------------------------------------------------------------

json::object pod_from_template(const json::object& replica_set) {
    const json::object& pod_template = template_of(replica_set);
    json::object metadata;
    metadata["generateName"] = api::meta_string(replica_set, "name") + "-";
    metadata["namespace"] = api::meta_string(replica_set, "namespace");
    if (const auto* tm = object_at(pod_template, "metadata")) {
        for (const char* field : {"labels", "annotations", "finalizers"}) {
            if (const auto* v = tm->if_contains(field); v && !v->is_null()) metadata[field] = *v;
        }
    }
    metadata["ownerReferences"] = json::array{owner_reference(replica_set)};
    json::object pod{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", std::move(metadata)}};
    if (const auto* spec = object_at(pod_template, "spec")) pod["spec"] = *spec;
    return pod;
}

bool pod_available_at(const json::object& pod, std::int64_t min_ready_seconds, Time now) {
    if (!pod_ready(pod)) return false;
    if (min_ready_seconds <= 0) return true;
    auto since = ready_since(pod);
    return since && *since + std::chrono::seconds(min_ready_seconds) < now;
}

json::object replica_set_status(const json::object& replica_set, const Objects& pods,
                                const std::optional<ReplicaFailure>& failure, Time now) {
    const std::int64_t min_ready = int_at(replica_set, "spec.minReadySeconds", 0);
    const auto* template_meta = object_at(template_of(replica_set), "metadata");
    const auto* template_labels = template_meta ? object_at(*template_meta, "labels") : nullptr;
    std::int64_t fully_labeled = 0, ready = 0, available = 0;
    for (const auto* pod : pods) {
        const auto* meta = object_at(*pod, "metadata");
        const auto* labels = meta ? object_at(*meta, "labels") : nullptr;
        bool all_match = true;
        if (template_labels) {
            for (const auto& [key, value] : *template_labels) {
                const auto* have = labels ? labels->if_contains(key) : nullptr;
                if (!have || *have != value) {
                    all_match = false;
                    break;
                }
            }
        }
        if (all_match) ++fully_labeled;
        if (pod_ready(*pod)) {
            ++ready;
            if (pod_available_at(*pod, min_ready, now)) ++available;
        }
    }
    json::object conditions_holder;
    if (const auto* old = object_at(replica_set, "status")) {
        if (const auto* c = old->if_contains("conditions")) conditions_holder["conditions"] = *c;
    }
    const bool failing = get_condition(conditions_holder, "ReplicaFailure") != nullptr;
    if (failure && !failing) {
        set_condition(conditions_holder, new_condition("ReplicaFailure", "True", failure->reason,
                                                       failure->message, now, false));
    } else if (!failure && failing) {
        remove_condition(conditions_holder, "ReplicaFailure");
    }
    json::object status;
    status["replicas"] = static_cast<std::int64_t>(pods.size());
    put_count(status, "fullyLabeledReplicas", fully_labeled);
    put_count(status, "readyReplicas", ready);
    put_count(status, "availableReplicas", available);
    put_count(status, "observedGeneration", int_at(replica_set, "metadata.generation", 0));
    if (const auto* c = conditions_holder.if_contains("conditions");
        c && c->is_array() && !c->as_array().empty()) {
        status["conditions"] = *c;
    }
    return status;
}

std::optional<Time> available_at(const json::object& pod, std::int64_t min_ready_seconds,
                                 Time now) {
    if (min_ready_seconds <= 0) return std::nullopt;
    auto since = ready_since(pod);
    if (!since) return std::nullopt;
    const Time at = *since + std::chrono::seconds(min_ready_seconds);
    if (at < now) return std::nullopt;
    return at;
}

std::vector<const json::object*> pods_to_delete(const Objects& pods, const Objects& related,
                                                std::size_t count, Time now) {
    std::vector<const json::object*> ranked(pods.begin(), pods.end());
    if (count < ranked.size()) {
        // Rank: how many active related pods share the pod's node ("doubled up").
        std::map<std::string, int> on_node;
        for (const auto* pod : related) {
            if (pod && pod_active(*pod)) ++on_node[api::field_value(*pod, "spec.nodeName")];
        }
        auto rank = [&](const json::object& pod) {
            auto it = on_node.find(api::field_value(pod, "spec.nodeName"));
            return it == on_node.end() ? 0 : it->second;
        };
        auto before = [&](const json::object* a, const json::object* b) {
            const std::string na = api::field_value(*a, "spec.nodeName");
            const std::string nb = api::field_value(*b, "spec.nodeName");
            if (na != nb && (na.empty() || nb.empty())) return na.empty();
            if (phase_ordinal(*a) != phase_ordinal(*b))
                return phase_ordinal(*a) < phase_ordinal(*b);
            const bool ra = pod_ready(*a), rb = pod_ready(*b);
            if (ra != rb) return !ra;
            const auto ca = pod_deletion_cost(*a), cb = pod_deletion_cost(*b);
            if (ca != cb) return ca < cb;
            const int ka = rank(*a), kb = rank(*b);
            if (ka != kb) return ka > kb;
            if (ra && rb) {
                const Time ta = ready_since(*a).value_or(Time{});
                const Time tb = ready_since(*b).value_or(Time{});
                if (ta != tb) return younger_first(*a, ta, *b, tb, now);
            }
            const auto xa = max_restarts(*a), xb = max_restarts(*b);
            if (xa != xb) return xa > xb;
            const Time ta = creation_time(*a), tb = creation_time(*b);
            if (ta != tb) return younger_first(*a, ta, *b, tb, now);
            return false;
        };
        std::stable_sort(ranked.begin(), ranked.end(), before);
    }
    if (ranked.size() > count) ranked.resize(count);
    return ranked;
}

Claim decide_claim(const json::object& object, const json::object& owner,
                   const api::LabelSelector& selector) {
    const auto* meta = object_at(object, "metadata");
    const auto* labels = meta ? object_at(*meta, "labels") : nullptr;
    const bool matches = selector.matches(labels);
    const bool owner_deleting = is_terminating(owner);
    if (const auto* ref = controller_ref(object)) {
        if (string_at(*ref, "uid") != api::meta_string(owner, "uid")) return Claim::kIgnore;
        if (matches) return Claim::kOwned;
        // Ours but no longer matching; a controller being deleted lets go of nothing.
        return owner_deleting ? Claim::kIgnore : Claim::kRelease;
    }
    if (owner_deleting || !matches || is_terminating(object)) return Claim::kIgnore;
    if (api::meta_string(object, "namespace") != api::meta_string(owner, "namespace")) {
        return Claim::kIgnore;
    }
    return Claim::kAdopt;
}

json::object with_owner(json::object object, const json::object& owner) {
    object = without_owner(std::move(object), api::meta_string(owner, "uid"));
    auto& refs = api::metadata_of(object)["ownerReferences"];
    if (!refs.is_array()) refs = json::array{};
    refs.as_array().push_back(owner_reference(owner));
    return object;
}

json::object without_owner(json::object object, std::string_view owner_uid) {
    auto& metadata = api::metadata_of(object);
    auto* refs = metadata.if_contains("ownerReferences");
    if (!refs || !refs->is_array()) return object;
    auto& list = refs->as_array();
    for (auto it = list.begin(); it != list.end();) {
        if (it->is_object() && string_at(it->as_object(), "uid") == owner_uid) {
            it = list.erase(it);
        } else {
            ++it;
        }
    }
    if (list.empty()) metadata.erase("ownerReferences");
    return object;
}

}  // namespace kcube::controllers::rollout
