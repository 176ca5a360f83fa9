// SlurmTools: Slurm's own command-line tools (sbatch, squeue, scancel) as one small API. Every
// call runs a process and blocks (up to Slurm's MessageTimeout when the controller is down):
// callers keep it off the lane thread. Errors quote the tool's own words.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "meanwhile/result.h"

namespace meanwhile {

struct SlurmSubmit {
  std::string job_name;                   // --job-name
  std::string script_path;                // the batch script (its first line is #!/bin/sh)
  std::string cwd;                        // --chdir
  std::string output_pattern;             // --output (Slurm's %a is the array index)
  std::string partition;                  // empty: the cluster's default
  int cpus = 0;                           // --cpus-per-task; 0: Slurm's default
  std::string memory;                     // --mem ("4096", "4G"); empty: Slurm's default
  int shards = 0;                         // >0: --array=0-(shards-1)
  std::optional<int> time_limit_minutes;  // --time
  std::vector<std::string> env;           // KEY=VALUE: sbatch's environment, exported to the job
};

// One line of squeue: an array's pending tasks share one line (task = -1, tasks_pending set).
struct SlurmTask {
  std::string job_id;    // this task's own id
  std::string array_id;  // the id sbatch printed
  int task = -1;         // the array index; -1: not an array task (or pending ones)
  std::string state;     // PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, ...
  std::string reason;
  int raw_status = 0;  // the wait status Slurm recorded (exit << 8 | signal)
  bool tasks_pending = false;
  std::string name;  // the job's name (meanwhile's: "meanwhile-<task id>")
};

// Whether a state is final (the task will not run again).
bool slurm_state_final(std::string_view state);

// Parses `squeue -h -O JobID:|,ArrayJobID:|,ArrayTaskID:|,State:|,Reason:|,exit_code:|,Name:200|`.
// Malformed lines are skipped (a tool's output is input too).
std::vector<SlurmTask> parse_squeue(std::string_view text);

// sbatch --parsable prints "ID" or "ID;CLUSTER". Error when it is not a number.
Result<std::string> parse_sbatch_id(std::string_view text);

class SlurmTools {
 public:
  // `timeout` bounds every call (a hung controller must not hang the executor).
  explicit SlurmTools(std::chrono::milliseconds timeout = std::chrono::seconds(30))
      : timeout_(timeout) {}

  // Submits; returns Slurm's job id. Errors: unavailable (sbatch not installed, controller
  // down) or invalid_argument (Slurm refused the request), with sbatch's message.
  Result<std::string> submit(const SlurmSubmit& request) const;
  // The tasks Slurm still knows of among `ids` (forgotten jobs are simply absent). Error:
  // unavailable when squeue cannot reach the controller.
  Result<std::vector<SlurmTask>> query(const std::vector<std::string>& ids) const;
  // Sends `signal` to every task of job `id` (scancel --full --signal). Error: unavailable.
  Status signal(const std::string& id, int signal) const;
  // Cancels every task of job `id` (scancel): pending ones never start; running ones get
  // SIGTERM, then SIGKILL after Slurm's KillWait. `pending_only`: only tasks not yet started.
  // Error: unavailable.
  Status cancel(const std::string& id, bool pending_only = false) const;

 private:
  std::chrono::milliseconds timeout_;
};

}  // namespace meanwhile
