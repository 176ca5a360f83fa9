// The lane thread's side of jobs run by a cluster executor (today SlurmExecutor): the
// scheduler still decides when a job starts and the lane still owns its record, notes and
// watch; the executor runs it and reports back on its own thread, and every report is posted
// here so the job's state has one writer, as for local jobs. A remote job has a LiveJob (fold
// and stall timers, line splitters) but no pid, pipe or cgroup: its output is already on disk
// (the engine writes it) and arrives as bytes to observe, not to write.
#include <asio/post.hpp>

#include "lane/lane_impl.h"
#include "lane/slurm_executor.h"

namespace meanwhile {
namespace {

// Shutdown with Slurm jobs: SIGTERM, the grace, SIGKILL and scancel take a few tool calls and
// polls on top of the grace.
constexpr std::chrono::milliseconds kRemoteShutdown{10000};

}  // namespace

class Lane::Impl::RemoteEvents : public ExecutorEvents {
 public:
  explicit RemoteEvents(Impl& lane) : lane_(lane) {}
  void submitted(std::uint64_t key, const std::string& handle) override {
    asio::post(lane_.io_, [this, key, handle] { lane_.on_remote_submitted(key, handle); });
  }
  void started(std::uint64_t key) override {
    asio::post(lane_.io_, [this, key] { lane_.on_remote_started(key); });
  }
  void output(std::uint64_t key, int shard, std::string_view bytes) override {
    asio::post(lane_.io_, [this, key, shard, copy = std::string(bytes)] {
      lane_.on_remote_output(key, shard, copy);
    });
  }
  void ended(std::uint64_t key, const ExecutorExit& exit) override {
    asio::post(lane_.io_, [this, key, exit] { lane_.on_remote_ended(key, exit); });
  }

 private:
  Impl& lane_;
};

Executor& Lane::Impl::slurm() {
  if (!slurm_) {
    remote_events_ = std::make_unique<RemoteEvents>(*this);
    slurm_ = std::make_unique<SlurmExecutor>(*remote_events_, SlurmExecutor::Options{});
  }
  return *slurm_;
}

Status Lane::Impl::start_remote(const JobPtr& job) {
  const JobInfo& info = job->info;
  ExecutorJob run;
  run.key = job->key;
  run.id = info.id;
  run.command = info.spec.command;
  run.cwd = info.spec.cwd;
  EnvBlock env = env_.build(info.spec.env, info.id, job->mark, info.spec.cwd);
  for (char* entry : env.envp)
    if (entry != nullptr) run.env.emplace_back(entry);
  run.log_path = info.log_path;
  run.timeout = info.spec.timeout;
  run.partition = info.spec.partition;
  run.cpus = info.spec.cpus;
  run.memory = info.spec.memory;
  run.shards = info.spec.shards;
  ++remote_live_;
  slurm().start(std::move(run));  // a failure comes back as ended(failed_to_start)
  return Ok{};
}

void Lane::Impl::adopt_remote(std::vector<StoredJob> rows) {
  for (StoredJob& row : rows) {
    auto key = parse_id(row.info.id);
    if (!key) continue;
    JobInfo info = std::move(row.info);
    info.ours = true;
    const std::uint64_t log_cap = info.spec.log_cap_bytes.value_or(options_.log_cap_bytes);
    auto job = std::make_shared<Job>(*key, info, log_cap, options_.tail_bytes);
    if (!info.spec.watch.empty())
      if (auto compiled = WatchRegex::compile(info.spec.watch)) job->watch = std::move(*compiled);
    job->mark = mark_prefix_ + info.id;
    // The executor reads an unsharded job's log on from where the row says; shards from their
    // start (their offsets are not stored), so their counts start again from zero.
    const std::uint64_t resume_at = info.spec.shards > 0 ? 0 : info.bytes_logged;
    if (resume_at > 0) job->output.resume_counts(resume_at, info.lines);
    const bool running = info.status == JobStatus::running;
    {
      std::lock_guard lock(mu_);
      jobs_.emplace(*key, job);
      if (running) ++running_;
    }
    rows_->note_written(*key);  // the row exists: later writes update it
    asio::post(io_, [this, job, bytes = resume_at] {
      scheduler_.add_running(job->key);  // `after` it works, and it ends like any other job
      job->live = std::make_unique<LiveJob>(io_);
      job->live->last_output = SteadyClock::now();
      if (job->info.status == JobStatus::running)
        arm_stall(job, job->live->last_output + options_.stall_after);
      const JobInfo& info = job->info;
      ExecutorJob run;
      run.key = job->key;
      run.id = info.id;
      run.command = info.spec.command;
      run.cwd = info.spec.cwd;
      run.log_path = info.log_path;
      run.timeout = info.spec.timeout;
      run.partition = info.spec.partition;
      run.shards = info.spec.shards;
      ++remote_live_;
      slurm().reattach(std::move(run), info.slurm_job_id, bytes);
    });
  }
}

void Lane::Impl::on_remote_submitted(std::uint64_t key, const std::string& handle) {
  JobPtr job = find(key);
  if (!job) return;
  {
    std::lock_guard lock(mu_);
    job->info.slurm_job_id = handle;
  }
  status_cv_.notify_all();  // wait_started(): the cluster took it
  mark_dirty(job);
}

void Lane::Impl::on_remote_started(std::uint64_t key) {
  JobPtr job = find(key);
  if (!job || !job->live || job->live->leader_reaped) return;
  job->live->last_output = SteadyClock::now();
  mark_running(job);
  arm_stall(job, job->live->last_output + options_.stall_after);
}

void Lane::Impl::on_remote_output(std::uint64_t key, int shard, const std::string& bytes) {
  JobPtr job = find(key);
  if (!job || !job->live) return;
  observe_output(job, bytes, bytes.size(), job->live->shard_lines[shard]);
}

void Lane::Impl::on_remote_ended(std::uint64_t key, const ExecutorExit& exit) {
  JobPtr job = find(key);
  if (remote_live_ > 0) --remote_live_;
  if (!job || !job->live || job->live->leader_reaped) return;
  LiveJob& live = *job->live;
  if (exit.status != JobStatus::failed_to_start) mark_running(job);  // it ran, if briefly
  for (auto& [shard, lines] : live.shard_lines) {
    if (job->watch) lines.finish([&](std::string_view line) { match_line(job, line); });
  }
  live.leader_reaped = true;
  live.output_eof = true;
  live.stall.cancel();
  flush_matches(job);
  {
    std::lock_guard lock(mu_);
    job->info.output_open = false;
    job->info.summary = exit.summary;
  }
  JobStatus status = exit.status;
  std::string error = exit.error;
  // A kill or timeout the lane asked for reads as for a local job.
  if (job->end_reason == EndReason::killed && status != JobStatus::failed_to_start) {
    status = JobStatus::killed;
    error = job->end_error;
  }
  ExitStatus code;
  code.exit_code = exit.exit_code;
  code.term_signal = exit.term_signal;
  finish(job, status, code, std::move(error));
  check_done(job);
}

std::chrono::milliseconds Lane::Impl::shutdown_budget() const {
  auto budget = options_.kill_grace + std::chrono::milliseconds(1000);
  return remote_live_.load() > 0 ? budget + kRemoteShutdown : budget;
}

void Lane::Impl::kill_remote(const JobPtr& job, std::chrono::milliseconds grace) {
  if (slurm_) slurm_->kill(job->key, grace);
}

void Lane::Impl::observe_output(const JobPtr& job, std::string_view chunk, std::size_t written,
                                LineSplitter& lines) {
  LiveJob& live = *job->live;
  {
    std::lock_guard lock(mu_);
    job->output.record(chunk, written);
  }
  live.last_output = SteadyClock::now();
  if (live.stalled) {
    live.stalled = false;
    {
      std::lock_guard lock(mu_);
      job->info.stalled = false;
    }
    if (!live.leader_reaped) arm_stall(job, live.last_output + options_.stall_after);
  }
  if (job->watch) lines.feed(chunk, [&](std::string_view line) { match_line(job, line); });
}

}  // namespace meanwhile
