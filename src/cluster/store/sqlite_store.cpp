// The SQLite store. SQLite holds an append-only log (like kine): one row per write, keyed by the
// global revision; a delete is a tombstone row. Memory mirrors the table: every key with its
// versions inside the retained window, plus the retained events in revision order. Reads and
// watches are served from memory; a write goes to SQLite first (one fsync'ed transaction), then
// to memory, so nothing is visible that is not durable. Compaction removes superseded versions
// and tombstones from both.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "cluster/store/sqlite.hpp"
#include "cluster/store/store.hpp"
#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace kcube::store {
namespace {

using Clock = std::chrono::steady_clock;
using Value = std::shared_ptr<const std::string>;
using sqlite::SqliteError;

// PRAGMA application_id ("kcub"): tells a kcube store from any other SQLite file.
constexpr std::int64_t kApplicationId = 0x6b637562;
constexpr std::int64_t kSchemaVersion = 1;
constexpr const char* kCorruptAdvice =
    "kcube left the file untouched. Move it aside (or restore a backup) and start again to get "
    "an empty store.";

// One version of a key. In memory a tombstone keeps the value it deleted, which delete events
// carry; on disk it stores none (the version it deletes is retained as long as it is).
struct Version {
    Revision rev = 0;
    Revision create_rev = 0;
    Value value;
    bool deleted = false;
};

struct EventRecord {
    Revision rev = 0;
    EventType type = EventType::kAdded;
    std::string key;
    Revision create_rev = 0;
    Value value;
    Clock::time_point time;  // for history_age; events loaded from disk count as new
};

using KeyMap = std::map<std::string, std::vector<Version>, std::less<>>;

std::string quote_key(std::string_view key) {
    return "\"" + std::string(key) + "\"";
}

StoreError compacted_error(Revision revision, Revision compacted) {
    return StoreError(StoreError::Code::kCompacted,
                      "revision " + std::to_string(revision) +
                          " has been compacted; the oldest available revision is " +
                          std::to_string(compacted));
}

StoreError closed_error() {
    return StoreError(StoreError::Code::kUnavailable, "the store has been closed");
}

// The version visible at `at` (0: the latest), or null when the key did not exist then.
const Version* version_at(const std::vector<Version>& versions, Revision at) {
    if (versions.empty()) return nullptr;
    if (at == 0) return &versions.back();
    auto it = std::upper_bound(versions.begin(), versions.end(), at,
                               [](Revision r, const Version& v) { return r < v.rev; });
    if (it == versions.begin()) return nullptr;
    return &*std::prev(it);
}

// First event with a revision greater than `after`.
std::deque<EventRecord>::const_iterator events_after(const std::deque<EventRecord>& history,
                                                     Revision after) {
    return std::upper_bound(history.begin(), history.end(), after,
                            [](Revision r, const EventRecord& e) { return r < e.rev; });
}

// What a watch shares with the writers that wake it. Two locks, so that a writer waking a
// watch never waits behind that watch's poll: `mu` guards the cursor (held while polling),
// `signal_mu` guards the wake-up state (held only for a moment).
struct WatchState {
    WatchState(std::string p, Revision start) : prefix(std::move(p)), cursor(start) {}

    const std::string prefix;

    std::mutex mu;
    // Every matching event up to here has been delivered. It also moves past events that do
    // not match, so a watch on a quiet prefix is not failed by compaction for events it
    // would never have returned.
    Revision cursor;

    std::mutex signal_mu;
    std::condition_variable cv;
    bool signaled = false;
    std::shared_ptr<const std::function<void()>> callback;

    void signal() {
        std::shared_ptr<const std::function<void()>> cb;
        {
            std::lock_guard lock(signal_mu);
            signaled = true;
            cb = callback;
        }
        cv.notify_all();
        if (cb) (*cb)();
    }
};

// The in-memory state, shared with watches because they may outlive the store.
struct Core {
    mutable std::shared_mutex mu;
    // Writers mutate these only while holding both the store's write lock and `mu`
    // exclusively, so a writer may read them holding the write lock alone.
    KeyMap keys;
    std::deque<EventRecord> history;  // exactly the events after `compacted`, in order
    std::atomic<Revision> current{0};
    std::atomic<Revision> compacted{0};
    bool closed = false;

    std::mutex watchers_mu;
    std::uint64_t next_watch_id = 0;
    std::unordered_map<std::uint64_t, std::shared_ptr<WatchState>> watchers;

    std::vector<std::shared_ptr<WatchState>> watchers_for(std::string_view key) {
        std::vector<std::shared_ptr<WatchState>> out;
        std::lock_guard lock(watchers_mu);
        for (const auto& [id, state] : watchers) {
            if (key.starts_with(state->prefix)) out.push_back(state);
        }
        return out;
    }

    std::vector<std::shared_ptr<WatchState>> all_watchers() {
        std::vector<std::shared_ptr<WatchState>> out;
        std::lock_guard lock(watchers_mu);
        out.reserve(watchers.size());
        for (const auto& [id, state] : watchers)
            out.push_back(state);
        return out;
    }
};

class WatchImpl final : public Watch {
  public:
    WatchImpl(std::shared_ptr<Core> core, std::uint64_t id, std::shared_ptr<WatchState> state)
        : core_(std::move(core)), id_(id), state_(std::move(state)) {}

    ~WatchImpl() override {
        std::lock_guard lock(core_->watchers_mu);
        core_->watchers.erase(id_);
    }

    WatchImpl(const WatchImpl&) = delete;
    WatchImpl& operator=(const WatchImpl&) = delete;

    std::vector<Event> poll() override {
        std::lock_guard lock(state_->mu);
        return poll_locked();
    }

    std::vector<Event> wait(std::chrono::milliseconds timeout) override {
        const auto deadline = Clock::now() + timeout;
        for (;;) {
            // Clearing the flag before polling means a write that lands after the poll has
            // looked is still seen below: its signal comes after the clear.
            {
                std::lock_guard lock(state_->signal_mu);
                state_->signaled = false;
            }
            auto events = poll();
            if (!events.empty()) return events;
            std::unique_lock lock(state_->signal_mu);
            if (!state_->cv.wait_until(lock, deadline, [&] { return state_->signaled; })) {
                lock.unlock();
                return poll();
            }
        }
    }

    void on_ready(std::function<void()> callback) override {
        std::shared_ptr<const std::function<void()>> cb;
        if (callback) cb = std::make_shared<const std::function<void()>>(std::move(callback));
        std::lock_guard lock(state_->signal_mu);
        state_->callback = std::move(cb);
    }

    Revision cursor() const override {
        std::lock_guard lock(state_->mu);
        return state_->cursor;
    }

  private:
    std::vector<Event> poll_locked() {
        std::shared_lock lock(core_->mu);
        if (core_->closed) throw closed_error();
        const Revision compacted = core_->compacted.load();
        if (state_->cursor < compacted) {
            StoreError e = compacted_error(state_->cursor + 1, compacted);
            throw StoreError(e.code(), "watch on " + quote_key(state_->prefix) +
                                           " fell behind the retained history: " + e.what());
        }
        std::vector<Event> events;
        const auto& history = core_->history;
        for (auto it = events_after(history, state_->cursor); it != history.end(); ++it) {
            if (!std::string_view(it->key).starts_with(state_->prefix)) continue;
            events.push_back(Event{it->type, Object{it->key, *it->value, it->create_rev, it->rev}});
        }
        // A watch started at a future revision keeps its cursor until history catches up.
        if (!history.empty()) state_->cursor = std::max(state_->cursor, history.back().rev);
        return events;
    }

    std::shared_ptr<Core> core_;
    std::uint64_t id_;
    std::shared_ptr<WatchState> state_;
};

class SqliteStore final : public Store {
  public:
    SqliteStore(const std::filesystem::path& file, Options options);
    ~SqliteStore() override;
    SqliteStore(const SqliteStore&) = delete;
    SqliteStore& operator=(const SqliteStore&) = delete;

    Revision revision() const override { return core_->current.load(); }
    Revision compacted_revision() const override { return core_->compacted.load(); }

    std::optional<Object> get(std::string_view key, Revision at) override;
    ListResult list(std::string_view prefix, Revision at, std::size_t limit,
                    std::string_view start_after) override;
    Object create(std::string_view key, std::string value) override;
    Object update(std::string_view key, std::string value, Revision expected_mod_revision) override;
    Object remove(std::string_view key, Revision expected_mod_revision) override;
    std::unique_ptr<Watch> watch(std::string_view prefix, Revision after) override;
    void compact(Revision revision) override;

  private:
    [[noreturn]] void fail_open(const SqliteError& e) const;
    void open_or_create();
    void validate_existing(std::int64_t application_id);
    void load();
    void check_readable(Revision at) const;
    void check_writable() const;
    // Appends one row and applies it to memory. Caller holds write_mu_.
    void append(KeyMap::iterator it, std::string_view key, const Version& version,
                Revision prev_rev, EventType type);
    [[noreturn]] void write_failed(const SqliteError& e, std::string_view what);
    void notify(std::string_view key);
    std::optional<Revision> auto_compaction_target() const;
    void run_compactor();

    const std::filesystem::path file_;
    const Options options_;
    sqlite::Db db_;
    // Declared after db_ so that they are finalised before the connection closes.
    std::optional<sqlite::Stmt> insert_;
    std::optional<sqlite::Stmt> delete_;
    std::optional<sqlite::Stmt> set_compacted_;

    // Serialises writers (and compaction): SQLite has one connection, and revisions are
    // assigned in commit order.
    std::mutex write_mu_;
    // Set after a write failed in a way that leaves the file's state uncertain (an I/O error
    // during commit); writes are refused until the store is reopened and re-read.
    std::string failed_;

    std::shared_ptr<Core> core_ = std::make_shared<Core>();

    std::mutex compactor_mu_;
    std::condition_variable compactor_cv_;
    bool stopping_ = false;
    std::thread compactor_;  // last: started once everything else is ready
};

sqlite::Db open_db(const std::filesystem::path& file) {
    std::error_code ec;
    if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
    if (std::filesystem::is_directory(file, ec)) {
        throw Error(ExitCode::kState, "STORE_CORRUPT", file.string() + ": is a directory",
                    "Point kcube at a store file, or move the directory aside.");
    }
    try {
        return sqlite::Db(file);
    } catch (const SqliteError& e) {
        throw Error(ExitCode::kHost, "STORE_OPEN_FAILED",
                    file.string() + ": cannot open the store: " + e.what(),
                    "Check that the directory exists and that you can read and write it.");
    }
}

SqliteStore::SqliteStore(const std::filesystem::path& file, Options options)
    : file_(file), options_(options), db_(open_db(file)) {
    try {
        open_or_create();
        insert_.emplace(db_,
                        "INSERT INTO log(rev, key, value, create_rev, prev_rev, deleted) "
                        "VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
        delete_.emplace(db_, "DELETE FROM log WHERE rev = ?1");
        set_compacted_.emplace(db_, "UPDATE meta SET value = ?1 WHERE name = 'compacted_revision'");
        load();
    } catch (const SqliteError& e) {
        fail_open(e);
    }
    if (options_.compaction_interval.count() > 0) {
        compactor_ = std::thread([this] { run_compactor(); });
    }
}

SqliteStore::~SqliteStore() {
    {
        std::lock_guard lock(compactor_mu_);
        stopping_ = true;
    }
    compactor_cv_.notify_all();
    if (compactor_.joinable()) compactor_.join();
    {
        std::lock_guard write_lock(write_mu_);
        std::unique_lock lock(core_->mu);
        core_->closed = true;
        // Watches may keep the core alive; the data is no longer theirs to read.
        core_->history.clear();
        core_->keys.clear();
    }
    for (const auto& state : core_->all_watchers())
        state->signal();
}

void SqliteStore::fail_open(const SqliteError& e) const {
    const std::string file = file_.string();
    switch (e.primary_code()) {
        case SQLITE_NOTADB:
        case SQLITE_CORRUPT:
        case SQLITE_FORMAT:
        case SQLITE_MISMATCH:
        case SQLITE_ERROR:  // a statement on our own tables failed: they are not what we made
            throw Error(ExitCode::kState, "STORE_CORRUPT", file + ": " + e.what(), kCorruptAdvice);
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            throw Error(ExitCode::kState, "STORE_LOCKED",
                        file + ": the store is in use by another process",
                        "Stop the other kcube node that uses this file, then try again.");
        default:
            throw Error(ExitCode::kHost, "STORE_OPEN_FAILED", file + ": " + e.what(),
                        "Check the file's permissions and the free space on its file system.");
    }
}

void SqliteStore::open_or_create() {
    // The whole file is ours: an exclusive lock keeps a second node off it, and lets WAL work
    // without the shared-memory index.
    db_.exec("PRAGMA locking_mode=EXCLUSIVE");
    // Tolerates a previous node that is still exiting.
    sqlite3_busy_timeout(db_.get(), 1000);

    // Look before writing anything, so a file that is not ours is never modified.
    std::int64_t tables = 0;
    std::int64_t application_id = 0;
    {
        sqlite::Stmt count(db_, "SELECT count(*) FROM sqlite_master");
        if (count.step()) tables = count.int64(0);
        count.reset();
        sqlite::Stmt app(db_, "PRAGMA application_id");
        if (app.step()) application_id = app.int64(0);
        app.reset();
    }
    const bool fresh = tables == 0 && application_id == 0;
    if (fresh) {
        // Must precede the first table; lets compaction give pages back to the file system.
        db_.exec("PRAGMA auto_vacuum=INCREMENTAL");
    } else {
        validate_existing(application_id);
    }

    {
        sqlite::Stmt mode(db_, "PRAGMA journal_mode=WAL");
        std::string result;
        if (mode.step()) result = std::string(mode.text(0));
        mode.reset();
        if (result != "wal") {
            throw Error(ExitCode::kHost, "STORE_OPEN_FAILED",
                        file_.string() + ": cannot use write-ahead logging (journal mode is " +
                            result + ")",
                        "Put the store on a local file system.");
        }
    }
    // FULL: a commit returns only after the WAL is fsync'ed, so an acknowledged write survives
    // power loss, not just a crash of this process.
    db_.exec("PRAGMA synchronous=FULL");

    if (!fresh) {
        // Takes the exclusive lock now rather than at the first write, so that a second node
        // on the same file fails at start-up.
        db_.exec("BEGIN IMMEDIATE; COMMIT");
        return;
    }
    db_.exec("BEGIN IMMEDIATE");
    try {
        const std::string schema =
            "PRAGMA application_id=" + std::to_string(kApplicationId) +
            ";"
            "CREATE TABLE meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
            "CREATE TABLE log(rev INTEGER PRIMARY KEY, key TEXT NOT NULL, value BLOB,"
            " create_rev INTEGER NOT NULL, prev_rev INTEGER, deleted INTEGER NOT NULL);"
            "CREATE INDEX log_key_rev ON log(key, rev);"
            "INSERT INTO meta(name, value) VALUES('schema_version', " +
            std::to_string(kSchemaVersion) + "), ('compacted_revision', 0);";
        db_.exec(schema.c_str());
        db_.exec("COMMIT");
    } catch (...) {
        if (sqlite3_get_autocommit(db_.get()) == 0) db_.exec("ROLLBACK");
        throw;
    }
    // The file's directory entry must be durable too, or a power loss could lose the whole
    // store along with every write acknowledged from it.
    UniqueFd dir(::open(file_.has_parent_path() ? file_.parent_path().c_str() : ".",
                        O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.get() >= 0) ::fsync(dir.get());
}

// Only reads: a file that turns out not to be a usable store is left exactly as it was.
void SqliteStore::validate_existing(std::int64_t application_id) {
    if (application_id != kApplicationId) {
        throw Error(ExitCode::kState, "STORE_CORRUPT",
                    file_.string() + ": not a kcube store (an SQLite database of another program)",
                    "kcube left the file untouched. Point kcube at another file, or move this one "
                    "aside.");
    }
    sqlite::Stmt version(db_, "SELECT value FROM meta WHERE name = 'schema_version'");
    if (!version.step()) {
        throw Error(ExitCode::kState, "STORE_CORRUPT",
                    file_.string() + ": the store has no schema version", kCorruptAdvice);
    }
    const std::int64_t schema = version.int64(0);
    version.reset();
    if (schema > kSchemaVersion) {
        throw Error(ExitCode::kState, "STORE_TOO_NEW",
                    file_.string() + ": the store has schema version " + std::to_string(schema) +
                        ", newer than this kcube reads (" + std::to_string(kSchemaVersion) + ")",
                    "Use the kcube version that created this store, or a newer one.");
    }
    if (schema < 1) {
        throw Error(ExitCode::kState, "STORE_CORRUPT",
                    file_.string() + ": invalid schema version " + std::to_string(schema),
                    kCorruptAdvice);
    }
    // Preparing fails (SQLITE_ERROR, reported as corrupt) when a column is missing.
    sqlite::Stmt columns(db_,
                         "SELECT rev, key, value, create_rev, prev_rev, deleted FROM log LIMIT 0");
}

void SqliteStore::load() {
    const auto corrupt = [&](const std::string& why) {
        return Error(ExitCode::kState, "STORE_CORRUPT", file_.string() + ": " + why,
                     kCorruptAdvice);
    };
    Revision compacted = 0;
    {
        sqlite::Stmt meta(db_, "SELECT value FROM meta WHERE name = 'compacted_revision'");
        if (!meta.step()) throw corrupt("the store has no compacted revision");
        compacted = meta.int64(0);
        meta.reset();
    }
    if (compacted < 0) throw corrupt("negative compacted revision");

    const auto now = Clock::now();
    Revision last = 0;
    sqlite::Stmt rows(db_, "SELECT rev, key, value, create_rev, deleted FROM log ORDER BY rev");
    sqlite::ResetGuard guard(rows);
    while (rows.step()) {
        const Revision rev = rows.int64(0);
        const Revision create_rev = rows.int64(3);
        const bool deleted = rows.int64(4) != 0;
        if (rev <= 0 || create_rev <= 0 || create_rev > rev || rows.is_null(1)) {
            throw corrupt("invalid log row at revision " + std::to_string(rev));
        }
        auto [it, inserted] = core_->keys.try_emplace(std::string(rows.text(1)));
        auto& versions = it->second;
        Value value;
        if (deleted) {
            // A tombstone stores no value: the version it deletes is kept as long as it is.
            value =
                versions.empty() ? std::make_shared<const std::string>() : versions.back().value;
        } else {
            value = std::make_shared<const std::string>(rows.blob(2));
        }
        versions.push_back(Version{rev, create_rev, value, deleted});
        if (rev > compacted) {
            const EventType type = deleted             ? EventType::kDeleted
                                   : create_rev == rev ? EventType::kAdded
                                                       : EventType::kModified;
            core_->history.push_back(EventRecord{rev, type, it->first, create_rev, value, now});
        }
        last = rev;
    }
    // Compaction can delete the newest row (a tombstone); the counter must not go back then.
    core_->current = std::max(last, compacted);
    core_->compacted = compacted;
}

void SqliteStore::check_readable(Revision at) const {
    if (at == 0) return;
    const Revision compacted = core_->compacted.load();
    if (at < compacted) throw compacted_error(at, compacted);
    const Revision current = core_->current.load();
    if (at > current) {
        throw StoreError(StoreError::Code::kUnavailable,
                         "revision " + std::to_string(at) + " is newer than the store's revision " +
                             std::to_string(current));
    }
}

void SqliteStore::check_writable() const {
    if (!failed_.empty()) throw StoreError(StoreError::Code::kUnavailable, failed_);
}

std::optional<Object> SqliteStore::get(std::string_view key, Revision at) {
    std::shared_lock lock(core_->mu);
    check_readable(at);
    auto it = core_->keys.find(key);
    if (it == core_->keys.end()) return std::nullopt;
    const Version* v = version_at(it->second, at);
    if (v == nullptr || v->deleted) return std::nullopt;
    return Object{it->first, *v->value, v->create_rev, v->rev};
}

ListResult SqliteStore::list(std::string_view prefix, Revision at, std::size_t limit,
                             std::string_view start_after) {
    std::shared_lock lock(core_->mu);
    check_readable(at);
    ListResult result;
    result.revision = at != 0 ? at : core_->current.load();
    const auto& keys = core_->keys;
    // Every key with the prefix sorts after a start_after that sorts before the prefix.
    auto it = start_after.empty() || start_after < prefix ? keys.lower_bound(prefix)
                                                          : keys.upper_bound(start_after);
    for (; it != keys.end() && std::string_view(it->first).starts_with(prefix); ++it) {
        const Version* v = version_at(it->second, at);
        if (v == nullptr || v->deleted) continue;
        if (limit != 0 && result.items.size() == limit) {
            result.more = true;
            break;
        }
        result.items.push_back(Object{it->first, *v->value, v->create_rev, v->rev});
    }
    return result;
}

void SqliteStore::append(KeyMap::iterator it, std::string_view key, const Version& version,
                         Revision prev_rev, EventType type) {
    {
        sqlite::ResetGuard guard(*insert_);
        try {
            insert_->bind(1, version.rev).bind_text(2, key);
            if (!version.deleted) insert_->bind_blob(3, *version.value);
            insert_->bind(4, version.create_rev);
            if (prev_rev != 0) insert_->bind(5, prev_rev);
            insert_->bind(6, version.deleted ? 1 : 0);
            // One statement in autocommit mode: one transaction, fsync'ed before step returns.
            while (insert_->step()) {
            }
        } catch (const SqliteError& e) {
            write_failed(e, quote_key(key));
        }
    }
    std::unique_lock lock(core_->mu);
    if (it == core_->keys.end()) it = core_->keys.try_emplace(std::string(key)).first;
    it->second.push_back(version);
    core_->history.push_back(
        EventRecord{version.rev, type, it->first, version.create_rev, version.value, Clock::now()});
    core_->current = version.rev;
}

void SqliteStore::write_failed(const SqliteError& e, std::string_view what) {
    if (sqlite3_get_autocommit(db_.get()) == 0) {
        try {
            db_.exec("ROLLBACK");
        } catch (const SqliteError&) {
            // The failure below already refuses further writes.
        }
    }
    const std::string message = file_.string() + ": cannot write " + std::string(what) + ": " +
                                e.what() + " (SQLite error " + std::to_string(e.code()) + ")";
    // A full disk or an oversized value rolls back cleanly. Anything else (an I/O error while
    // committing) may or may not have reached the disk, so memory can no longer be trusted to
    // match it: refuse writes until a restart re-reads the file.
    const int primary = e.primary_code();
    if (primary != SQLITE_FULL && primary != SQLITE_TOOBIG) {
        failed_ =
            "writes are refused until the store is reopened, because an earlier write "
            "failed: " +
            message;
    }
    throw StoreError(StoreError::Code::kUnavailable, message);
}

void SqliteStore::notify(std::string_view key) {
    for (const auto& state : core_->watchers_for(key))
        state->signal();
}

Object SqliteStore::create(std::string_view key, std::string value) {
    Object result;
    {
        std::lock_guard write_lock(write_mu_);
        check_writable();
        auto it = core_->keys.find(key);
        Revision prev_rev = 0;
        if (it != core_->keys.end() && !it->second.empty()) {
            if (!it->second.back().deleted) {
                throw StoreError(StoreError::Code::kAlreadyExists,
                                 "key " + quote_key(key) + " already exists");
            }
            prev_rev = it->second.back().rev;
        }
        const Revision rev = core_->current.load() + 1;
        Version version{rev, rev, std::make_shared<const std::string>(std::move(value)), false};
        append(it, key, version, prev_rev, EventType::kAdded);
        result = Object{std::string(key), *version.value, rev, rev};
    }
    notify(key);
    return result;
}

Object SqliteStore::update(std::string_view key, std::string value,
                           Revision expected_mod_revision) {
    Object result;
    {
        std::lock_guard write_lock(write_mu_);
        check_writable();
        auto it = core_->keys.find(key);
        if (it == core_->keys.end() || it->second.empty() || it->second.back().deleted) {
            throw StoreError(StoreError::Code::kNotFound, "key " + quote_key(key) + " not found");
        }
        const Version& latest = it->second.back();
        if (expected_mod_revision != 0 && expected_mod_revision != latest.rev) {
            throw StoreError(StoreError::Code::kConflict,
                             "key " + quote_key(key) + " has mod revision " +
                                 std::to_string(latest.rev) + ", not the expected " +
                                 std::to_string(expected_mod_revision));
        }
        const Revision rev = core_->current.load() + 1;
        const Revision prev_rev = latest.rev;
        Version version{rev, latest.create_rev,
                        std::make_shared<const std::string>(std::move(value)), false};
        append(it, key, version, prev_rev, EventType::kModified);
        result = Object{std::string(key), *version.value, version.create_rev, rev};
    }
    notify(key);
    return result;
}

Object SqliteStore::remove(std::string_view key, Revision expected_mod_revision) {
    Object result;
    {
        std::lock_guard write_lock(write_mu_);
        check_writable();
        auto it = core_->keys.find(key);
        if (it == core_->keys.end() || it->second.empty() || it->second.back().deleted) {
            throw StoreError(StoreError::Code::kNotFound, "key " + quote_key(key) + " not found");
        }
        const Version& latest = it->second.back();
        if (expected_mod_revision != 0 && expected_mod_revision != latest.rev) {
            throw StoreError(StoreError::Code::kConflict,
                             "key " + quote_key(key) + " has mod revision " +
                                 std::to_string(latest.rev) + ", not the expected " +
                                 std::to_string(expected_mod_revision));
        }
        const Revision rev = core_->current.load() + 1;
        const Revision prev_rev = latest.rev;
        Version tombstone{rev, latest.create_rev, latest.value, true};
        append(it, key, tombstone, prev_rev, EventType::kDeleted);
        result = Object{std::string(key), *tombstone.value, tombstone.create_rev, rev};
    }
    notify(key);
    return result;
}

std::unique_ptr<Watch> SqliteStore::watch(std::string_view prefix, Revision after) {
    // Registering under the shared lock means no write lands between choosing the start and
    // being registered: every later write either is after the start or signals this watch.
    std::shared_lock lock(core_->mu);
    const Revision compacted = core_->compacted.load();
    if (after < 0 || (after > 0 && after < compacted)) throw compacted_error(after, compacted);
    const Revision start = after != 0 ? after : core_->current.load();
    auto state = std::make_shared<WatchState>(std::string(prefix), start);
    std::uint64_t id = 0;
    {
        std::lock_guard watchers_lock(core_->watchers_mu);
        id = core_->next_watch_id++;
        core_->watchers.emplace(id, state);
    }
    return std::make_unique<WatchImpl>(core_, id, std::move(state));
}

void SqliteStore::compact(Revision revision) {
    std::vector<std::shared_ptr<WatchState>> behind;
    {
        std::lock_guard write_lock(write_mu_);
        check_writable();
        const Revision old = core_->compacted.load();
        revision = std::min(revision, core_->current.load());
        if (revision <= old) return;

        // Plan from the events being dropped: only keys written since the last compaction can
        // have versions that became superseded (or tombstones that became droppable).
        struct Trim {
            KeyMap::iterator key;
            std::size_t count;  // versions to drop from the front
        };
        std::vector<Trim> trims;
        std::vector<Revision> doomed;
        std::unordered_set<const std::string*> seen;
        const auto& history = core_->history;
        const auto first_kept = events_after(history, revision);
        for (auto e = history.begin(); e != first_kept; ++e) {
            auto it = core_->keys.find(e->key);
            if (it == core_->keys.end() || !seen.insert(&it->first).second) continue;
            const auto& versions = it->second;
            auto newest = std::upper_bound(versions.begin(), versions.end(), revision,
                                           [](Revision r, const Version& v) { return r < v.rev; });
            if (newest == versions.begin()) continue;
            --newest;  // the version visible at `revision`: kept unless it is a tombstone
            std::size_t count = static_cast<std::size_t>(newest - versions.begin());
            if (newest->deleted) ++count;
            if (count == 0) continue;
            for (std::size_t i = 0; i < count; ++i)
                doomed.push_back(versions[i].rev);
            trims.push_back(Trim{it, count});
        }

        // A watch that is behind but would not have matched any dropped event loses nothing:
        // move it forward instead of failing it.
        for (const auto& state : core_->all_watchers()) {
            std::lock_guard lock(state->mu);
            if (state->cursor >= revision) continue;
            bool missed = state->cursor < old;
            for (auto e = events_after(history, state->cursor); !missed && e != first_kept; ++e) {
                missed = std::string_view(e->key).starts_with(state->prefix);
            }
            if (missed) {
                behind.push_back(state);
            } else {
                state->cursor = revision;
            }
        }

        try {
            db_.exec("BEGIN IMMEDIATE");
            for (Revision rev : doomed)
                delete_->bind(1, rev).run();
            set_compacted_->bind(1, revision).run();
            db_.exec("COMMIT");
        } catch (const SqliteError& e) {
            write_failed(e, "compaction to revision " + std::to_string(revision));
        }

        {
            std::unique_lock lock(core_->mu);
            for (const auto& trim : trims) {
                auto& versions = trim.key->second;
                versions.erase(versions.begin(),
                               versions.begin() + static_cast<std::ptrdiff_t>(trim.count));
                if (versions.empty()) core_->keys.erase(trim.key);
            }
            core_->history.erase(core_->history.begin(), events_after(core_->history, revision));
            core_->compacted = revision;
        }

        // Returns the freed pages to the file system; the store is correct without it.
        try {
            db_.exec("PRAGMA incremental_vacuum");
        } catch (const SqliteError& e) {
            spdlog::warn("store {}: incremental vacuum failed: {}", file_.string(), e.what());
        }
    }
    // Wake the watches that fell behind, so that they learn now rather than at the next write.
    for (const auto& state : behind)
        state->signal();
}

std::optional<Revision> SqliteStore::auto_compaction_target() const {
    std::shared_lock lock(core_->mu);
    const auto& history = core_->history;
    if (history.size() <= options_.history_events) return std::nullopt;
    const std::size_t over_count = history.size() - options_.history_events;
    // Event times never decrease: they are taken under the write lock.
    const auto cutoff = Clock::now() - options_.history_age;
    const auto old_end = std::partition_point(
        history.begin(), history.end(), [&](const EventRecord& e) { return e.time <= cutoff; });
    const std::size_t over_age = static_cast<std::size_t>(old_end - history.begin());
    const std::size_t drop = std::min(over_count, over_age);
    if (drop == 0) return std::nullopt;
    return history[drop - 1].rev;
}

void SqliteStore::run_compactor() {
    std::unique_lock lock(compactor_mu_);
    for (;;) {
        if (compactor_cv_.wait_for(lock, options_.compaction_interval, [&] { return stopping_; })) {
            return;
        }
        lock.unlock();
        try {
            if (auto target = auto_compaction_target()) compact(*target);
        } catch (const std::exception& e) {
            spdlog::warn("store {}: background compaction failed: {}", file_.string(), e.what());
        }
        lock.lock();
    }
}

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const std::filesystem::path& file, Options options) {
    return std::make_unique<SqliteStore>(file, options);
}

}  // namespace kcube::store
