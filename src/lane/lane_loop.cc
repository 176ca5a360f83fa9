// The lane thread: a job's life cycle.
//
//   queued --(slot free, `after` jobs succeeded)--> running --(leader exits)--> exited
//     |  \--(an `after` job did not succeed)--> skipped          |--(kill)-----> killed
//     |---(kill, or host shutdown)--> killed                     |--(timeout)--> timed_out
//     \---(spawn fails)--> failed_to_start                       (host died: `lost`, set by
//                                                                 the next host at open)
// A terminal job may still have leftovers (descendants holding its output pipe, or processes
// in its cgroup): they stay attached (LiveJob) until they are gone or killed.
#include <fcntl.h>
#include <signal.h>
#include <sys/inotify.h>
#include <unistd.h>
#include "lane/pidfd.h"

#include <asio/post.hpp>
#include <cerrno>
#include <cstring>

#include "lane/lane_impl.h"
#include "lane/spawn.h"

namespace meanwhile {

namespace {

std::string end_text(const JobInfo& info) {
  std::string text = to_string(info.status);
  if (info.exit_code) text += " with code " + std::to_string(*info.exit_code);
  if (info.term_signal) text += " by signal " + std::to_string(*info.term_signal);
  if (!info.error.empty()) text += ": " + info.error;
  return text;
}

constexpr std::size_t kFreeStacks = 32;  // child stacks kept for reuse

// A host that closed its stdio gets pipes on fds 0-2; the child dup2()s onto those.
void keep_above_stdio(UniqueFd& fd) {
  if (fd.get() >= 0 && fd.get() < 3) {
    int high = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
    if (high >= 0) fd.reset(high);
  }
}

// Failures that an exit of another job may cure.
// Out of fds, processes or memory: the job waits for a running one to end instead of failing.
bool is_transient(int err) {
  return posix_error_code(err) == ErrorCode::resource_exhausted;
}

}  // namespace

void Lane::Impl::on_submitted(const JobPtr& job) {
  mark_dirty(job);  // its first row
  if (is_terminal(job->info.status)) return;
  if (shutting_down_) {
    finish(job, JobStatus::killed, {}, "the host shut down before the job started");
    return;
  }
  if (!job->skip_reason.empty()) {
    finish(job, JobStatus::skipped, {}, job->skip_reason);
    return;
  }
  std::vector<std::uint64_t> waits_for;
  for (const JobId& dep_id : job->info.spec.after) {
    auto key = parse_id(dep_id);
    JobPtr dep = key ? find(*key) : nullptr;
    if (!dep) continue;  // an earlier host's job, checked at submit
    if (!is_terminal(dep->info.status)) {
      waits_for.push_back(dep->key);
    } else if (!dep->info.succeeded()) {
      finish(job, JobStatus::skipped, {},
             "job " + dep_id + " did not succeed (" + end_text(dep->info) + ")");
      return;
    }
  }
  scheduler_.add(job->key, job->info.spec.priority, waits_for);
  schedule();
}

// Starts happen in small batches, each its own handler: a burst of submits must not keep the
// loop from reaping (every unreaped job holds a process and three fds).
void Lane::Impl::schedule() {
  if (start_posted_ || !scheduler_.has_ready()) return;
  start_posted_ = true;
  asio::post(io_, [this] { start_batch(); });
}

std::size_t Lane::Impl::slot_limit() const {
  // "Unlimited" is still bounded by the fds a running job needs (pipe, pidfd, log, stdin).
  std::size_t by_fds = fd_budget_ / 4;
  return options_.max_slots == 0 ? by_fds : std::min(options_.max_slots, by_fds);
}

void Lane::Impl::start_batch() {
  start_posted_ = false;
  start_some();
  // A job that runs has its row in the store before the lane does anything else: a host
  // killed now leaves a row for the next host to find its processes by. The children are
  // exec'ing meanwhile.
  if (flush_now_) {
    flush_now_ = false;
    (void)rows_->flush();
  }
}

void Lane::Impl::start_some() {
  constexpr int kBatch = 8;
  for (int started = 0; started < kBatch; ++started) {
    if (shutting_down_) return;
    auto key = scheduler_.take(slot_limit());
    if (!key) return;
    JobPtr job = find(*key);
    if (!job || job->info.status != JobStatus::queued) {  // not expected: ended jobs left it
      (void)scheduler_.ended(*key, false);
      continue;
    }
    if (!start(job)) {  // out of fds or processes for now: retried after an exit
      scheduler_.put_back(*key);
      return;
    }
    if (!rows_->written(job->key)) flush_now_ = true;
  }
  schedule();
}

// False when the start failed for want of resources that an exit will free: the job stays
// ready. Any other failure ends the job as failed_to_start.
bool Lane::Impl::start(const JobPtr& job) {
  job->live = std::make_unique<LiveJob>(io_);
  spawn_transient_ = false;
  auto started = is_remote(*job) ? start_remote(job) : spawn(job);
  if (started) return true;
  job->output.close_log();
  if (job->live->cgroup) cgroups_->release(std::move(job->live->cgroup));
  job->live.reset();
  // Another job holding a slot (beside this one) will free resources when it ends.
  if (spawn_transient_ && scheduler_.running() > 1) return false;
  finish(job, JobStatus::failed_to_start, {}, started.error());
  return true;
}

Status Lane::Impl::spawn(const JobPtr& job) {
  LiveJob& live = *job->live;
  const JobInfo& info = job->info;  // the lane thread is its only writer
  job->output.set_log_path(info.log_path);
  ::unlink(info.log_path.c_str());  // a stale log of a reset data directory; usually ENOENT

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) {
    spawn_transient_ = is_transient(errno);
    return posix_error("cannot start: pipe2", errno);
  }
  UniqueFd output_read(fds[0]), output_write(fds[1]);
  keep_above_stdio(output_write);
  ::fcntl(output_read.get(), F_SETFL, O_NONBLOCK);
  UniqueFd input_read, input_write;
  int stdin_fd = devnull_.get();
  if (info.spec.stdin_mode == StdinMode::pipe) {
    if (::pipe2(fds, O_CLOEXEC) < 0) {
      spawn_transient_ = is_transient(errno);
      return posix_error("cannot start: pipe2", errno);
    }
    input_read.reset(fds[0]);
    input_write.reset(fds[1]);
    keep_above_stdio(input_read);
    ::fcntl(input_write.get(), F_SETFL, O_NONBLOCK);
    stdin_fd = input_read.get();
  }
  if (cgroups_) live.cgroup = cgroups_->acquire();

  // Everything the child reads lives in `pending` (an async child reads it after we return).
  auto pending = std::make_unique<PendingSpawn>();
  pending->env = env_.build(info.spec.env, info.id, job->mark, info.spec.cwd);
  pending->command = info.spec.command;
  pending->cwd = info.spec.cwd;
  pending->argv[0] = pending->sh;
  pending->argv[1] = pending->dash_c;
  pending->argv[2] = pending->command.data();
  SpawnRequest& request = pending->request;
  request.argv = pending->argv;
  if (options_.direct_exec) {
    pending->direct = plan_direct_exec(pending->command, pending->env.get("PATH"));
  }
  if (pending->direct) {
    for (std::string& word : pending->direct->argv) pending->direct_argv.push_back(word.data());
    pending->direct_argv.push_back(nullptr);
    for (const std::string& path : pending->direct->candidates) {
      pending->direct_paths.push_back(path.c_str());
    }
    pending->direct_paths.push_back(nullptr);
    request.direct_argv = pending->direct_argv.data();
    request.direct_paths = pending->direct_paths.data();
  }
  request.envp = pending->env.envp.data();
  request.cwd = pending->cwd.c_str();
  request.stdin_fd = stdin_fd;
  request.output_fd = output_write.get();
  request.cgroup_dir_fd = live.cgroup ? live.cgroup->dir.get() : -1;
  request.cgroup_procs_fd = live.cgroup ? live.cgroup->procs.get() : -1;
  request.nofile = child_nofile_ ? &*child_nofile_ : nullptr;

  auto spawned = start_async(job, pending);
  if (!spawned && !spawn_transient_ && !async_spawn_) {
    // No asynchronous spawn here (or it just failed for good): vfork, waiting for execve.
    auto reaper = ChildReaper::instance().lock();
    spawned = spawn_process(request);
    if (!spawned) {
      // Only the host's own pipe2()/vfork() failing for want of resources is transient: what the
      // child reports (exec, chdir) is the job's own failure, and carries ErrorCode::internal.
      spawn_transient_ = spawned.code() == ErrorCode::resource_exhausted;
      pending->resolved = true;
      return spawned.error_info();
    }
    ChildReaper::instance().track_locked(spawned->pid, this);
    pending->resolved = true;  // vfork returned after execve: nothing is read any more
  } else if (!spawned) {
    return spawned.error_info();
  }
  const pid_t pid = spawned->pid;
  output_write.reset();  // the job holds the write end now: EOF once it (and its heirs) close it
  input_read.reset();

  if (live.cgroup && !spawned->in_cgroup) {
    cgroups_->release(std::move(live.cgroup));
    cgroups_.reset();  // it cannot join cgroups here (permissions): stop trying
  }
  leaders_[pid] = job;
  live.pid = pid;
  if (!live.cgroup) {
    std::lock_guard lock(mu_);
    job->trace.ids.insert(pid);  // the leader made its own session and group (setsid)
  }
  // Async leaders come with their pidfd. Without one (vfork, fd limit) the exit still arrives
  // through SIGCHLD.
  if (!live.pidfd.is_open()) {
    int pidfd = sys::pidfd_open(pid);
    if (pidfd >= 0) live.pidfd.assign(pidfd);
  }
  if (live.pidfd.is_open()) watch_leader(job);
  // A job in a cgroup is covered by the lane's cgroup tree, which the watchdog (started with the
  // first job) knows from its start: nothing to send per job.
  Watchdog* dog = watchdog();
  if (dog != nullptr && !live.cgroup) {
    dog->add_job(job->mark, pid, live.pidfd.is_open() ? live.pidfd.native_handle() : -1);
  }
  live.output.assign(output_read.release());
  if (input_write) live.input.assign(input_write.release());
  live.last_output = SteadyClock::now();
  schedule_read(job);
  if (info.spec.timeout) {
    live.timeout.expires_after(*info.spec.timeout);
    live.timeout.async_wait([this, job](const asio::error_code& ec) {
      if (ec || !job->live || job->live->leader_reaped) return;
      kill_job(job, EndReason::timed_out,
               "timed out after " + std::to_string(job->info.spec.timeout->count()) + " ms");
    });
  }
  arm_stall(job, live.last_output + options_.stall_after);
  if (!job->stdin_pending.empty() || job->stdin_close_requested) pump_input(job);
  if (live.pending) {
    watch_spawn_report(job);  // `running` once the child has exec'd
  } else {
    mark_running(job);  // vfork returned after execve
  }
  return Ok{};
}

// Starts the job's leader without waiting for its execve() (spawn_async.cc). On failure,
// spawn_transient_ says whether an exit may cure it; async_spawn_ turns false when this
// machine refuses it for good (then the caller falls back on vfork).
Result<Spawned> Lane::Impl::start_async(const JobPtr& job, std::unique_ptr<PendingSpawn>& pending) {
  if (!async_spawn_) return make_error("asynchronous spawn unavailable");
  LiveJob& live = *job->live;
  if (!free_stacks_.empty()) {
    pending->stack = std::move(free_stacks_.back());
    free_stacks_.pop_back();
  } else {
    pending->stack = std::make_unique<ChildStack>();
  }
  auto reaper = ChildReaper::instance().lock();
  const bool into_cgroup = live.cgroup != nullptr;
  auto started = spawn_process_async(pending->request, *pending->stack, into_cgroup);
  int err = started ? 0 : errno;
  bool in_cgroup = into_cgroup && started.ok();
  if (!started && into_cgroup && !is_transient(err)) {
    started = spawn_process_async(pending->request, *pending->stack, false);  // no cgroup then
    err = started ? 0 : errno;
  }
  if (!started) {
    reaper.unlock();
    free_stacks_.push_back(std::move(pending->stack));  // no child: the stack is free
    spawn_transient_ = is_transient(err);
    if (!spawn_transient_) async_spawn_ = false;  // e.g. clone3 forbidden: vfork from now on
    return started.error_info();
  }
  ChildReaper::instance().track_locked(started->pid, this);
  reaper.unlock();
  live.report.assign(started->report.release());
  live.pidfd.assign(started->pidfd.release());
  live.pending = std::move(pending);
  return Spawned{started->pid, in_cgroup};
}

void Lane::Impl::watch_spawn_report(const JobPtr& job) {
  job->live->report.async_wait(asio::posix::stream_descriptor::wait_read,
                               [this, job](const asio::error_code& ec) {
                                 if (ec || !job->live || !job->live->pending) return;
                                 resolve_spawn(job);
                                 if (!job->live) return;
                                 if (job->live->pending) {
                                   watch_spawn_report(job);
                                 } else if (job->live->spawn_error.empty()) {
                                   mark_running(job);
                                 }  // else: failed_to_start when the child's exit is reaped
                               });
}

// The leader has exec'd: the job is running.
void Lane::Impl::mark_running(const JobPtr& job) {
  LiveJob& live = *job->live;
  if (job->info.status != JobStatus::queued) return;
  {
    std::lock_guard lock(mu_);
    job->info.status = JobStatus::running;
    job->info.pid = live.pid;
    job->info.started_at = WallClock::now();
    job->info.output_open = !live.output_eof;
    job->cgroup_path = live.cgroup ? live.cgroup->path : std::string();
    ++running_;
  }
  status_cv_.notify_all();
  notify_status(job);
  mark_dirty(job);
}

// Reads the child's reports; at EOF the child has exec'd (or exited): its memory is free.
void Lane::Impl::resolve_spawn(const JobPtr& job) {
  LiveJob& live = *job->live;
  PendingSpawn& pending = *live.pending;
  read_spawn_report(live.report.native_handle(), pending.cwd.c_str(), &pending.outcome);
  if (!pending.outcome.done) return;
  pending.resolved = true;
  if (!pending.outcome.error.empty()) live.spawn_error = pending.outcome.error;
  if (free_stacks_.size() < kFreeStacks) free_stacks_.push_back(std::move(pending.stack));
  live.pending.reset();
  asio::error_code ignored;
  live.report.close(ignored);
}

void Lane::Impl::watch_leader(const JobPtr& job) {
  job->live->pidfd.async_wait(
      asio::posix::stream_descriptor::wait_read, [this, job](const asio::error_code& ec) {
        if (ec || !job->live || job->live->leader_reaped) return;
        auto status =
            ChildReaper::instance().reap_leader(job->live->pid, job->live->pidfd.native_handle());
        // nullopt: a SIGCHLD handler reaped it and posted the status.
        if (status) on_leader_exit(job, *status);
      });
}

void Lane::Impl::leader_reaped(pid_t pid, ExitStatus status) {
  asio::post(io_, [this, pid, status] {
    auto it = leaders_.find(pid);
    if (it == leaders_.end()) return;
    JobPtr job = it->second;  // on_leader_exit erases the entry
    on_leader_exit(job, status);
  });
}

void Lane::Impl::on_leader_exit(const JobPtr& job, ExitStatus exit) {
  if (!job->live || job->live->leader_reaped) return;
  LiveJob& live = *job->live;
  leaders_.erase(live.pid);
  if (!live.cgroup && live.spawn_error.empty()) {
    // Its children were adopted by the host: learn which are the job's before it forgets.
    recent_exits_.push_back(job);
    if (!orphan_scan_armed_) {
      orphan_scan_armed_ = true;
      orphan_timer_.expires_after(std::chrono::milliseconds(20));
      orphan_timer_.async_wait([this](const asio::error_code& ec) {
        orphan_scan_armed_ = false;
        if (!ec) adopt_orphans();
      });
    }
  }
  if (live.pending) resolve_spawn(job);             // the child is gone: its reports are all there
  if (live.spawn_error.empty()) mark_running(job);  // it did run, however briefly
  // What the job printed before it ended belongs in its note (`sleep 300 & echo hi`).
  drain_output_now(job);
  live.leader_reaped = true;
  if (live.pidfd.is_open()) {
    asio::error_code ignored;
    live.pidfd.close(ignored);
  }
  live.timeout.cancel();
  live.stall.cancel();
  flush_matches(job);
  JobStatus status = JobStatus::exited;
  std::string error;
  if (!live.spawn_error.empty()) {
    status = JobStatus::failed_to_start;
    error = live.spawn_error;
  } else if (job->end_reason == EndReason::killed) {
    status = JobStatus::killed;
    error = job->end_error;
  } else if (job->end_reason == EndReason::timed_out) {
    status = JobStatus::timed_out;
    error = job->end_error;
  }
  finish(job, status, exit, std::move(error));
  check_done(job);
}

void Lane::Impl::finish(const JobPtr& job, JobStatus status, const ExitStatus& exit,
                        std::string error) {
  const bool was_running = job->info.status == JobStatus::running;
  {
    // One critical section: whoever sees the terminal status also finds the note queued.
    std::lock_guard lock(mu_);
    JobInfo& info = job->info;
    info.status = status;
    info.ended_at = WallClock::now();
    info.exit_code = exit.exit_code;
    info.term_signal = exit.term_signal;
    if (!error.empty()) info.error = std::move(error);
    info.stalled = false;
    if (was_running) --running_;
    Note note;
    note.kind = NoteKind::finished;
    note.job = info.id;
    note.priority = info.succeeded() ? 2 : 3;
    note.info = snapshot_locked(*job);
    note.preview = job->output.preview(info.log_path);
    notes_.push(std::move(note));
  }
  status_cv_.notify_all();
  notify_status(job);
  mark_dirty(job);
  release_dependents(*job);
  schedule();
  if (shutting_down_) check_shutdown_complete();
}

// Frees the job's slot; dependents that can no longer run end as skipped.
void Lane::Impl::release_dependents(const Job& job) {
  std::vector<std::uint64_t> cannot_run = scheduler_.ended(job.key, job.info.succeeded());
  while (!cannot_run.empty()) {
    const std::uint64_t key = cannot_run.back();
    cannot_run.pop_back();
    JobPtr dependent = find(key);
    if (dependent && dependent->info.status == JobStatus::queued) {
      finish(dependent, JobStatus::skipped, {},  // releases its own dependents
             "job " + job.info.id + " did not succeed (" + end_text(job.info) + ")");
    } else {  // not expected (a job leaves the scheduler when it ends): release it anyway
      auto more = scheduler_.ended(key, false);
      cannot_run.insert(cannot_run.end(), more.begin(), more.end());
    }
  }
}

void Lane::Impl::check_done(const JobPtr& job) {
  if (!job->live) return;
  LiveJob& live = *job->live;
  if (!live.leader_reaped || !live.output_eof || live.grace_pending) return;
  if (live.cgroup) {
    if (CgroupTree::populated(*live.cgroup)) {
      watch_leftovers(job);  // processes that closed their output are still in the cgroup
      return;
    }
    if (live.cgroup_watch >= 0) {
      ::inotify_rm_watch(inotify_.native_handle(), live.cgroup_watch);
      cgroup_watches_.erase(live.cgroup_watch);
      live.cgroup_watch = -1;
    }
    if (cgroups_) {
      cgroups_->release(std::move(live.cgroup));
    } else {
      live.cgroup.reset();
    }
  }
  {
    std::lock_guard lock(mu_);
    job->info.last_line = job->output.last_line();
    job->output.release_memory();
    job->output_released = true;
    job->cgroup_path.clear();
    job->stdin_closed = true;
    job->stdin_queued = 0;
  }
  job->output.close_log();
  std::string().swap(job->stdin_pending);
  job->live.reset();
  mark_dirty(job);
}

void Lane::Impl::notify_status(const JobPtr& job) {
  std::lock_guard observer_lock(observer_mu_);
  if (!observer_) return;
  JobInfo info;
  {
    std::lock_guard lock(mu_);
    info = snapshot_locked(*job);
  }
  try {
    observer_(info);
  } catch (...) {
    // An observer must not take the lane down.
  }
}

void Lane::Impl::push_note(const JobPtr& job, NoteKind kind, int priority,
                           std::vector<std::string> lines, std::string preview) {
  Note note;
  note.kind = kind;
  note.job = job->info.id;
  note.priority = priority;
  note.lines = std::move(lines);
  note.preview = std::move(preview);
  std::lock_guard lock(mu_);
  note.info = snapshot_locked(*job);
  notes_.push(std::move(note));
}

}  // namespace meanwhile
