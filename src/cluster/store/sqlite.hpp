#pragma once
// Thin RAII wrappers over the SQLite C API: a connection and prepared statements. They throw
// SqliteError carrying SQLite's extended result code; the store turns that into the errors its
// callers understand, with the file name and advice.
#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace kcube::store::sqlite {

class SqliteError : public std::runtime_error {
  public:
    SqliteError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
    // The extended result code (SQLITE_IOERR_FSYNC, SQLITE_NOTADB, ...).
    int code() const noexcept { return code_; }
    int primary_code() const noexcept { return code_ & 0xff; }

  private:
    int code_;
};

class Db {
  public:
    // Opens (creating if missing) `file` for reading and writing. The connection is used by one
    // thread at a time (the store serialises access), so SQLite's own mutexes are off.
    explicit Db(const std::filesystem::path& file);
    sqlite3* get() const noexcept { return db_.get(); }
    // Runs one or more statements that return no rows the caller needs.
    void exec(const char* sql);
    [[noreturn]] void fail(int rc, std::string_view context) const;

  private:
    struct Close {
        void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
    };
    std::unique_ptr<sqlite3, Close> db_;
};

class Stmt {
  public:
    Stmt(const Db& db, std::string_view sql);

    Stmt& bind(int index, std::int64_t value);
    Stmt& bind_text(int index, std::string_view value);
    Stmt& bind_blob(int index, std::string_view value);
    // true: a row is available; false: done. Throws SqliteError.
    bool step();
    // Runs a statement that returns no rows, then resets it.
    void run();
    // Ready for the next use: drops bindings and ends the statement's implicit read
    // transaction, which would otherwise keep old WAL frames from being checkpointed.
    void reset() noexcept;

    bool is_null(int column) const;
    std::int64_t int64(int column) const;
    std::string_view text(int column) const;
    std::string_view blob(int column) const;

  private:
    struct Finalize {
        void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
    };
    const Db* db_;
    std::unique_ptr<sqlite3_stmt, Finalize> stmt_;
};

// Resets a statement when a scope ends, whether it ran to completion or threw.
class ResetGuard {
  public:
    explicit ResetGuard(Stmt& stmt) : stmt_(stmt) {}
    ~ResetGuard() { stmt_.reset(); }
    ResetGuard(const ResetGuard&) = delete;
    ResetGuard& operator=(const ResetGuard&) = delete;

  private:
    Stmt& stmt_;
};

}  // namespace kcube::store::sqlite
