// The job store's schema and its uuid, made once per database.
#include "lane/store_schema.h"

#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>

namespace meanwhile::store_schema {
namespace {

// 1: the first schema. 2: jobs.slurm_job_id.
constexpr int kSchemaVersion = 2;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  spec TEXT NOT NULL,
  status TEXT NOT NULL,
  exit_code INTEGER,
  term_signal INTEGER,
  error TEXT NOT NULL DEFAULT '',
  pid INTEGER NOT NULL DEFAULT 0,
  submitted_at INTEGER,
  started_at INTEGER,
  ended_at INTEGER,
  bytes_logged INTEGER NOT NULL DEFAULT 0,
  bytes_dropped INTEGER NOT NULL DEFAULT 0,
  lines INTEGER NOT NULL DEFAULT 0,
  log_path TEXT NOT NULL DEFAULT '',
  last_line TEXT NOT NULL DEFAULT '',
  host_pid INTEGER NOT NULL DEFAULT 0,
  host_start INTEGER NOT NULL DEFAULT 0,
  slurm_job_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status);
)sql";

struct StmtDeleter {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

Stmt prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
  return Stmt(stmt);
}

// Runs SQL without results (schema, pragmas, transaction control outside the hot path).
bool exec(sqlite3* db, const char* sql) {
  return sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

std::string random_uuid() {
  unsigned char bytes[16] = {};
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got < sizeof bytes) {  // no getrandom: still unique enough per host, pid and time
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    const auto pid = ::getpid();
    std::memcpy(bytes, &now, sizeof now);
    std::memcpy(bytes + 8, &pid, sizeof pid);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char b : bytes) {
    hex.push_back(kHex[b >> 4]);
    hex.push_back(kHex[b & 15]);
  }
  return hex;
}

}  // namespace

// Two processes creating the database at once both run this; BEGIN IMMEDIATE serializes them
// and INSERT OR IGNORE keeps the first uuid.
Result<std::string> init(sqlite3* db) {
  if (!exec(db, "BEGIN IMMEDIATE")) return sqlite_error(db, "cannot lock the database");
  auto fail = [&](std::string_view what) -> Result<std::string> {
    Error error = sqlite_error(db, what);
    exec(db, "ROLLBACK");
    return error;
  };
  int version = 0;
  {
    Stmt stmt = prepare(db, "PRAGMA user_version");
    if (!stmt) return fail("cannot read the schema version");
    if (sqlite3_step(stmt.get()) == SQLITE_ROW) version = sqlite3_column_int(stmt.get(), 0);
  }
  if (version > kSchemaVersion) {
    exec(db, "ROLLBACK");
    return make_error(ErrorCode::failed_precondition,
                      "job store: schema version " + std::to_string(version) +
                          " was written by a newer meanwhile (this one knows " +
                          std::to_string(kSchemaVersion) + ")");
  }
  if (version == 1) {  // migrations, in order
    if (!exec(db, "ALTER TABLE jobs ADD COLUMN slurm_job_id TEXT NOT NULL DEFAULT ''"))
      return fail("cannot add jobs.slurm_job_id");
  }
  if (version < kSchemaVersion) {  // version 0: a new database
    if (!exec(db, kSchema)) return fail("cannot create the schema");
    const std::string set_version = "PRAGMA user_version = " + std::to_string(kSchemaVersion);
    if (!exec(db, set_version.c_str())) return fail("cannot set the schema version");
  }
  {
    Stmt stmt = prepare(db, "INSERT OR IGNORE INTO meta (key, value) VALUES ('uuid', ?)");
    if (!stmt) return fail("cannot prepare the uuid");
    const std::string uuid = random_uuid();
    sqlite3_bind_text(stmt.get(), 1, uuid.data(), static_cast<int>(uuid.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(stmt.get()) != SQLITE_DONE) return fail("cannot store the uuid");
  }
  std::string uuid;
  {
    Stmt stmt = prepare(db, "SELECT value FROM meta WHERE key = 'uuid'");
    if (!stmt || sqlite3_step(stmt.get()) != SQLITE_ROW) return fail("cannot read the uuid");
    const auto* text = sqlite3_column_text(stmt.get(), 0);
    if (text) uuid.assign(reinterpret_cast<const char*>(text), sqlite3_column_bytes(stmt.get(), 0));
  }
  if (uuid.empty()) return fail("the stored uuid is empty");
  if (!exec(db, "COMMIT")) return fail("cannot commit the schema");
  return uuid;
}

Error sqlite_error(sqlite3* db, std::string_view what) {
  const int code = sqlite3_errcode(db) & 0xff;
  ErrorCode kind = ErrorCode::internal;
  if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
    kind = ErrorCode::busy;
  else if (code == SQLITE_IOERR || code == SQLITE_FULL || code == SQLITE_CORRUPT ||
           code == SQLITE_NOTADB || code == SQLITE_CANTOPEN)
    kind = ErrorCode::io;
  else if (code == SQLITE_READONLY || code == SQLITE_PERM || code == SQLITE_AUTH)
    kind = ErrorCode::permission_denied;
  return make_error(kind, "job store: " + std::string(what) + ": " + sqlite3_errmsg(db));
}

}  // namespace meanwhile::store_schema
