// Store: the durable job records, one SQLite database (WAL) per data directory.
//
// One row per job: its spec (as JSON), status, timestamps, exit status, byte counts, log path,
// and the host process that owns it (pid and that process's start time, which together
// identify a process even after pid reuse). Several host processes may share one database;
// SQLite's locking and a busy timeout keep it consistent. Thread-safe: one connection guarded
// by a mutex. Errors come back as Status/Result, never as exceptions.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "meanwhile/lane.h"

namespace meanwhile {

// Identifies a live process across pid reuse.
struct HostId {
  int pid = 0;
  std::uint64_t start_ticks = 0;  // field 22 of /proc/PID/stat
  static HostId self();
  bool alive() const;  // a process with this pid and start time exists now
  bool operator==(const HostId&) const = default;
};

struct StoredJob {
  JobInfo info;  // info.ours is set by the lane, not the store
  HostId host;
};

class Store {
 public:
  // Opens or creates the database at `path` (parent directory must exist).
  static Result<std::unique_ptr<Store>> open(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // A random id made when the database was created: part of every job's process marker.
  const std::string& uuid() const { return uuid_; }

  // Inserts a new row for `info` (its id is ignored) owned by `host`; returns the new id.
  // info.log_path may contain "{id}", replaced by the new id in the stored row.
  Result<JobId> insert(const JobInfo& info, const HostId& host);
  // Reserves `count` consecutive ids no other insert or reservation (of any process sharing
  // the database) will hand out; returns the first. Rows with them are written by write().
  Result<std::int64_t> reserve_ids(std::int64_t count);

  // One row for write(): `fresh` rows are inserted with their (reserved) id, spec, log path and
  // the given host; the others have their mutable fields updated.
  struct RowWrite {
    JobInfo info;
    bool fresh = false;
  };
  // Writes every row in one transaction: all or none. An update writes the mutable fields
  // (status, exit, error, pid, timestamps, counts, last_line); `host` is used for inserts only.
  Status write(const std::vector<RowWrite>& rows, const HostId& host);

  Result<std::optional<StoredJob>> load(const JobId& id) const;
  // Every queued or running row and the newest `limit` finished ones, oldest first.
  Result<std::vector<StoredJob>> load_recent(std::size_t limit) const;

  // Rows queued or running whose host is not alive become `lost` (error says so); returns
  // them as they are now, so the caller can end their leftover processes. Rows of Slurm jobs
  // with a Slurm id are never marked lost: with `adopter` (and `adopted`) they are given to
  // that host and appended to *adopted, to be followed again; without, they are left as they
  // are for the next lane that opens.
  Result<std::vector<StoredJob>> reclaim_dead_hosts(const HostId* adopter = nullptr,
                                                    std::vector<StoredJob>* adopted = nullptr);

 private:
  struct Statements;  // prepared statements, cached for the connection's lifetime
  Store(sqlite3* db, std::string uuid, std::string logs_dir);
  sqlite3* db_;
  std::string uuid_;
  std::string logs_dir_;  // <dir of jobs.db>/logs: every row's log path is derived from it
  mutable std::mutex mu_;
  std::unique_ptr<Statements> stmts_;  // guarded by mu_
};

// JobSpec <-> JSON, as stored in the spec column.
std::string spec_to_json(const JobSpec& spec);
Result<JobSpec> spec_from_json(const std::string& json);

}  // namespace meanwhile
