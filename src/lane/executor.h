// Executor: what runs a job once the scheduler lets it start (ninja's CommandRunner). The lane
// owns the job's record; an executor owns the job's run: it starts it, reports what happens,
// and kills it with a grace. Events come back through ExecutorEvents on the executor's own
// thread, so an implementation may block (a cluster's tools do) without stalling the lane.
//
// Executors today: the lane's own process code runs local jobs (lane_loop.cc, lane_io.cc,
// lane_kill.cc; not yet behind this interface), SlurmExecutor runs jobs on a Slurm cluster.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "meanwhile/lane.h"

namespace meanwhile {

// What an executor needs of a job: the spec, resolved by the lane.
struct ExecutorJob {
  std::uint64_t key = 0;
  JobId id;
  std::string command;
  std::string cwd;
  std::vector<std::string> env;  // KEY=VALUE, secrets already withheld
  std::string log_path;          // where the output goes (shards: shard_log_path())
  std::optional<std::chrono::milliseconds> timeout;
  std::string partition;  // cluster executors: where to run
  int cpus = 0;
  std::string memory;
  int shards = 0;  // >0: that many tasks, numbered from 0
};

// How a job's run ended, as the executor saw it.
struct ExecutorExit {
  JobStatus status = JobStatus::exited;  // exited, killed, timed_out, failed_to_start or lost
  std::optional<int> exit_code;
  std::optional<int> term_signal;
  std::string error;    // why it was killed, failed or lost
  std::string summary;  // shards: "4 shards: 3 exited 0, shard 2 exited 1"
};

class ExecutorEvents {
 public:
  virtual ~ExecutorEvents() = default;
  // Each is called on the executor's thread, at most once per job except output(): post the
  // work elsewhere, do not block. `handle` names the run in the engine (a Slurm job id).
  virtual void submitted(std::uint64_t key, const std::string& handle) = 0;
  virtual void started(std::uint64_t key) = 0;
  // New bytes of a shard's output (shard 0 for an unsharded job), in order.
  virtual void output(std::uint64_t key, int shard, std::string_view bytes) = 0;
  virtual void ended(std::uint64_t key, const ExecutorExit& exit) = 0;
};

class Executor {
 public:
  virtual ~Executor() = default;
  // Starts the job; its events follow (ended() with failed_to_start when it cannot start).
  virtual void start(ExecutorJob job) = 0;
  // Follows a job a previous host started as `handle`, from `output_offset` bytes of its output.
  virtual void reattach(ExecutorJob job, std::string handle, std::uint64_t output_offset) = 0;
  // SIGTERM to every process of the job; SIGKILL after `grace` for what is left.
  virtual void kill(std::uint64_t key, std::chrono::milliseconds grace) = 0;
  // Jobs started or reattached and not yet ended; a job leaves the count before its ended().
  virtual std::size_t active() const = 0;
};

// A shard's output file: LOG with ".shard-N" before its extension ("12.log" → "12.shard-3.log").
std::string shard_log_path(const std::string& log_path, int shard);

}  // namespace meanwhile
