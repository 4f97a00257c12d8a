#include "cluster/store/sqlite.hpp"

#include <climits>

namespace kcube::store::sqlite {

Db::Db(const std::filesystem::path& file) {
    sqlite3* raw = nullptr;
    const int flags =
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
    const int rc = sqlite3_open_v2(file.c_str(), &raw, flags, nullptr);
    db_.reset(raw);  // even on failure SQLite may hand back a handle that must be closed
    if (rc != SQLITE_OK) {
        std::string message = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
        throw SqliteError(rc, message);
    }
    sqlite3_extended_result_codes(raw, 1);
}

void Db::exec(const char* sql) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
        std::string message = error != nullptr ? error : sqlite3_errstr(rc);
        sqlite3_free(error);
        throw SqliteError(sqlite3_extended_errcode(db_.get()), message);
    }
}

void Db::fail(int rc, std::string_view context) const {
    // The connection's message is more specific than the code's ("file is not a database").
    std::string message = sqlite3_errmsg(db_.get());
    if (!context.empty()) message = std::string(context) + ": " + message;
    const int extended = sqlite3_extended_errcode(db_.get());
    throw SqliteError(extended != SQLITE_OK ? extended : rc, message);
}

Stmt::Stmt(const Db& db, std::string_view sql) : db_(&db) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db.get(), sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    stmt_.reset(raw);
    if (rc != SQLITE_OK) db.fail(rc, sql);
}

namespace {
int checked_size(std::string_view value) {
    if (value.size() > static_cast<std::size_t>(INT_MAX)) {
        throw SqliteError(SQLITE_TOOBIG, "value of " + std::to_string(value.size()) +
                                             " bytes is larger than SQLite accepts");
    }
    return static_cast<int>(value.size());
}
}  // namespace

Stmt& Stmt::bind(int index, std::int64_t value) {
    const int rc = sqlite3_bind_int64(stmt_.get(), index, value);
    if (rc != SQLITE_OK) db_->fail(rc, "bind");
    return *this;
}

Stmt& Stmt::bind_text(int index, std::string_view value) {
    // SQLITE_TRANSIENT: SQLite copies, so the caller's buffer may die before step().
    const int rc =
        sqlite3_bind_text(stmt_.get(), index, value.data(), checked_size(value), SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) db_->fail(rc, "bind");
    return *this;
}

Stmt& Stmt::bind_blob(int index, std::string_view value) {
    // A zero-length blob with a null pointer would be stored as NULL; keep it a blob.
    const char* data = value.empty() ? "" : value.data();
    const int rc =
        sqlite3_bind_blob(stmt_.get(), index, data, checked_size(value), SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) db_->fail(rc, "bind");
    return *this;
}

bool Stmt::step() {
    const int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    db_->fail(rc, {});
}

void Stmt::run() {
    ResetGuard guard(*this);
    while (step()) {
    }
}

void Stmt::reset() noexcept {
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
}

bool Stmt::is_null(int column) const {
    return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL;
}

std::int64_t Stmt::int64(int column) const {
    return sqlite3_column_int64(stmt_.get(), column);
}

std::string_view Stmt::text(int column) const {
    const auto* data = sqlite3_column_text(stmt_.get(), column);
    const int size = sqlite3_column_bytes(stmt_.get(), column);
    if (data == nullptr || size <= 0) return {};
    return {reinterpret_cast<const char*>(data), static_cast<std::size_t>(size)};
}

std::string_view Stmt::blob(int column) const {
    const void* data = sqlite3_column_blob(stmt_.get(), column);
    const int size = sqlite3_column_bytes(stmt_.get(), column);
    if (data == nullptr || size <= 0) return {};
    return {static_cast<const char*>(data), static_cast<std::size_t>(size)};
}

}  // namespace kcube::store::sqlite
