#include "lane/slurm_executor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <fstream>
#include <set>

#include "lane/unique_fd.h"

namespace meanwhile {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadChunk = 1 << 20;     // per read of an output file
constexpr std::size_t kReadPerPoll = 16 << 20;  // per shard and poll: others get a turn
constexpr int kForgottenPolls = 2;              // polls without a record before the end

std::string base_of(const std::string& log_path) {
  const std::string suffix = ".log";
  if (log_path.size() > suffix.size() &&
      log_path.compare(log_path.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return log_path.substr(0, log_path.size() - suffix.size());
  }
  return log_path;
}

// 'text' for /bin/sh, whatever it holds.
std::string sh_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

Status write_private_file(const std::string& path, const std::string& text, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd) return posix_error("cannot write " + path, errno);
  std::string_view left = text;
  while (!left.empty()) {
    const ssize_t n = ::write(fd.get(), left.data(), left.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return posix_error("cannot write " + path, errno);
    left.remove_prefix(static_cast<std::size_t>(n));
  }
  ::fchmod(fd.get(), mode);
  return Ok{};
}

// The exit code a shard's batch script recorded, if it got that far.
std::optional<int> recorded_exit(const std::string& exit_path, int shard) {
  std::ifstream in(exit_path + "." + std::to_string(shard));
  std::string text;
  if (!std::getline(in, text)) return std::nullopt;
  int code = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), code);
  if (ec != std::errc() || end != text.data() + text.size() || code < 0 || code > 255)
    return std::nullopt;
  return code;
}

// One shard's end, from the recorded exit code or else from Slurm's record.
struct ShardEnd {
  enum Kind { exited, signalled, timed_out, cancelled, unknown } kind = unknown;
  int value = 0;  // exit code or signal
};

ShardEnd shard_end(const std::optional<int>& recorded, const SlurmTask* task) {
  if (recorded) return {ShardEnd::exited, *recorded};
  if (task == nullptr || !slurm_state_final(task->state)) return {};
  if (task->state == "TIMEOUT" || task->state == "DEADLINE") return {ShardEnd::timed_out, 0};
  if (task->state == "CANCELLED") return {ShardEnd::cancelled, 0};
  if ((task->raw_status & 0x7f) != 0) return {ShardEnd::signalled, task->raw_status & 0x7f};
  return {ShardEnd::exited, (task->raw_status >> 8) & 0xff};
}

std::string describe(const ShardEnd& end) {
  switch (end.kind) {
    case ShardEnd::exited:
      return "exited " + std::to_string(end.value);
    case ShardEnd::signalled:
      return "killed by signal " + std::to_string(end.value);
    case ShardEnd::timed_out:
      return "timed out";
    case ShardEnd::cancelled:
      return "cancelled";
    case ShardEnd::unknown:
      break;
  }
  return "ended with no exit status recorded";
}

}  // namespace

std::string shard_log_path(const std::string& log_path, int shard) {
  return base_of(log_path) + ".shard-" + std::to_string(shard) + ".log";
}

struct SlurmExecutor::Run {
  ExecutorJob job;
  std::string slurm_id;
  std::string command_path, exit_path, script_path;
  bool started = false;
  bool kill_requested = false;
  std::optional<Clock::time_point> kill_at;  // SIGKILL then
  std::map<int, std::uint64_t> offsets;      // shard -> bytes of output reported
  int unlisted_polls = 0;                    // polls in which squeue did not list the job
  bool verify_name = false;  // reattached: the handle came from a store, which may lie
  int shard_count() const { return job.shards > 0 ? job.shards : 1; }
  std::string output_path(int shard) const {
    return job.shards > 0 ? shard_log_path(job.log_path, shard) : job.log_path;
  }
};

SlurmExecutor::SlurmExecutor(ExecutorEvents& events, Options options)
    : events_(events), options_(options), tools_(options.tool_timeout) {
  thread_ = std::thread([this] { loop(); });
}

SlurmExecutor::~SlurmExecutor() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::size_t SlurmExecutor::active() const {
  std::lock_guard lock(mu_);
  return active_;
}

void SlurmExecutor::start(ExecutorJob job) {
  std::lock_guard lock(mu_);
  ++active_;
  commands_.push_back([this, job = std::move(job)]() mutable {
    auto run = std::make_unique<Run>();
    run->job = std::move(job);
    Run& ref = *run;
    runs_[ref.job.key] = std::move(run);
    submit(ref);
  });
  wake_.notify_all();
}

void SlurmExecutor::reattach(ExecutorJob job, std::string handle, std::uint64_t output_offset) {
  std::lock_guard lock(mu_);
  ++active_;
  commands_.push_back([this, job = std::move(job), handle = std::move(handle), output_offset] {
    auto run = std::make_unique<Run>();
    run->job = job;
    run->slurm_id = handle;
    const std::string base = base_of(job.log_path);
    run->exit_path = base + ".exit";
    run->started = true;  // said by the host that started it, or said again below
    run->verify_name = true;
    for (int shard = 0; shard < run->shard_count(); ++shard) {
      run->offsets[shard] = job.shards > 0 ? 0 : output_offset;
    }
    runs_[job.key] = std::move(run);
  });
  wake_.notify_all();
}

void SlurmExecutor::kill(std::uint64_t key, std::chrono::milliseconds grace) {
  std::lock_guard lock(mu_);
  commands_.push_back([this, key, grace] {
    auto it = runs_.find(key);
    if (it == runs_.end() || it->second->kill_requested) return;
    Run& run = *it->second;
    run.kill_requested = true;
    run.kill_at = Clock::now() + grace;
    if (run.verify_name) return;  // signalled once the handle is known to be this job's
    (void)tools_.cancel(run.slurm_id, /*pending_only=*/true);  // never starts
    (void)tools_.signal(run.slurm_id, SIGTERM);  // unreachable now: SIGKILL retries later
  });
  wake_.notify_all();
}

std::string SlurmExecutor::batch_script(const ExecutorJob& job, const std::string& command_path,
                                        const std::string& exit_path) {
  std::string script =
      "#!/bin/sh\n# meanwhile task " + job.id + ": the command is in " + command_path + "\n";
  if (job.shards > 0) {
    script +=
        "MEANWHILE_SHARD=\"$SLURM_ARRAY_TASK_ID\"; MEANWHILE_SHARDS=" + std::to_string(job.shards) +
        "; export MEANWHILE_SHARD MEANWHILE_SHARDS\n";
  }
  script += "/bin/sh " + sh_quote(command_path) + " </dev/null\n";
  script += "rc=$?\n";
  script += "printf '%s\\n' \"$rc\" > " + sh_quote(exit_path) + ".\"${SLURM_ARRAY_TASK_ID:-0}\"\n";
  script += "exit \"$rc\"\n";
  return script;
}

void SlurmExecutor::submit(Run& run) {
  const ExecutorJob& job = run.job;
  const std::string base = base_of(job.log_path);
  run.command_path = base + ".command";
  run.exit_path = base + ".exit";
  run.script_path = base + ".slurm.sh";
  auto fail = [&](const Error& error) {
    ExecutorExit exit;
    exit.status = JobStatus::failed_to_start;
    exit.error = error.message;
    const std::uint64_t key = job.key;
    {
      std::lock_guard lock(mu_);
      --active_;  // before ended(): whoever it wakes sees the job gone
    }
    events_.ended(key, exit);
    runs_.erase(key);
  };
  if (auto st = write_private_file(run.command_path, job.command + "\n", 0600); !st)
    return fail(st.error_info());
  if (auto st = write_private_file(run.script_path,
                                   batch_script(job, run.command_path, run.exit_path), 0700);
      !st)
    return fail(st.error_info());
  for (int shard = 0; shard < run.shard_count(); ++shard) {
    ::unlink((run.exit_path + "." + std::to_string(shard)).c_str());  // a reset data directory's
    run.offsets[shard] = 0;
  }
  SlurmSubmit request;
  request.job_name = "meanwhile-" + job.id;
  request.script_path = run.script_path;
  request.cwd = job.cwd;
  request.output_pattern = job.shards > 0 ? base + ".shard-%a.log" : job.log_path;
  request.partition = job.partition;
  request.cpus = job.cpus;
  request.memory = job.memory;
  request.shards = job.shards;
  if (job.timeout) {
    const auto minutes = (job.timeout->count() + 59999) / 60000;
    request.time_limit_minutes = static_cast<int>(std::max<long long>(1, minutes));
  }
  request.env = job.env;
  auto id = tools_.submit(request);
  if (!id) return fail(id.error_info());
  run.slurm_id = *id;
  events_.submitted(job.key, run.slurm_id);
}

void SlurmExecutor::loop() {
  auto next_poll = Clock::now();
  for (;;) {
    std::deque<std::function<void()>> commands;
    {
      std::unique_lock lock(mu_);
      auto ready = [&] { return stopping_ || !commands_.empty(); };
      if (runs_.empty()) {
        wake_.wait(lock, ready);
      } else {
        wake_.wait_until(lock, next_poll, ready);
      }
      if (stopping_) return;
      commands.swap(commands_);
    }
    for (auto& command : commands) command();
    if (!runs_.empty() && Clock::now() >= next_poll) {
      poll();
      next_poll = Clock::now() + options_.poll_interval;
    }
  }
}

void SlurmExecutor::read_output(Run& run) {
  for (int shard = 0; shard < run.shard_count(); ++shard) {
    const std::string path = run.output_path(shard);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!fd) continue;  // not created yet (the task has not started)
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    std::uint64_t& offset = run.offsets[shard];
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size < offset) offset = 0;  // truncated: read it again from the start
    std::string buffer;
    std::size_t budget = kReadPerPoll;
    while (offset < size && budget > 0) {
      buffer.resize(std::min<std::uint64_t>({kReadChunk, size - offset, budget}));
      const ssize_t n = ::pread(fd.get(), buffer.data(), buffer.size(), static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      offset += static_cast<std::uint64_t>(n);
      budget -= static_cast<std::size_t>(n);
      events_.output(run.job.key, shard,
                     std::string_view(buffer.data(), static_cast<std::size_t>(n)));
    }
  }
}

void SlurmExecutor::poll() {
  std::vector<std::string> ids;
  for (auto& [key, run] : runs_) ids.push_back(run->slurm_id);
  auto listed = tools_.query(ids);
  const bool reachable = listed.ok();  // otherwise: keep every state, ask again next poll
  std::map<std::string, std::vector<SlurmTask>> by_job;
  if (reachable)
    for (SlurmTask& task : *listed) by_job[task.array_id].push_back(std::move(task));

  std::vector<std::uint64_t> done;
  const auto now = Clock::now();
  for (auto& [key, run_ptr] : runs_) {
    Run& run = *run_ptr;
    read_output(run);
    if (run.kill_at && now >= *run.kill_at && !run.verify_name) {
      // Past the grace: SIGKILL what is left and cancel the job; again next poll if Slurm
      // could not be reached.
      if (tools_.signal(run.slurm_id, SIGKILL).ok() || tools_.cancel(run.slurm_id).ok())
        run.kill_at.reset();
    }
    if (!reachable) continue;
    const std::vector<SlurmTask>& tasks = by_job[run.slurm_id];
    if (run.verify_name && !tasks.empty()) {
      // A handle from a store (a repository can ship one) must name this task's own Slurm job:
      // another job is neither followed nor cancelled.
      const std::string expected = "meanwhile-" + run.job.id;
      if (tasks.front().name != expected) {
        ExecutorExit exit;
        exit.status = JobStatus::lost;
        exit.error = "Slurm job " + run.slurm_id + " is not task " + run.job.id +
                     "'s (it is named '" + tasks.front().name.substr(0, 100) +
                     "'): not followed, not cancelled";
        {
          std::lock_guard lock(mu_);
          --active_;
        }
        events_.ended(key, exit);
        done.push_back(key);
        continue;
      }
      run.verify_name = false;
      if (run.kill_requested) {  // asked before the handle was checked
        (void)tools_.cancel(run.slurm_id, /*pending_only=*/true);
        (void)tools_.signal(run.slurm_id, SIGTERM);
      }
    }
    bool live = false;
    for (const SlurmTask& task : tasks) {
      if (!slurm_state_final(task.state) || task.tasks_pending) live = true;
      if (!run.started && task.state != "PENDING" && !task.tasks_pending) {
        run.started = true;
        events_.started(key);
      }
    }
    if (live) continue;
    if (tasks.empty() && ++run.unlisted_polls < kForgottenPolls) {
      // Not listed: forgotten by Slurm, or a controller that answered before it knew the job.
      bool recorded = true;
      for (int shard = 0; shard < run.shard_count(); ++shard)
        recorded = recorded && recorded_exit(run.exit_path, shard).has_value();
      if (!recorded) continue;
    }
    if (!run.started) {  // it ran and ended between two polls
      run.started = true;
      events_.started(key);
    }
    read_output(run);
    finish(run, tasks);
    done.push_back(key);
  }
  for (std::uint64_t key : done) runs_.erase(key);
}

void SlurmExecutor::finish(Run& run, const std::vector<SlurmTask>& tasks) {
  const int count = run.shard_count();
  std::vector<ShardEnd> ends;
  for (int shard = 0; shard < count; ++shard) {
    const SlurmTask* task = nullptr;
    for (const SlurmTask& candidate : tasks) {
      if (candidate.task == (run.job.shards > 0 ? shard : -1) ||
          (run.job.shards == 0 && candidate.job_id == run.slurm_id)) {
        task = &candidate;
      }
    }
    ends.push_back(shard_end(recorded_exit(run.exit_path, shard), task));
  }
  ExecutorExit exit;
  auto any = [&](ShardEnd::Kind kind) {
    for (const ShardEnd& end : ends)
      if (end.kind == kind) return true;
    return false;
  };
  if (run.kill_requested) {
    exit.status = JobStatus::killed;
  } else if (any(ShardEnd::timed_out)) {
    exit.status = JobStatus::timed_out;
    exit.error = "timed out: Slurm's time limit";
    if (run.job.timeout)
      exit.error += " (" + std::to_string((run.job.timeout->count() + 59999) / 60000) + " min)";
  } else if (any(ShardEnd::cancelled)) {
    exit.status = JobStatus::killed;
    exit.error = "cancelled by Slurm";
  } else if (any(ShardEnd::unknown)) {
    exit.status = JobStatus::lost;
    exit.error = "Slurm no longer knows job " + run.slurm_id + " and no exit status was recorded";
  } else {
    exit.status = JobStatus::exited;
    for (const ShardEnd& end : ends) {
      if (end.kind == ShardEnd::exited && end.value != 0 && !exit.exit_code)
        exit.exit_code = end.value;
    }
    if (!exit.exit_code) {
      for (const ShardEnd& end : ends)
        if (end.kind == ShardEnd::signalled && !exit.term_signal) exit.term_signal = end.value;
    }
    if (!exit.exit_code && !exit.term_signal) exit.exit_code = 0;
  }
  if (run.job.shards > 0) {
    int zero = 0;
    std::string others;
    for (int shard = 0; shard < count; ++shard) {
      const ShardEnd& end = ends[static_cast<std::size_t>(shard)];
      if (end.kind == ShardEnd::exited && end.value == 0) {
        ++zero;
      } else {
        others += ", shard " + std::to_string(shard) + " " + describe(end);
      }
    }
    exit.summary = std::to_string(count) + " shards: ";
    exit.summary += zero > 0 ? std::to_string(zero) + " exited 0" + others : others.substr(2);
  }
  {
    std::lock_guard lock(mu_);
    --active_;  // before ended(): whoever it wakes sees the job gone
  }
  events_.ended(run.job.key, exit);
}

}  // namespace meanwhile
