#include "lane/child_reaper.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "lane/proc.h"

namespace meanwhile {
namespace {

ExitStatus status_of(const siginfo_t& info) {
  ExitStatus status;
  if (info.si_code == CLD_EXITED) {
    status.exit_code = info.si_status;
  } else if (info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED) {
    status.term_signal = info.si_status;
  }
  return status;
}

// Reaps `pid` if it is a zombie; true if it was reaped.
bool reap_pid(pid_t pid, siginfo_t* info) {
  for (;;) {
    *info = siginfo_t{};
    if (::waitid(P_PID, static_cast<id_t>(pid), info, WEXITED | WNOHANG | __WALL) == 0) {
      return info->si_pid == pid;
    }
    if (errno != EINTR) return false;
  }
}

}  // namespace

ChildReaper& ChildReaper::instance() {
  static ChildReaper reaper;
  return reaper;
}

ChildReaper::ChildReaper() : host_session_(::getsid(0)) {}

void ChildReaper::track_locked(pid_t pid, ReapOwner* owner) {
  leaders_[pid] = owner;
}

std::optional<ExitStatus> ChildReaper::reap_leader(pid_t pid, int pidfd) {
  std::lock_guard lock(mu_);
  auto it = leaders_.find(pid);
  if (it == leaders_.end()) return std::nullopt;
  siginfo_t info{};
  int rc;
  do {
    // __WALL: leaders started asynchronously have no exit signal (spawn_async.cc).
    rc = ::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG | __WALL);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0 && errno == EINVAL) {  // Linux 5.3: pidfds, but no P_PIDFD yet. Tracked: not reused.
    do {
      rc = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | __WALL);
    } while (rc < 0 && errno == EINTR);
  }
  if (rc == 0 && info.si_pid == 0) return std::nullopt;  // not exited yet
  leaders_.erase(it);
  if (rc < 0) return ExitStatus{};  // reaped behind our back (a host's wait(-1)): status unknown
  return status_of(info);
}

void ChildReaper::reap_tracked_locked(pid_t pid) {
  auto it = leaders_.find(pid);
  siginfo_t info{};
  if (!reap_pid(pid, &info)) return;
  ReapOwner* owner = it->second;
  leaders_.erase(it);
  owner->leader_reaped(pid, status_of(info));
}

void ChildReaper::reap_children() {
  std::lock_guard lock(mu_);
  for (;;) {
    siginfo_t info{};
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) < 0) {
      if (errno == EINTR) continue;
      return;  // ECHILD: no children at all
    }
    const pid_t pid = info.si_pid;
    if (pid == 0) return;  // nothing waitable
    if (leaders_.count(pid) != 0) {
      reap_tracked_locked(pid);
      continue;
    }
    auto st = proc::read_stat(pid);
    if (!st || st->session != host_session_) {
      reap_pid(pid, &info);  // an orphan of a job
      continue;
    }
    // A child the host made itself hides the others from waitid(P_ALL): find them in /proc.
    for (pid_t zombie : proc::zombie_children(host_session_)) {
      if (leaders_.count(zombie) != 0) {
        reap_tracked_locked(zombie);
      } else {
        reap_pid(zombie, &info);
      }
    }
    return;
  }
}

void ChildReaper::forget_owner(ReapOwner* owner) {
  std::lock_guard lock(mu_);
  std::erase_if(leaders_, [owner](const auto& entry) { return entry.second == owner; });
}

}  // namespace meanwhile
