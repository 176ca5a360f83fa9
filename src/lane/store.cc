// Store: job rows in SQLite (WAL). One connection per Store, guarded by mu_; several processes
// share the file through SQLite's locks. Every write transaction is BEGIN IMMEDIATE, so the
// write lock is taken up front (waiting up to the busy timeout) and a transaction never has to
// upgrade a read lock, which is the case where SQLite returns SQLITE_BUSY without waiting.
#include "lane/store.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <limits>
#include <map>
#include <thread>

#include "lane/store_schema.h"
#include "lane/text.h"

namespace meanwhile {

using store_schema::sqlite_error;

namespace {

constexpr int kBusyTimeoutMs = 5000;

constexpr const char* kColumns =
    "id, spec, status, exit_code, term_signal, error, pid, submitted_at, started_at, ended_at, "
    "bytes_logged, bytes_dropped, lines, log_path, last_line, host_pid, host_start, slurm_job_id";

constexpr JobStatus kAllStatuses[] = {
    JobStatus::queued,    JobStatus::running, JobStatus::exited,          JobStatus::killed,
    JobStatus::timed_out, JobStatus::skipped, JobStatus::failed_to_start, JobStatus::lost};

// The store's own names (the same words as the enum), so the store does not depend on lane.cc.
const char* status_name(JobStatus status) {
  switch (status) {
    case JobStatus::queued:
      return "queued";
    case JobStatus::running:
      return "running";
    case JobStatus::exited:
      return "exited";
    case JobStatus::killed:
      return "killed";
    case JobStatus::timed_out:
      return "timed_out";
    case JobStatus::skipped:
      return "skipped";
    case JobStatus::failed_to_start:
      return "failed_to_start";
    case JobStatus::lost:
      return "lost";
  }
  return "lost";
}

std::optional<JobStatus> parse_status(std::string_view name) {
  for (JobStatus status : kAllStatuses) {
    if (name == status_name(status)) return status;
  }
  return std::nullopt;
}

std::int64_t to_unix_ms(WallClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// The store is input (a repository can ship .meanwhile/jobs.db): a time outside 1970..2200 is
// clamped rather than overflowing the nanosecond clock.
WallClock::time_point from_unix_ms(std::int64_t ms) {
  ms = std::clamp<std::int64_t>(ms, 0, 7258118400000);
  return WallClock::time_point(
      std::chrono::duration_cast<WallClock::duration>(std::chrono::milliseconds(ms)));
}

std::optional<std::int64_t> parse_row_id(const JobId& id) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), value);
  if (ec != std::errc() || end != id.data() + id.size() || value <= 0) return std::nullopt;
  return value;
}

struct StmtDeleter {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

// Resets a cached statement when the scope that used it ends, whatever happened.
class StmtUse {
 public:
  explicit StmtUse(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~StmtUse() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  StmtUse(const StmtUse&) = delete;
  StmtUse& operator=(const StmtUse&) = delete;
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_;
};

void bind_text(sqlite3_stmt* stmt, int index, std::string_view text) {
  sqlite3_bind_text(stmt, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

template <typename T>
void bind_optional(sqlite3_stmt* stmt, int index, const std::optional<T>& value) {
  if (value)
    sqlite3_bind_int64(stmt, index, static_cast<std::int64_t>(*value));
  else
    sqlite3_bind_null(stmt, index);
}

std::string column_text(sqlite3_stmt* stmt, int index) {
  const auto* text = sqlite3_column_text(stmt, index);
  return text ? std::string(reinterpret_cast<const char*>(text), sqlite3_column_bytes(stmt, index))
              : std::string();
}

std::optional<std::int64_t> column_optional(sqlite3_stmt* stmt, int index) {
  if (sqlite3_column_type(stmt, index) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int64(stmt, index);
}

std::uint64_t column_count(sqlite3_stmt* stmt, int index) {
  return static_cast<std::uint64_t>(std::max<std::int64_t>(0, sqlite3_column_int64(stmt, index)));
}

int column_int_in(sqlite3_stmt* stmt, int index, int low, int high) {
  return static_cast<int>(std::clamp<std::int64_t>(sqlite3_column_int64(stmt, index), low, high));
}

// Reads one row selected with kColumns. Every field is checked: the file may be anyone's.
// The log path is never read from the row: it is always logs_dir/<id>.log, so a row cannot make
// background_output read another file.
StoredJob read_row(sqlite3_stmt* stmt, const std::string& logs_dir) {
  StoredJob row;
  JobInfo& info = row.info;
  info.id = std::to_string(sqlite3_column_int64(stmt, 0));
  info.error = column_text(stmt, 5);
  if (auto spec = spec_from_json(column_text(stmt, 1))) {
    info.spec = std::move(spec.value());
  } else {
    info.error += (info.error.empty() ? "" : "; ") + ("stored spec unreadable: " + spec.error());
  }
  const std::string status = column_text(stmt, 2);
  if (auto parsed = parse_status(status)) {
    info.status = *parsed;
  } else {
    info.status = JobStatus::lost;
    info.error += (info.error.empty() ? "" : "; ") + ("unknown stored status '" + status + "'");
  }
  if (auto v = column_optional(stmt, 3)) info.exit_code = std::clamp<std::int64_t>(*v, 0, 255);
  if (auto v = column_optional(stmt, 4)) info.term_signal = std::clamp<std::int64_t>(*v, 1, 64);
  info.pid = column_int_in(stmt, 6, 0, std::numeric_limits<int>::max());
  info.submitted_at = from_unix_ms(column_optional(stmt, 7).value_or(0));
  if (auto v = column_optional(stmt, 8)) info.started_at = from_unix_ms(*v);
  if (auto v = column_optional(stmt, 9)) info.ended_at = from_unix_ms(*v);
  info.bytes_logged = column_count(stmt, 10);
  info.bytes_dropped = column_count(stmt, 11);
  info.lines = column_count(stmt, 12);
  info.log_path = logs_dir + "/" + info.id + ".log";
  info.last_line = text::cut_middle(text::clean(column_text(stmt, 14)), 4096, "").text;
  row.host.pid = column_int_in(stmt, 15, 0, std::numeric_limits<int>::max());
  row.host.start_ticks = static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 16));
  // A Slurm id is digits, with "_" for an array task: anything else is not passed to scancel.
  std::string slurm_id = column_text(stmt, 17);
  if (slurm_id.size() <= 40 && slurm_id.find_first_not_of("0123456789_") == std::string::npos)
    info.slurm_job_id = std::move(slurm_id);
  return row;
}

// Runs SQL without results (schema, pragmas, transaction control outside the hot path).
bool exec(sqlite3* db, const char* sql) {
  return sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

}  // namespace

struct Store::Statements {
  Stmt begin, commit, rollback, insert, insert_with_id, expand_log_path, update, load, load_recent,
      live, mark_lost, adopt, read_sequence, set_sequence, add_sequence;
};

namespace {

// Prepares `sql` into `slot` the first time; later calls reuse it.
sqlite3_stmt* prepared(sqlite3* db, Stmt& slot, const char* sql) {
  if (!slot) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
      return nullptr;
    }
    slot.reset(stmt);
  }
  return slot.get();
}

// Runs a cached statement that returns no rows.
bool step_done(sqlite3* db, Stmt& slot, const char* sql) {
  sqlite3_stmt* stmt = prepared(db, slot, sql);
  if (!stmt) return false;
  StmtUse use(stmt);
  return sqlite3_step(stmt) == SQLITE_DONE;
}

// BEGIN IMMEDIATE ... COMMIT, rolled back unless commit() succeeds.
class WriteTransaction {
 public:
  WriteTransaction(sqlite3* db, Stmt& begin, Stmt& commit, Stmt& rollback)
      : db_(db), commit_(commit), rollback_(rollback) {
    open_ = step_done(db_, begin, "BEGIN IMMEDIATE");
  }
  ~WriteTransaction() {
    if (open_) step_done(db_, rollback_, "ROLLBACK");
  }
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;

  bool open() const { return open_; }
  bool commit() {
    if (!open_) return false;
    if (!step_done(db_, commit_, "COMMIT")) return false;  // destructor rolls back
    open_ = false;
    return true;
  }

 private:
  sqlite3* db_;
  Stmt& commit_;
  Stmt& rollback_;
  bool open_ = false;
};

}  // namespace

Store::Store(sqlite3* db, std::string uuid, std::string logs_dir)
    : db_(db),
      uuid_(std::move(uuid)),
      logs_dir_(std::move(logs_dir)),
      stmts_(std::make_unique<Statements>()) {}

Store::~Store() {
  stmts_.reset();  // statements must be finalized before the connection closes
  sqlite3_close_v2(db_);
}

Result<std::unique_ptr<Store>> Store::open(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  auto fail = [&](std::string_view what) -> Result<std::unique_ptr<Store>> {
    Error error =
        make_error(ErrorCode::io, "cannot open job store " + path + ": " + std::string(what));
    if (db) {
      Error cause = sqlite_error(db, what);
      error.code = cause.code == ErrorCode::internal ? ErrorCode::io : cause.code;
      error.message += std::string(": ") + sqlite3_errmsg(db);
      sqlite3_close_v2(db);
    }
    return error;
  };
  if (rc != SQLITE_OK) return fail(sqlite3_errstr(rc));
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  sqlite3_extended_result_codes(db, 1);
  // Processes opening a new database at once race to switch it to WAL and create the schema;
  // SQLite answers SQLITE_BUSY at once (not through the busy handler) where waiting could
  // deadlock, so those steps are retried here until the busy timeout.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
  auto busy_again = [&](bool busy) {
    if (!busy || std::chrono::steady_clock::now() >= give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return true;
  };
  auto is_busy = [](int code) {
    return (code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED;
  };
  while (!exec(db, "PRAGMA journal_mode = WAL")) {
    if (!busy_again(is_busy(sqlite3_errcode(db)))) return fail("cannot switch to WAL");
  }
  if (!exec(db, "PRAGMA synchronous = NORMAL")) return fail("cannot set synchronous");
  auto uuid = store_schema::init(db);
  // init() rolls back on failure, which resets the connection's error: its code tells.
  while (!uuid && busy_again(uuid.code() == ErrorCode::busy)) uuid = store_schema::init(db);
  if (!uuid) {
    sqlite3_close_v2(db);
    Error error = uuid.error_info();
    error.message = "cannot open job store " + path + ": " + error.message;
    return error;
  }
  const std::string logs_dir = std::filesystem::path(path).parent_path().string() + "/logs";
  return std::unique_ptr<Store>(new Store(db, std::move(uuid.value()), logs_dir));
}

namespace {

constexpr const char* kInsertColumns =
    "spec, status, exit_code, term_signal, error, pid, submitted_at, started_at, ended_at, "
    "bytes_logged, bytes_dropped, lines, log_path, last_line, host_pid, host_start, slurm_job_id";

// Binds a new row's 17 columns, from index `first` on.
void bind_new_row(sqlite3_stmt* stmt, int first, const JobInfo& info, const HostId& host) {
  int i = first;
  bind_text(stmt, i++, spec_to_json(info.spec));
  bind_text(stmt, i++, status_name(info.status));
  bind_optional(stmt, i++, info.exit_code);
  bind_optional(stmt, i++, info.term_signal);
  bind_text(stmt, i++, info.error);
  sqlite3_bind_int(stmt, i++, info.pid);
  sqlite3_bind_int64(stmt, i++, to_unix_ms(info.submitted_at));
  bind_optional(stmt, i++,
                info.started_at ? std::optional(to_unix_ms(*info.started_at)) : std::nullopt);
  bind_optional(stmt, i++,
                info.ended_at ? std::optional(to_unix_ms(*info.ended_at)) : std::nullopt);
  sqlite3_bind_int64(stmt, i++, static_cast<std::int64_t>(info.bytes_logged));
  sqlite3_bind_int64(stmt, i++, static_cast<std::int64_t>(info.bytes_dropped));
  sqlite3_bind_int64(stmt, i++, static_cast<std::int64_t>(info.lines));
  bind_text(stmt, i++, info.log_path);
  bind_text(stmt, i++, info.last_line);
  sqlite3_bind_int(stmt, i++, host.pid);
  sqlite3_bind_int64(stmt, i++, static_cast<std::int64_t>(host.start_ticks));
  bind_text(stmt, i++, info.slurm_job_id);
}

}  // namespace

Result<JobId> Store::insert(const JobInfo& info, const HostId& host) {
  std::lock_guard lock(mu_);
  Statements& s = *stmts_;
  WriteTransaction txn(db_, s.begin, s.commit, s.rollback);
  if (!txn.open()) return sqlite_error(db_, "cannot begin a transaction");
  static const std::string sql = std::string("INSERT INTO jobs (") + kInsertColumns +
                                 ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  sqlite3_stmt* stmt = prepared(db_, s.insert, sql.c_str());
  if (!stmt) return sqlite_error(db_, "cannot prepare insert");
  std::int64_t id = 0;
  {
    StmtUse use(stmt);
    bind_new_row(stmt, 1, info, host);
    if (sqlite3_step(stmt) != SQLITE_DONE) return sqlite_error(db_, "cannot insert job");
    id = sqlite3_last_insert_rowid(db_);
  }
  if (info.log_path.find("{id}") != std::string::npos) {
    sqlite3_stmt* expand =
        prepared(db_, s.expand_log_path,
                 "UPDATE jobs SET log_path = replace(log_path, '{id}', id) WHERE id = ?");
    if (!expand) return sqlite_error(db_, "cannot prepare log path update");
    StmtUse use(expand);
    sqlite3_bind_int64(expand, 1, id);
    if (sqlite3_step(expand) != SQLITE_DONE) return sqlite_error(db_, "cannot set log path");
  }
  if (!txn.commit()) return sqlite_error(db_, "cannot commit insert");
  return std::to_string(id);
}

// AUTOINCREMENT keeps the largest id ever handed out in sqlite_sequence and never goes below
// it; raising it there reserves the ids in between for this caller (SQLite documents that
// sqlite_sequence may be changed with ordinary statements).
Result<std::int64_t> Store::reserve_ids(std::int64_t count) {
  if (count <= 0) return make_error("job store: cannot reserve " + std::to_string(count) + " ids");
  std::lock_guard lock(mu_);
  Statements& s = *stmts_;
  WriteTransaction txn(db_, s.begin, s.commit, s.rollback);
  if (!txn.open()) return sqlite_error(db_, "cannot begin a transaction");
  // Rows inserted with explicit ids (older versions did not) could lie above the sequence.
  sqlite3_stmt* read =
      prepared(db_, s.read_sequence,
               "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'jobs'), 0), "
               "coalesce((SELECT max(id) FROM jobs), 0))");
  if (!read) return sqlite_error(db_, "cannot prepare the id sequence");
  std::int64_t last = 0;
  {
    StmtUse use(read);
    if (sqlite3_step(read) != SQLITE_ROW) return sqlite_error(db_, "cannot read the id sequence");
    last = sqlite3_column_int64(read, 0);
  }
  if (last > INT64_MAX - count) return make_error("job store: job ids are exhausted");
  sqlite3_stmt* set =
      prepared(db_, s.set_sequence, "UPDATE sqlite_sequence SET seq = ? WHERE name = 'jobs'");
  if (!set) return sqlite_error(db_, "cannot prepare the id sequence update");
  {
    StmtUse use(set);
    sqlite3_bind_int64(set, 1, last + count);
    if (sqlite3_step(set) != SQLITE_DONE) return sqlite_error(db_, "cannot reserve ids");
  }
  if (sqlite3_changes(db_) == 0) {  // no row was ever inserted: the sequence has no entry yet
    sqlite3_stmt* add =
        prepared(db_, s.add_sequence, "INSERT INTO sqlite_sequence (name, seq) VALUES ('jobs', ?)");
    if (!add) return sqlite_error(db_, "cannot prepare the id sequence insert");
    StmtUse use(add);
    sqlite3_bind_int64(add, 1, last + count);
    if (sqlite3_step(add) != SQLITE_DONE) return sqlite_error(db_, "cannot reserve ids");
  }
  if (!txn.commit()) return sqlite_error(db_, "cannot commit the reserved ids");
  return last + 1;
}

Status Store::write(const std::vector<RowWrite>& rows, const HostId& host) {
  if (rows.empty()) return Ok{};
  std::lock_guard lock(mu_);
  Statements& s = *stmts_;
  WriteTransaction txn(db_, s.begin, s.commit, s.rollback);
  if (!txn.open()) return sqlite_error(db_, "cannot begin a transaction");
  static const std::string insert_sql =
      std::string("INSERT INTO jobs (id, ") + kInsertColumns +
      ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  sqlite3_stmt* insert = prepared(db_, s.insert_with_id, insert_sql.c_str());
  sqlite3_stmt* update = prepared(
      db_, s.update,
      "UPDATE jobs SET status = ?, exit_code = ?, term_signal = ?, error = ?, pid = ?, "
      "submitted_at = ?, started_at = ?, ended_at = ?, bytes_logged = ?, bytes_dropped = ?, "
      "lines = ?, last_line = ?, slurm_job_id = ? WHERE id = ?");
  if (!insert || !update) return sqlite_error(db_, "cannot prepare the row writes");
  for (const RowWrite& row : rows) {
    const JobInfo& info = row.info;
    const auto id = parse_row_id(info.id);
    if (!id) return make_error("job store: cannot write job '" + info.id + "': not a job id");
    if (row.fresh) {
      StmtUse use(insert);
      sqlite3_bind_int64(insert, 1, *id);
      bind_new_row(insert, 2, info, host);
      if (sqlite3_step(insert) != SQLITE_DONE) {
        return sqlite_error(db_, "cannot insert job " + info.id);
      }
      continue;
    }
    StmtUse use(update);
    bind_text(update, 1, status_name(info.status));
    bind_optional(update, 2, info.exit_code);
    bind_optional(update, 3, info.term_signal);
    bind_text(update, 4, info.error);
    sqlite3_bind_int(update, 5, info.pid);
    sqlite3_bind_int64(update, 6, to_unix_ms(info.submitted_at));
    bind_optional(update, 7,
                  info.started_at ? std::optional(to_unix_ms(*info.started_at)) : std::nullopt);
    bind_optional(update, 8,
                  info.ended_at ? std::optional(to_unix_ms(*info.ended_at)) : std::nullopt);
    sqlite3_bind_int64(update, 9, static_cast<std::int64_t>(info.bytes_logged));
    sqlite3_bind_int64(update, 10, static_cast<std::int64_t>(info.bytes_dropped));
    sqlite3_bind_int64(update, 11, static_cast<std::int64_t>(info.lines));
    bind_text(update, 12, info.last_line);
    bind_text(update, 13, info.slurm_job_id);
    sqlite3_bind_int64(update, 14, *id);
    if (sqlite3_step(update) != SQLITE_DONE) {
      return sqlite_error(db_, "cannot update job " + info.id);
    }
  }
  if (!txn.commit()) return sqlite_error(db_, "cannot commit the row writes");
  return Ok{};
}

Result<std::optional<StoredJob>> Store::load(const JobId& id) const {
  const auto row_id = parse_row_id(id);
  if (!row_id) return std::optional<StoredJob>();
  std::lock_guard lock(mu_);
  static const std::string sql = std::string("SELECT ") + kColumns + " FROM jobs WHERE id = ?";
  sqlite3_stmt* stmt = prepared(db_, stmts_->load, sql.c_str());
  if (!stmt) return sqlite_error(db_, "cannot prepare load");
  StmtUse use(stmt);
  sqlite3_bind_int64(stmt, 1, *row_id);
  const int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) return std::optional<StoredJob>(read_row(stmt, logs_dir_));
  if (rc == SQLITE_DONE) return std::optional<StoredJob>();
  return sqlite_error(db_, "cannot load job " + id);
}

Result<std::vector<StoredJob>> Store::load_recent(std::size_t limit) const {
  std::lock_guard lock(mu_);
  // Live rows are never cut: a list that hides a running job makes it unkillable by name.
  static const std::string sql =
      std::string("SELECT ") + kColumns +
      " FROM jobs WHERE status IN ('queued', 'running') OR id IN (SELECT id FROM jobs WHERE "
      "status NOT IN ('queued', 'running') ORDER BY id DESC LIMIT ?) ORDER BY id";
  sqlite3_stmt* stmt = prepared(db_, stmts_->load_recent, sql.c_str());
  if (!stmt) return sqlite_error(db_, "cannot prepare load_recent");
  StmtUse use(stmt);
  sqlite3_bind_int64(stmt, 1, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
  std::vector<StoredJob> rows;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) rows.push_back(read_row(stmt, logs_dir_));
  if (rc != SQLITE_DONE) return sqlite_error(db_, "cannot list jobs");
  return rows;
}

Result<std::vector<StoredJob>> Store::reclaim_dead_hosts(const HostId* adopter,
                                                         std::vector<StoredJob>* adopted) {
  std::lock_guard lock(mu_);
  Statements& s = *stmts_;
  WriteTransaction txn(db_, s.begin, s.commit, s.rollback);
  if (!txn.open()) return sqlite_error(db_, "cannot begin a transaction");
  static const std::string live_sql =
      std::string("SELECT ") + kColumns +
      " FROM jobs WHERE status IN ('queued', 'running') ORDER BY id";
  sqlite3_stmt* live = prepared(db_, s.live, live_sql.c_str());
  sqlite3_stmt* mark = prepared(
      db_, s.mark_lost, "UPDATE jobs SET status = 'lost', error = ?, ended_at = ? WHERE id = ?");
  sqlite3_stmt* adopt =
      prepared(db_, s.adopt, "UPDATE jobs SET host_pid = ?, host_start = ? WHERE id = ?");
  if (!live || !mark || !adopt) return sqlite_error(db_, "cannot prepare reclaim");

  std::vector<StoredJob> dead;
  {
    StmtUse use(live);
    std::map<std::pair<int, std::uint64_t>, bool> alive;  // one /proc read per host
    int rc;
    while ((rc = sqlite3_step(live)) == SQLITE_ROW) {
      StoredJob row = read_row(live, logs_dir_);
      const auto key = std::make_pair(row.host.pid, row.host.start_ticks);
      auto it = alive.find(key);
      if (it == alive.end()) it = alive.emplace(key, row.host.alive()).first;
      if (!it->second) dead.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) return sqlite_error(db_, "cannot scan live jobs");
  }
  const auto now = WallClock::now();
  std::vector<StoredJob> lost;
  for (StoredJob& row : dead) {
    JobInfo& info = row.info;
    // A Slurm job runs on without its host: followed again by its id, never marked lost here.
    if (info.spec.executor == ExecutorKind::slurm && !info.slurm_job_id.empty()) {
      if (adopter == nullptr || adopted == nullptr) continue;
      StmtUse use(adopt);
      sqlite3_bind_int(adopt, 1, adopter->pid);
      sqlite3_bind_int64(adopt, 2, static_cast<std::int64_t>(adopter->start_ticks));
      sqlite3_bind_int64(adopt, 3, *parse_row_id(info.id));
      if (sqlite3_step(adopt) != SQLITE_DONE) return sqlite_error(db_, "cannot adopt job");
      row.host = *adopter;
      adopted->push_back(std::move(row));
      continue;
    }
    info.error = "its host process (pid " + std::to_string(row.host.pid) + ") ended while it was " +
                 status_name(info.status);
    info.status = JobStatus::lost;
    info.ended_at = now;
    StmtUse use(mark);
    bind_text(mark, 1, info.error);
    sqlite3_bind_int64(mark, 2, to_unix_ms(now));
    sqlite3_bind_int64(mark, 3, *parse_row_id(info.id));
    if (sqlite3_step(mark) != SQLITE_DONE) return sqlite_error(db_, "cannot mark job lost");
    lost.push_back(std::move(row));
  }
  if (!txn.commit()) return sqlite_error(db_, "cannot commit reclaim");
  return lost;
}

}  // namespace meanwhile
