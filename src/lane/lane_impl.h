// Lane::Impl: the lane's state and its two sides.
//
// Caller side (any thread; lane.cc, lane_queries.cc): validates and records jobs, answers
// queries from snapshots under mu_, posts everything else to the lane thread.
// Lane thread (lane_loop.cc: life cycle; lane_io.cc: pipes and timers; lane_kill.cc: kill,
// reaping, shutdown): one asio::io_context; it owns every process, fd and timer and is the only
// writer of job state (under mu_ for what callers can read). lane_open.cc opens and closes.
#pragma once

#include <sys/resource.h>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "lane/cgroup.h"
#include "lane/child_reaper.h"
#include "lane/direct_exec.h"
#include "lane/environment.h"
#include "lane/executor.h"
#include "lane/job_output.h"
#include "lane/note_queue.h"
#include "lane/process_tree.h"
#include "lane/row_writer.h"
#include "lane/scheduler.h"
#include "lane/spawn.h"
#include "lane/spawn_report.h"
#include "lane/store.h"
#include "lane/unique_fd.h"
#include "lane/watch_regex.h"
#include "lane/watchdog.h"
#include "meanwhile/lane.h"

namespace meanwhile {

using SteadyClock = std::chrono::steady_clock;

// Why a running job is being ended by the lane.
enum class EndReason { none, killed, timed_out };

// What an asynchronously started child reads until it execs: kept unchanged until the report
// pipe says so (spawn_async.cc). Its stack is never unmapped while the child may run on it.
struct PendingSpawn {
  PendingSpawn() = default;
  PendingSpawn(const PendingSpawn&) = delete;
  PendingSpawn& operator=(const PendingSpawn&) = delete;
  ~PendingSpawn() {
    if (!resolved && stack) (void)stack.release();  // the child may still use it: leak it
  }
  EnvBlock env;
  std::string command;
  std::string cwd;
  char sh[3] = "sh";
  char dash_c[3] = "-c";
  char* argv[4] = {nullptr, nullptr, nullptr, nullptr};
  std::optional<DirectExec> direct;  // a plain command: exec'd without the shell
  std::vector<char*> direct_argv;
  std::vector<const char*> direct_paths;
  SpawnRequest request;
  std::unique_ptr<ChildStack> stack;
  SpawnOutcome outcome;
  bool resolved = false;  // EOF on the report pipe: the child exec'd or exited
};

// What only exists while a job has a process (or leftovers): lane thread only.
struct LiveJob {
  explicit LiveJob(asio::io_context& io)
      : pidfd(io),
        output(io),
        input(io),
        timeout(io),
        stall(io),
        fold(io),
        grace(io),
        coalesce(io),
        report(io) {}

  asio::posix::stream_descriptor pidfd;   // the leader; readable when it exits
  asio::posix::stream_descriptor output;  // read end of the stdout+stderr pipe
  asio::posix::stream_descriptor input;   // write end of the stdin pipe (pipe mode)
  asio::steady_timer timeout, stall, fold, grace;
  asio::steady_timer coalesce;            // the next read of a job printing heavily
  asio::posix::stream_descriptor report;  // async spawn: the child's report pipe
  std::unique_ptr<PendingSpawn> pending;  // async spawn: until the child has exec'd
  std::string spawn_error;                // async spawn: why the child could not start
  std::unique_ptr<Cgroup> cgroup;
  int cgroup_watch = -1;  // inotify watch on cgroup.events while leftovers remain

  pid_t pid = 0;  // the leader (in info.pid once it runs)
  bool leader_reaped = false;
  bool output_eof = false;
  bool read_scheduled = false;  // an async_wait or a posted read is pending on `output`
  bool pipe_enlarged = false;
  bool input_waiting = false;  // an async_wait(write) is pending on `input`
  bool grace_pending = false;  // SIGKILL after the grace period is armed
  bool stalled = false;
  SteadyClock::time_point last_output;
  SteadyClock::time_point last_read_wake;
  LineSplitter lines;
  std::vector<std::string> fold_lines;  // matched lines waiting for the fold timer
  std::size_t fold_extra = 0;           // matched lines beyond NoteQueue::kMaxLines
  bool fold_armed = false;
  // A job run by a cluster executor (lane_remote.cc) has no pid, pipes or cgroup here; its
  // output comes as executor events, one line splitter per shard.
  std::map<int, LineSplitter> shard_lines;
};

struct Job {
  Job(std::uint64_t key, JobInfo info, std::uint64_t log_cap, std::size_t tail_bytes)
      : key(key), info(std::move(info)), output(log_cap, tail_bytes) {}

  const std::uint64_t key;
  // Set at submit, then read-only.
  std::shared_ptr<const WatchRegex> watch;  // null: no watch
  std::string mark;                         // MEANWHILE_JOB_MARK value

  // Guarded by Impl::mu_ (written by the lane thread, or by submit before the job is shared;
  // the lane thread reads them without the lock). JobOutput's log fd is lane-thread only.
  JobInfo info;
  JobOutput output;
  bool output_released = false;  // info.last_line holds the final value
  std::string cgroup_path;       // while the job has a cgroup: for get()'s descendants
  JobTrace trace;                // without a cgroup: how its processes are found (process_tree.h)
  bool stdin_closed = false;     // closed by write_input(close) or by the job
  std::uint64_t stdin_queued = 0;

  // Lane thread only.
  EndReason end_reason = EndReason::none;
  std::string end_error;
  std::unique_ptr<LiveJob> live;
  std::string skip_reason;        // set at submit when a job in `after` already failed
  bool watchdog_dropped = false;  // the watchdog holds no pidfd of it (watchdog.h)
  std::string stdin_pending;
  std::size_t stdin_offset = 0;
  bool stdin_close_requested = false;
};

using JobPtr = std::shared_ptr<Job>;

// Lanes open in this process: orphans can be attributed to a job only when there is one.
int open_lane_count();

class Lane::Impl : public ReapOwner {
 public:
  static Result<std::unique_ptr<Impl>> open(LaneOptions options);
  ~Impl() override;

  // Caller side (lane.cc, lane_queries.cc).
  Result<JobId> submit(JobSpec spec);
  Result<JobInfo> get(const JobId& id) const;
  std::vector<JobInfo> list(std::size_t limit) const;
  Result<OutputChunk> read_output(const ReadRequest& request);
  Status kill(const JobId& id);
  Status write_input(const JobId& id, std::string_view data, bool close);
  std::vector<Note> drain() { return notes_.drain(); }
  std::vector<Note> wait(std::chrono::milliseconds timeout, const std::vector<JobId>& ids) {
    return notes_.wait(timeout, ids);
  }
  Result<std::optional<JobInfo>> wait_terminal(const std::vector<JobId>& ids,
                                               std::chrono::milliseconds timeout);
  Result<JobInfo> wait_started(const JobId& id, std::chrono::milliseconds timeout);
  std::size_t pending_notes() const { return notes_.size(); }
  std::uint64_t dropped_notes() const { return notes_.dropped(); }
  int notify_fd() const { return notes_.fd(); }
  void set_observer(std::function<void(const JobInfo&)> observer);
  std::size_t running_count() const;
  const LaneOptions& options() const { return options_; }

  // ReapOwner: a leader reaped by a SIGCHLD handler (any lane's).
  void leader_reaped(pid_t pid, ExitStatus status) override;

 private:
  explicit Impl(LaneOptions options);
  void run_loop();

  // ---- caller side helpers ----
  JobPtr find(std::uint64_t key) const;           // under mu_
  JobInfo snapshot_locked(const Job& job) const;  // under mu_
  Result<std::uint64_t> parse_id(const JobId& id) const;
  Status check_after(const JobSpec& spec, std::string* skip_reason) const;

  // ---- lane thread: life cycle (lane_loop.cc) ----
  void on_submitted(const JobPtr& job);
  void schedule();
  void start_batch();
  void start_some();
  std::size_t slot_limit() const;
  bool start(const JobPtr& job);
  Status spawn(const JobPtr& job);
  void finish(const JobPtr& job, JobStatus status, const ExitStatus& exit, std::string error);
  void release_dependents(const Job& job);
  void on_leader_exit(const JobPtr& job, ExitStatus status);
  void watch_leader(const JobPtr& job);
  Result<Spawned> start_async(const JobPtr& job, std::unique_ptr<PendingSpawn>& pending);
  void watch_spawn_report(const JobPtr& job);
  void resolve_spawn(const JobPtr& job);
  void mark_running(const JobPtr& job);
  void check_done(const JobPtr& job);
  void mark_dirty(const JobPtr& job) { rows_->changed(job->key); }
  Result<std::uint64_t> next_job_id();
  void notify_status(const JobPtr& job);
  void push_note(const JobPtr& job, NoteKind kind, int priority, std::vector<std::string> lines,
                 std::string preview);

  // ---- lane thread: output, stdin, timers (lane_io.cc) ----
  void schedule_read(const JobPtr& job);
  void read_output(const JobPtr& job, std::size_t budget);
  void drain_output_now(const JobPtr& job);
  void consume(const JobPtr& job, std::string_view chunk);
  void on_output_eof(const JobPtr& job);
  void match_line(const JobPtr& job, std::string_view line);
  void flush_matches(const JobPtr& job);
  void arm_stall(const JobPtr& job, SteadyClock::time_point at);
  void on_stall_timer(const JobPtr& job);
  void pump_input(const JobPtr& job);
  void close_input(const JobPtr& job);

  // ---- lane thread: jobs run by a cluster executor (lane_remote.cc) ----
  class RemoteEvents;  // ExecutorEvents that post to the lane thread
  bool is_remote(const Job& job) const { return job.info.spec.executor == ExecutorKind::slurm; }
  Executor& slurm();  // created with the first Slurm job
  Status start_remote(const JobPtr& job);
  void on_remote_submitted(std::uint64_t key, const std::string& handle);
  void on_remote_started(std::uint64_t key);
  void on_remote_output(std::uint64_t key, int shard, const std::string& bytes);
  void on_remote_ended(std::uint64_t key, const ExecutorExit& exit);
  void kill_remote(const JobPtr& job, std::chrono::milliseconds grace);
  // Open: Slurm jobs of dead hosts, given to this host by the store, are followed again.
  void adopt_remote(std::vector<StoredJob> rows);
  // How long a shutdown waits before its SIGKILL backstop: the grace period and a second, and
  // for Slurm jobs time for scancel and the next poll (kRemoteShutdown).
  std::chrono::milliseconds shutdown_budget() const;
  // What since-last and the other modes read of a job's shards (caller side).
  Result<OutputChunk> read_shards(std::uint64_t key, const std::string& log_path, int shards,
                                  const ReadRequest& request, bool running);
  // Records output that is already on disk (written by the executor): counters, tail, watch.
  void observe_output(const JobPtr& job, std::string_view chunk, std::size_t written,
                      LineSplitter& lines);

  // ---- lane thread: kill, shutdown, reaping (lane_kill.cc) ----
  void kill_job(const JobPtr& job, EndReason reason, std::string error);
  void signal_job(const JobPtr& job, int sig);
  void arm_grace(const JobPtr& job);
  void sweep_marks(std::vector<std::string> marks, int sig);
  // The job's processes in `tree` by its trace; updates the trace (process_tree.h).
  std::vector<pid_t> traced_members(const JobPtr& job, const ProcessTree& tree);
  bool signal_traced(const JobPtr& job, int sig, const ProcessTree* tree = nullptr);
  void sweep_leftovers(std::vector<JobPtr> jobs, int sig);
  void adopt_orphans();
  // The watchdog (started on first use; null when disabled or it cannot start).
  Watchdog* watchdog();
  // Tells the watchdog of trace members added since `before`, or that none is left.
  void report_trace(const JobPtr& job, const std::map<pid_t, std::uint64_t>& before);
  void begin_shutdown(std::function<void()> on_complete);
  void check_shutdown_complete();
  void complete_shutdown();
  void watch_children();
  bool anything_left();
  void watch_shutdown_signals();
  void watch_cgroup_events();
  void watch_leftovers(const JobPtr& job);

  LaneOptions options_;
  std::unique_ptr<Store> store_;
  HostId host_;
  std::string mark_prefix_;  // "<store uuid>:"
  JobEnvironment env_;
  UniqueFd devnull_;
  std::optional<rlimit> child_nofile_;  // restored in jobs when the lane raised the limit
  NoteQueue notes_;

  asio::io_context io_;
  // Lane thread only below, until mu_.
  asio::signal_set sigchld_;
  asio::signal_set shutdown_signals_;
  asio::steady_timer shutdown_timer_;
  asio::posix::stream_descriptor inotify_;
  std::map<int, std::uint64_t> cgroup_watches_;  // inotify wd -> job
  std::unique_ptr<CgroupTree> cgroups_;
  bool async_spawn_ = false;  // spawn_process_async() works here
  std::vector<std::unique_ptr<ChildStack>> free_stacks_;
  std::vector<char> read_buffer_;
  Scheduler scheduler_;              // queued jobs: which may start (jobs that start hold a slot)
  bool start_posted_ = false;        // a start_batch() is queued
  bool spawn_transient_ = false;     // the last spawn() failed for want of fds or processes
  std::size_t fd_budget_ = 1024;     // fds jobs may use: the soft limit minus a reserve
  std::unique_ptr<RowWriter> rows_;  // the store's batched writes (null only if open failed)
  bool flush_now_ = false;  // a job without a row started: write it at the end of the batch
  std::unordered_map<pid_t, JobPtr> leaders_;  // leaders not reaped yet
  std::size_t pending_sweeps_ = 0;             // marker sweeps waiting for their SIGKILL
  asio::steady_timer orphan_timer_;            // adopt_orphans() after leaders without cgroup exit
  bool orphan_scan_armed_ = false;
  std::vector<JobPtr> recent_exits_;    // leaders without a cgroup gone since the last scan
  std::unique_ptr<Watchdog> watchdog_;  // started with the first job (watchdog.h)
  bool watchdog_failed_ = false;        // it could not start: not tried again
  std::size_t pending_graces_ = 0;      // jobs waiting for their SIGKILL
  bool shutting_down_ = false;
  bool closing_ = false;  // the destructor's shutdown: the lane will not be used again
  std::vector<std::function<void()>> shutdown_waiters_;
  // Declared in this order so the executor (whose thread calls the events) goes first.
  std::unique_ptr<ExecutorEvents> remote_events_;  // a RemoteEvents
  std::unique_ptr<Executor> slurm_;
  std::atomic<std::size_t> remote_live_{0};  // Slurm jobs started and not yet ended

  // Job ids: taken from blocks reserved in the store, so that submit() does no I/O for most
  // jobs (the row itself is written by the lane thread, batched).
  std::mutex ids_mu_;
  std::uint64_t next_id_ = 0, end_id_ = 0;  // [next_id_, end_id_) reserved and unused
  std::int64_t id_block_ = 4;               // the next block's size: doubles up to kMaxIdBlock

  mutable std::mutex mu_;
  std::condition_variable status_cv_;
  std::map<std::uint64_t, JobPtr> jobs_;  // this host's jobs, by id
  std::size_t running_ = 0;               // for running_count()
  bool closed_ = false;                   // the destructor has begun

  std::recursive_mutex observer_mu_;
  std::function<void(const JobInfo&)> observer_;

  std::mutex cursors_mu_;
  std::map<std::pair<std::uint64_t, std::string>, std::uint64_t> cursors_;

  std::thread thread_;
};

}  // namespace meanwhile
