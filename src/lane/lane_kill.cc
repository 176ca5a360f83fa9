// The lane thread: ending jobs, reaping, host shutdown.
//
// How a kill finds a job's processes (SIGTERM, then SIGKILL after kill_grace, rescanning):
//   - the leader, through its pidfd (its pid cannot be reused before the lane reaps it);
//   - its process group (= the leader's pid, after setsid), while the leader is not reaped;
//   - its cgroup, when it has one: every process it started, whatever they did;
//   - without a cgroup, by parentage (process_tree.h): the host's descendants in the job's
//     sessions and groups (kept signalling after the leader is reaped, while any is left), or
//     below its leader or another member; orphans adopted by the host when a leader exits are
//     attributed to its job by adopt_orphans();
//   - and the marker MEANWHILE_JOB_MARK=<store uuid>:<id> in /proc/*/environ, which
//     descendants inherit unless they clear their environment. Each pid is pinned with a pidfd
//     and re-checked before it is signalled.
// The host's own process group is never signalled.
#include <signal.h>
#include <sys/inotify.h>
#include <unistd.h>
#include "lane/pidfd.h"

#include <asio/post.hpp>
#include <cstdio>
#include <optional>
#include <set>
#include <unordered_set>
#include <utility>

#include "lane/lane_impl.h"
#include "lane/proc.h"

namespace meanwhile {

void Lane::Impl::kill_job(const JobPtr& job, EndReason reason, std::string error) {
  const JobStatus status = job->info.status;
  if (status == JobStatus::queued && !job->live) {
    finish(job, reason == EndReason::timed_out ? JobStatus::timed_out : JobStatus::killed, {},
           error.empty() ? "killed before it started" : std::move(error));
    return;
  }
  if (!is_terminal(status) && job->end_reason == EndReason::none) {  // running (or starting)
    job->end_reason = reason;
    job->end_error = std::move(error);
  }
  if (is_remote(*job)) {  // the executor signals the whole job (every shard), then kills it
    if (job->live && !job->live->leader_reaped) kill_remote(job, options_.kill_grace);
    return;
  }
  if (!job->live) {  // finished and settled: leftovers are found by the marker or the trace
    sweep_leftovers({job}, SIGTERM);
    return;
  }
  signal_job(job, SIGTERM);
  arm_grace(job);
}

void Lane::Impl::signal_job(const JobPtr& job, int sig) {
  LiveJob* live = job->live.get();
  if (is_remote(*job)) {  // nothing of it runs here
    if (sig == SIGKILL && live != nullptr && !live->leader_reaped)
      kill_remote(job, std::chrono::milliseconds(0));
    return;
  }
  const pid_t leader = live != nullptr ? live->pid : 0;
  // Before the leader: once it dies its children are the host's, and their parentage is gone.
  if (live == nullptr || !live->cgroup) signal_traced(job, sig);
  if (live != nullptr && !live->leader_reaped && leader > 0) {
    if (live->pidfd.is_open()) {
      sys::pidfd_send_signal(live->pidfd.native_handle(), sig);
    } else {
      ::kill(leader, sig);
    }
    if (leader != ::getpgrp()) ::kill(-leader, sig);
  }
  if (live != nullptr && live->cgroup && cgroups_) cgroups_->signal(*live->cgroup, sig);
  // The marker too, even with a cgroup: a process that could not join the cgroup (or left it)
  // still carries the job's mark in its environment. Only a kill pays for this /proc scan.
  std::string scratch;
  for (const auto& found : proc::find_marked(job->mark)) {
    if (found.mark == job->mark) proc::signal_if_marked(found.pid, found.mark, sig, scratch);
  }
}

void Lane::Impl::arm_grace(const JobPtr& job) {
  LiveJob& live = *job->live;
  if (live.grace_pending) return;
  live.grace_pending = true;
  ++pending_graces_;
  live.grace.expires_after(options_.kill_grace);
  live.grace.async_wait([this, job](const asio::error_code& ec) {
    --pending_graces_;
    if (!job->live) return;
    job->live->grace_pending = false;
    if (!ec) signal_job(job, SIGKILL);
    check_done(job);
    if (shutting_down_) check_shutdown_complete();
  });
}

std::vector<pid_t> Lane::Impl::traced_members(const JobPtr& job, const ProcessTree& tree) {
  const pid_t leader = job->live && !job->live->leader_reaped ? job->live->pid : 0;
  JobTrace trace;
  {
    std::lock_guard lock(mu_);
    if (job->trace.ids.empty() && leader == 0) return {};
    trace = job->trace;
  }
  std::vector<pid_t> members = tree.members(leader, trace);
  std::map<pid_t, std::uint64_t> before;
  {
    std::lock_guard lock(mu_);
    trace.incomplete |= job->trace.incomplete;
    before = std::exchange(job->trace, std::move(trace)).members;
  }
  report_trace(job, before);
  return members;
}

Watchdog* Lane::Impl::watchdog() {
  if (watchdog_ || watchdog_failed_ || !options_.watchdog) return watchdog_.get();
  WatchdogConfig config;
  config.mark_prefix = mark_prefix_;
  config.db_path = options_.data_dir + "/jobs.db";
  config.data_dir = options_.data_dir;
  if (cgroups_) config.cgroup_tree = cgroups_->path();
  auto started = Watchdog::start(io_, config);
  if (!started) {
    watchdog_failed_ = true;
    std::fprintf(stderr,
                 "meanwhile: %s: if this process is killed, its jobs' processes may "
                 "outlive it until a lane opens this data directory again\n",
                 started.error().c_str());
    return nullptr;
  }
  watchdog_ = std::move(*started);
  return watchdog_.get();
}

void Lane::Impl::report_trace(const JobPtr& job, const std::map<pid_t, std::uint64_t>& before) {
  if (!watchdog_ || !watchdog_->alive()) return;
  for (const auto& [pid, start] : job->trace.members) {
    if (before.count(pid) == 0) {
      watchdog_->add_process(job->mark, pid, start);
      job->watchdog_dropped = false;
    }
  }
  const bool leader_gone = !job->live || job->live->leader_reaped;
  if (leader_gone && job->trace.ids.empty() && job->trace.members.empty() &&
      !job->watchdog_dropped) {
    watchdog_->drop_processes(job->mark);
    job->watchdog_dropped = true;
  }
}

bool Lane::Impl::signal_traced(const JobPtr& job, int sig, const ProcessTree* tree) {
  std::optional<ProcessTree> scanned;
  if (tree == nullptr) tree = &scanned.emplace(ProcessTree::scan(::getpid()));
  bool signalled = false;
  for (pid_t pid : traced_members(job, *tree))
    if (const proc::Stat* st = tree->find(pid))
      signalled |= signal_if_same(pid, st->start_ticks, sig);
  return signalled;
}

// Settled jobs (no LiveJob): their leftovers by marker and by trace; SIGKILL after the grace.
void Lane::Impl::sweep_leftovers(std::vector<JobPtr> jobs, int sig) {
  if (jobs.empty()) return;
  std::vector<std::string> marks;
  bool signalled = false;
  const ProcessTree tree = ProcessTree::scan(::getpid());
  for (const JobPtr& job : jobs) {
    marks.push_back(job->mark);
    signalled |= signal_traced(job, sig, &tree);
  }
  sweep_marks(marks, sig);
  if (sig != SIGTERM || !signalled) return;
  ++pending_sweeps_;
  auto timer = std::make_shared<asio::steady_timer>(io_, options_.kill_grace);
  timer->async_wait([this, timer, jobs = std::move(jobs)](const asio::error_code&) mutable {
    --pending_sweeps_;
    const ProcessTree tree = ProcessTree::scan(::getpid());
    for (const JobPtr& job : jobs) signal_traced(job, SIGKILL, &tree);
    if (shutting_down_) check_shutdown_complete();
  });
}

// Shortly after leaders without a cgroup exited (one /proc scan per 20 ms window): the host's
// children that no job's trace claims were adopted from those leaders. With one such leader (and
// one lane in this process) they are its job's; otherwise they cannot be attributed, and those jobs
// say so.
void Lane::Impl::adopt_orphans() {
  std::vector<JobPtr> exited = std::move(recent_exits_);
  recent_exits_.clear();
  if (exited.empty()) return;
  ProcessTree tree = ProcessTree::scan(::getpid());
  std::set<pid_t> leaders;
  for (const auto& [pid, job] : leaders_) leaders.insert(pid);
  std::vector<pid_t> orphans = tree.orphans(::getpid(), ::getsid(0), leaders);
  // Every trace is brought up to date (and emptied once its job has no process left) first.
  std::vector<JobPtr> traced;
  {
    std::lock_guard lock(mu_);
    for (auto& [key, job] : jobs_)
      if (!job->trace.ids.empty()) traced.push_back(job);
  }
  std::set<pid_t> claimed;
  for (const JobPtr& job : traced)
    for (pid_t pid : traced_members(job, tree)) claimed.insert(pid);
  std::erase_if(orphans, [&](pid_t pid) { return claimed.count(pid) != 0; });
  if (orphans.empty()) return;
  const bool one_owner = exited.size() == 1 && open_lane_count() == 1;
  std::lock_guard lock(mu_);
  for (const JobPtr& job : exited) {
    if (!one_owner) {
      job->trace.incomplete = true;
      continue;
    }
    const std::map<pid_t, std::uint64_t> before = job->trace.members;
    for (pid_t pid : orphans) {
      const proc::Stat* st = tree.find(pid);
      job->trace.members[pid] = st->start_ticks;
      job->trace.ids.insert(st->session);
      job->trace.ids.insert(st->pgrp);
    }
    report_trace(job, before);
  }
}

void Lane::Impl::sweep_marks(std::vector<std::string> marks, int sig) {
  if (marks.empty()) return;
  std::unordered_set<std::string> wanted(marks.begin(), marks.end());
  std::string scratch;
  bool signalled = false;
  for (const auto& found : proc::find_marked(mark_prefix_)) {
    if (wanted.count(found.mark) != 0) {
      signalled |= proc::signal_if_marked(found.pid, found.mark, sig, scratch);
    }
  }
  if (sig != SIGTERM || !signalled) return;
  ++pending_sweeps_;
  auto timer = std::make_shared<asio::steady_timer>(io_, options_.kill_grace);
  timer->async_wait([this, timer, marks = std::move(marks)](const asio::error_code&) mutable {
    --pending_sweeps_;
    sweep_marks(std::move(marks), SIGKILL);
    if (shutting_down_) check_shutdown_complete();
  });
}

// ---------------------------------------------------------------- shutdown

void Lane::Impl::begin_shutdown(std::function<void()> on_complete) {
  shutdown_waiters_.push_back(std::move(on_complete));
  if (shutting_down_) {
    check_shutdown_complete();
    return;
  }
  shutting_down_ = true;
  std::vector<JobPtr> jobs;
  {
    std::lock_guard lock(mu_);
    jobs.reserve(jobs_.size());
    for (auto& [key, job] : jobs_) jobs.push_back(job);
  }
  std::vector<JobPtr> settled;  // finished jobs: leftovers found by the marker or the trace
  for (const JobPtr& job : jobs) {
    const JobStatus status = job->info.status;
    if (status == JobStatus::queued && !job->live) {
      kill_job(job, EndReason::killed, "the host shut down before the job started");
    } else if (!is_terminal(status)) {
      kill_job(job, EndReason::killed, "the host shut down");
    } else if (job->live) {
      kill_job(job, EndReason::killed, "");
    } else {
      settled.push_back(job);
    }
  }
  sweep_leftovers(std::move(settled), SIGTERM);
  // Backstop: whatever still runs after the grace period and a little more is SIGKILLed.
  shutdown_timer_.expires_after(shutdown_budget());
  shutdown_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec || !shutting_down_) return;
    std::vector<JobPtr> live_jobs;
    {
      std::lock_guard lock(mu_);
      for (auto& [key, job] : jobs_) {
        if (job->live) live_jobs.push_back(job);
      }
    }
    for (const JobPtr& job : live_jobs) signal_job(job, SIGKILL);
    complete_shutdown();
  });
  check_shutdown_complete();
}

bool Lane::Impl::anything_left() {
  std::unordered_set<std::string> marks;
  std::vector<JobTrace> traces;
  {
    std::lock_guard lock(mu_);
    for (auto& [key, job] : jobs_) {
      if (job->live && job->live->cgroup && CgroupTree::populated(*job->live->cgroup)) {
        return true;
      }
      marks.insert(job->mark);
      if (!job->trace.ids.empty()) traces.push_back(job->trace);
    }
  }
  if (!traces.empty()) {
    ProcessTree tree = ProcessTree::scan(::getpid());
    for (JobTrace& trace : traces)
      if (!tree.members(0, trace).empty()) return true;
  }
  for (const auto& found : proc::find_marked(mark_prefix_)) {
    if (marks.count(found.mark) != 0) return true;
  }
  return false;
}

void Lane::Impl::check_shutdown_complete() {
  if (!shutting_down_ || shutdown_waiters_.empty()) return;
  if (scheduler_.running() > 0) return;  // leaders still alive: their exits call back here
  // Once every grace period has run out, everything got SIGKILL: done. Before that, done
  // as soon as nothing is left.
  if ((pending_graces_ > 0 || pending_sweeps_ > 0) && anything_left()) return;
  complete_shutdown();
}

void Lane::Impl::complete_shutdown() {
  asio::error_code ignored;
  shutdown_timer_.cancel();
  (void)rows_->flush();
  auto waiters = std::move(shutdown_waiters_);
  shutdown_waiters_.clear();
  if (!closing_) shutting_down_ = false;  // after a shutdown signal the host may go on
  for (auto& waiter : waiters) waiter();
}

void Lane::Impl::watch_shutdown_signals() {
  if (options_.shutdown_signals.empty()) return;
  shutdown_signals_.async_wait([this](const asio::error_code& ec, int sig) {
    if (ec) return;
    begin_shutdown([this, sig] {
      if (options_.on_signal) {
        try {
          options_.on_signal(sig);
        } catch (...) {
        }
        watch_shutdown_signals();
        return;
      }
      // No handler: die of the signal, as the host would have without the lane. The jobs are
      // ended: the watchdog has nothing to do (and is reaped here, not left to whoever adopts it).
      if (watchdog_) watchdog_->close(/*kill_leftovers=*/false);
      asio::error_code ignored;
      shutdown_signals_.clear(ignored);
      ::signal(sig, SIG_DFL);
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, sig);
      ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
      ::raise(sig);
    });
  });
}

// ---------------------------------------------------------------- reaping, leftovers

void Lane::Impl::watch_children() {
  sigchld_.async_wait([this](const asio::error_code& ec, int) {
    if (ec) return;
    ChildReaper::instance().reap_children();
    if (shutting_down_) check_shutdown_complete();
    watch_children();
  });
}

void Lane::Impl::watch_leftovers(const JobPtr& job) {
  LiveJob& live = *job->live;
  if (live.cgroup_watch >= 0) return;
  if (!inotify_.is_open()) {
    int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return;
    inotify_.assign(fd);
    watch_cgroup_events();
  }
  const std::string events = live.cgroup->path + "/cgroup.events";
  int wd = ::inotify_add_watch(inotify_.native_handle(), events.c_str(), IN_MODIFY);
  if (wd < 0) return;
  live.cgroup_watch = wd;
  cgroup_watches_[wd] = job->key;
  if (!CgroupTree::populated(*live.cgroup)) check_done(job);  // emptied before the watch
}

void Lane::Impl::watch_cgroup_events() {
  inotify_.async_wait(
      asio::posix::stream_descriptor::wait_read, [this](const asio::error_code& ec) {
        if (ec) return;
        alignas(inotify_event) char buffer[4096];
        std::vector<int> changed;
        for (;;) {
          ssize_t n = ::read(inotify_.native_handle(), buffer, sizeof buffer);
          if (n <= 0) break;
          for (ssize_t offset = 0; offset < n;) {
            auto* event = reinterpret_cast<inotify_event*>(buffer + offset);
            changed.push_back(event->wd);
            offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
          }
        }
        for (int wd : changed) {
          auto it = cgroup_watches_.find(wd);
          if (it == cgroup_watches_.end()) continue;
          JobPtr job = find(it->second);
          if (job && job->live && job->live->cgroup && job->live->cgroup_watch == wd &&
              !CgroupTree::populated(*job->live->cgroup)) {
            check_done(job);
          }
        }
        if (shutting_down_) check_shutdown_complete();
        watch_cgroup_events();
      });
}

}  // namespace meanwhile
