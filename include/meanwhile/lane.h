// The background lane: runs shell commands in the background without ever blocking its caller.
//
// A job is a durable record (what to run, where, with which limits; queued, running, finished)
// kept in an SQLite store; a slot is the live process that executes it. Slots are limited,
// records are not. Each job runs under `/bin/sh -c` in its own session and process group, with
// stdout and stderr captured together into a log file on disk. When a job's leader process
// exits the job is finished and exactly one `finished` note is queued for the host to drain.
//
// Threads: one lane thread runs an Asio event loop that owns every process, fd and timer.
// Every public method is thread-safe and returns quickly: none waits for a process, except
// wait() and wait_terminal(), whose purpose is to block, and the destructor, which kills
// running jobs (SIGTERM, then SIGKILL after the grace period) before it returns.
//
// Errors never escape as exceptions: calls that can fail return Result / Status with a message
// meant for a person or a model to act on.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "meanwhile/result.h"

namespace meanwhile {

// Decimal string of the job's row id in the store, e.g. "17". Unique within a data directory,
// also across several hosts sharing it.
using JobId = std::string;

enum class StdinMode {
  null,  // the job reads EOF at once (default): a stdin read never hangs
  pipe,  // the host may write_input() and close it
};

// What runs a job: the lane's own process code on this machine, or a Slurm cluster
// (docs/DESIGN.md, "Scaling out").
enum class ExecutorKind { local, slurm };
const char* to_string(ExecutorKind kind);
// "local" or "slurm"; nullopt for anything else.
std::optional<ExecutorKind> parse_executor(std::string_view name);

// The most shards (tasks of one Slurm job array) a job may have.
inline constexpr int kMaxShards = 1000;

struct JobSpec {
  std::string command;  // run as /bin/sh -c COMMAND; must not be empty
  std::string cwd;      // working directory; empty: the lane's workspace. Must exist.
  std::vector<std::pair<std::string, std::string>> env;  // added to (or overriding) the host's
  std::optional<std::chrono::milliseconds> timeout;      // killed as status timed_out after it
                                                         // (at most kMaxJobTimeout)
  std::string label;                                     // short name shown to people
  StdinMode stdin_mode = StdinMode::null;
  std::string watch;         // RE2 regex; each matching output line raises a `matched` note
  std::vector<JobId> after;  // start only when all these succeeded; skipped if one did not
  int priority = 0;          // among queued jobs, higher starts first; ties: older first
  std::optional<std::uint64_t> log_cap_bytes;  // default: LaneOptions::log_cap_bytes
  // Unset: LaneOptions::default_executor (submit() fills it in). Slurm jobs take no stdin pipe;
  // their timeout becomes Slurm's time limit (rounded up to a minute); log_cap_bytes does not
  // apply (Slurm writes the log).
  std::optional<ExecutorKind> executor;
  // Slurm only (submit() refuses them for a local job). Empty / 0: the cluster's default.
  std::string partition;
  int cpus = 0;        // per task, 1..4096
  std::string memory;  // per task: MiB ("4096") or with Slurm's unit suffix ("4G", "512M")
  int shards = 0;      // 1..kMaxShards: a job array, tasks numbered from 0 (MEANWHILE_SHARD)
};

enum class JobStatus {
  queued,           // waiting for a slot, or for the jobs it runs after
  running,          // leader process alive
  exited,           // leader exited by itself: see exit_code or signal
  killed,           // ended by kill() or host shutdown
  timed_out,        // ended by its timeout
  skipped,          // a job in `after` did not succeed
  failed_to_start,  // could not be started: see error
  lost,             // left queued or running by a host that died
};

const char* to_string(JobStatus status);
// True for every status but queued and running.
bool is_terminal(JobStatus status);

using WallClock = std::chrono::system_clock;

struct JobInfo {
  JobId id;
  JobSpec spec;
  JobStatus status = JobStatus::queued;
  std::optional<int> exit_code;    // exited normally
  std::optional<int> term_signal;  // leader died of this signal
  std::string error;               // failed_to_start / skipped / lost: why
  int pid = 0;                     // leader pid once started
  WallClock::time_point submitted_at{};
  std::optional<WallClock::time_point> started_at;
  std::optional<WallClock::time_point> ended_at;
  std::uint64_t bytes_logged = 0;   // written to the log file
  std::uint64_t bytes_dropped = 0;  // read past the log cap and discarded
  std::uint64_t lines = 0;          // complete output lines seen so far
  std::string log_path;
  std::string last_line;         // last non-empty output line, cleaned (see read_output)
  std::vector<int> descendants;  // processes of the job still alive (leader excluded)
  bool output_open = false;      // someone still holds the job's output pipe
  bool stalled = false;          // running and silent for LaneOptions::stall_after
  bool ours = true;              // false: owned by another (or an earlier) host process
  // Without a cgroup: some of the job's processes could not be told apart from another job's
  // (see docs/DESIGN.md, "Finding a job's processes"); they may outlive a kill of this job.
  bool tracking_incomplete = false;
  std::string slurm_job_id;  // Slurm jobs, once submitted: how a later host follows it again
  std::string summary;       // sharded jobs, once ended: "4 shards: 3 exited 0, shard 2 exited 1"

  // exited with code 0.
  bool succeeded() const { return status == JobStatus::exited && exit_code == 0; }
  // Seconds from start (or submit) to end (or now).
  double elapsed_seconds() const;
};

enum class NoteKind {
  finished,  // the job reached a terminal status; exactly one per job
  matched,   // output lines matched the job's watch regex
  stalled,   // a running job printed nothing for LaneOptions::stall_after
};

const char* to_string(NoteKind kind);

struct Note {
  NoteKind kind = NoteKind::finished;
  JobId job;
  int priority = 0;                // drain order: higher first, then older first
  std::uint64_t seq = 0;           // queue order, increasing
  JobInfo info;                    // the job as it was when the note was queued
  std::vector<std::string> lines;  // matched: the matching lines (folded within 200 ms)
  std::string preview;             // finished: head and tail of the output, cleaned and cut
};

struct LaneOptions {
  std::string workspace = ".";  // default cwd of jobs
  std::string data_dir;         // default: WORKSPACE/.meanwhile; holds jobs.db and logs/
  std::size_t max_slots = 0;    // 0: unlimited
  std::chrono::milliseconds kill_grace{2000};  // SIGTERM -> SIGKILL
  std::chrono::milliseconds stall_after{45000};
  std::chrono::milliseconds watch_fold{200};
  std::uint64_t log_cap_bytes = 1ull << 30;
  std::size_t tail_bytes = 64 * 1024;  // in-memory tail per job
  bool use_cgroups = true;             // a cgroup per job where one can be made
  // A small process, started with the first job, that kills this lane's jobs if the host dies
  // without closing the lane (SIGKILL, the OOM killer): src/lane/watchdog.h.
  bool watchdog = true;
  // A command that is one simple command of plain words (`sleep 2`, `make -j2 test`) is
  // exec'd without /bin/sh in between (one exec instead of two); anything else, or a command
  // that cannot be exec'd, goes through `/bin/sh -c` as written. See src/lane/direct_exec.h.
  bool direct_exec = true;
  // Where jobs whose spec names no executor run (the CLI's --executor, MEANWHILE_EXECUTOR).
  ExecutorKind default_executor = ExecutorKind::local;
  // At most this many notes wait to be drained (0: no limit); past it the lowest-priority,
  // oldest note is dropped and counted (dropped_notes()). Every job's record stays in the store.
  std::size_t max_pending_notes = 0;
  // Signals on which the lane kills every job, updates the store, then calls on_signal (or,
  // when unset, restores the default action and re-raises the signal). Empty: none.
  std::vector<int> shutdown_signals;
  std::function<void(int)> on_signal;
};

enum class ReadMode {
  since_last,  // what is new since this reader's previous read
  tail,        // the last `lines` lines
  head,        // the first `lines` lines
  all,
};

// The longest job timeout submit() accepts.
inline constexpr std::chrono::milliseconds kMaxJobTimeout{366LL * 24 * 3600 * 1000};

struct ReadRequest {
  JobId id;
  ReadMode mode = ReadMode::since_last;
  std::size_t lines = 50;          // for tail and head
  std::string filter;              // RE2 regex: keep matching lines only
  std::string reader = "default";  // cursor name for since_last
  std::size_t max_bytes = 30000;   // longer text is cut in the middle
  // Sharded jobs: one shard's output. Unset: every shard's, each under a "--- shard N ---" line
  // (shards with nothing to show left out; since_last keeps one cursor per shard). An error
  // for a job without shards.
  std::optional<int> shard;
};

struct OutputChunk {
  std::string text;               // valid UTF-8, ANSI stripped, \r-rewritten lines collapsed
  std::uint64_t from_offset = 0;  // log byte range this chunk covers
  std::uint64_t to_offset = 0;
  std::size_t lines_omitted = 0;  // cut from the middle (or filtered out: not counted)
  std::size_t bytes_omitted = 0;
  bool job_running = false;
  std::string log_path;
};

class Lane {
 public:
  // Opens (creating if needed) the data directory and store, marks rows of dead hosts `lost`
  // and kills their leftover processes, then starts the lane thread.
  static Result<std::unique_ptr<Lane>> open(LaneOptions options);
  ~Lane();  // kills every running job and waits for them (bounded by kill_grace)
  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;

  // Records the job and returns its id at once; never waits for the process.
  Result<JobId> submit(JobSpec spec);

  Result<JobInfo> get(const JobId& id) const;
  // This host's jobs and earlier ones from the store, oldest first: every queued or running
  // job, and at most `limit` finished ones (the newest).
  std::vector<JobInfo> list(std::size_t limit = 200) const;

  Result<OutputChunk> read_output(const ReadRequest& request);

  // SIGTERM to everything the job started, SIGKILL after the grace period. Killing a finished
  // job ends its leftover descendants. A queued job becomes `killed` without starting.
  Status kill(const JobId& id);
  // Writes to a `pipe` job's stdin; close=true closes it after writing.
  Status write_input(const JobId& id, std::string_view data, bool close);

  // Notes queued since the last drain, highest priority first, then oldest first.
  std::vector<Note> drain();
  // Blocks until at least one note (for one of `ids`, when given) is queued or the timeout
  // passes; removes and returns those notes (empty on timeout). Woken by the lane, no polling.
  std::vector<Note> wait(std::chrono::milliseconds timeout, const std::vector<JobId>& ids = {});
  // Blocks until one of `ids` is terminal (or the timeout passes); does not consume notes.
  // Returns the first terminal job found, or nullopt on timeout. Unknown ids: error.
  Result<std::optional<JobInfo>> wait_terminal(const std::vector<JobId>& ids,
                                               std::chrono::milliseconds timeout);
  // Blocks until one of this process's jobs is no longer queued (running, or ended; a Slurm
  // job also once the cluster accepted it: slurm_job_id is set) or the timeout passes; returns its
  // state either way. Woken by the lane, no polling. A job of another process is returned as stored
  // at once. Unknown id: not_found.
  Result<JobInfo> wait_started(const JobId& id, std::chrono::milliseconds timeout);
  // Number of notes waiting to be drained.
  std::size_t pending_notes() const;
  // Notes dropped because more than LaneOptions::max_pending_notes were waiting.
  std::uint64_t dropped_notes() const;
  // An eventfd that is readable while notes are pending: for hosts with their own poll loop.
  int notify_fd() const;

  // Called on the lane thread after every status change of one of this host's jobs. Keep it
  // short and non-blocking. Replaces any earlier observer; pass {} to remove.
  void set_observer(std::function<void(const JobInfo&)> observer);

  std::size_t running_count() const;
  const LaneOptions& options() const;

 private:
  class Impl;
  explicit Lane(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace meanwhile
