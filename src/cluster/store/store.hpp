#pragma once
// The node's object store (DESIGN.md principle 3): one global, monotonically increasing
// revision; compare-and-swap writes; list and get at a revision; watches that resume from a
// revision inside a retained window and fail with kCompacted past it. Values are opaque bytes
// (the API layer stores JSON without metadata.resourceVersion; it is the mod revision).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kcube::store {

using Revision = std::int64_t;

struct Object {
    std::string key;
    std::string value;
    Revision create_revision = 0;
    Revision mod_revision = 0;  // for a deleted object in an event: the deletion's revision
};

enum class EventType { kAdded, kModified, kDeleted };

struct Event {
    EventType type;
    Object object;  // kDeleted: the last value, with mod_revision = the deletion's revision
};

class StoreError : public std::runtime_error {
  public:
    enum class Code { kNotFound, kAlreadyExists, kConflict, kCompacted, kUnavailable };
    StoreError(Code code, const std::string& message) : std::runtime_error(message), code_(code) {}
    Code code() const noexcept { return code_; }

  private:
    Code code_;
};

struct ListResult {
    std::vector<Object> items;  // sorted by key
    Revision revision = 0;      // the revision the list reflects
    bool more = false;          // `limit` cut the list; continue after items.back().key
};

// A watch over a key prefix. Events are delivered in revision order, each exactly once.
// Writers never wait for a watch: each keeps a cursor into the store's event history, and a
// watch that falls behind the retained window fails with kCompacted instead.
class Watch {
  public:
    virtual ~Watch() = default;
    // Events available now (non-blocking); throws StoreError(kCompacted) if this watch fell
    // behind the retained history, or kUnavailable once the store is closed.
    virtual std::vector<Event> poll() = 0;
    // Waits up to `timeout` for events, then returns poll().
    virtual std::vector<Event> wait(std::chrono::milliseconds timeout) = 0;
    // Called (from a writer's thread, so it must be quick and must not call back into the
    // store) whenever new events may be available. Replaces any earlier callback; empty removes
    // it. Events that arrived before it was set are not announced: poll once after setting it.
    virtual void on_ready(std::function<void()> callback) = 0;
    // The revision of the last event returned (or the start revision). A poll also moves it
    // past the retained events that do not match the prefix, so it is the revision up to which
    // this watch has seen everything: watch(prefix, cursor()) resumes exactly after it.
    virtual Revision cursor() const = 0;
};

struct Options {
    // Events kept for watch resumption and reads at old revisions, at least this many...
    std::size_t history_events = 10000;
    // ...and at least this old (upstream keeps about five minutes).
    std::chrono::seconds history_age{300};
    // How often compaction runs in the background; 0: never (only explicit compact()).
    std::chrono::seconds compaction_interval{60};
};

class Store {
  public:
    virtual ~Store() = default;

    virtual Revision revision() const = 0;
    // The oldest revision still readable; older reads and watches fail with kCompacted.
    virtual Revision compacted_revision() const = 0;

    // at == 0: the latest. Missing: nullopt. `at` older than compacted_revision(): kCompacted;
    // newer than revision(): kUnavailable (nothing is known about it yet).
    virtual std::optional<Object> get(std::string_view key, Revision at = 0) = 0;
    // Keys starting with `prefix`, in key order, after `start_after` (exclusive), at most
    // `limit` (0: all), as of revision `at` (0: the latest).
    virtual ListResult list(std::string_view prefix, Revision at = 0, std::size_t limit = 0,
                            std::string_view start_after = {}) = 0;
    // Each write returns once it is durable (fsync'ed), with the new revision. kUnavailable when
    // it could not be made durable (disk full, I/O error).
    virtual Object create(std::string_view key, std::string value) = 0;  // kAlreadyExists
    // expected_mod_revision 0: unconditional. kNotFound, kConflict.
    virtual Object update(std::string_view key, std::string value,
                          Revision expected_mod_revision) = 0;
    // Returns the deleted object (mod_revision = deletion revision). kNotFound, kConflict.
    virtual Object remove(std::string_view key, Revision expected_mod_revision) = 0;
    // Events for keys under `prefix` with revision > `after` (0: from now). kCompacted when
    // `after` is older than compacted_revision(); `after` may be in the future.
    virtual std::unique_ptr<Watch> watch(std::string_view prefix, Revision after) = 0;
    // Drops history older than `revision` (keeps the latest version of every live key). An
    // older revision than compacted_revision() is a no-op; a newer one than revision() stops
    // there.
    virtual void compact(Revision revision) = 0;
};

// SQLite at `file` (created if missing; WAL, synchronous=FULL). Throws Error(kState) naming
// the file when it is not a kcube store or is corrupt.
std::unique_ptr<Store> open_sqlite_store(const std::filesystem::path& file, Options options = {});

}  // namespace kcube::store
