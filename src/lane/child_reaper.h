// ChildReaper: who reaps which child of this process. Process-wide, because the host is a child
// subreaper (orphans of every job come back to it) and several lanes may live in one process.
//
// Job leaders are tracked with their owner. A leader is reaped exactly once: by its owner when
// its pidfd becomes readable (reap_leader), or by any lane's SIGCHLD handler (reap_children),
// which then hands the exit status to the owner. Every other zombie child whose session is not
// the host's is an orphan of some job: reaped and forgotten. Zombies in the host's own session
// are children the host made some other way (system(), its own posix_spawn): left to their
// owner's waitpid().
#pragma once

#include <sys/types.h>

#include <mutex>
#include <optional>
#include <unordered_map>

namespace meanwhile {

struct ExitStatus {
  std::optional<int> exit_code;    // exited normally
  std::optional<int> term_signal;  // killed by a signal
};

class ReapOwner {
 public:
  virtual ~ReapOwner() = default;
  // Called with the reaper's lock held, from any thread: post, don't work.
  virtual void leader_reaped(pid_t pid, ExitStatus status) = 0;
};

class ChildReaper {
 public:
  static ChildReaper& instance();

  // Hold this from before a leader is spawned until it is tracked, so that no SIGCHLD handler
  // mistakes the new child for an orphan.
  std::unique_lock<std::mutex> lock() { return std::unique_lock<std::mutex>(mu_); }
  void track_locked(pid_t pid, ReapOwner* owner);

  // The leader's pidfd is readable. Returns its status and forgets it; nullopt if it is not
  // waitable yet or was already handed to the owner through leader_reaped().
  std::optional<ExitStatus> reap_leader(pid_t pid, int pidfd);

  // SIGCHLD: reaps every waitable child as described above.
  void reap_children();

  // Forgets every leader of `owner` (it is going away); they are reaped as orphans later.
  void forget_owner(ReapOwner* owner);

 private:
  ChildReaper();
  void reap_tracked_locked(pid_t pid);

  std::mutex mu_;
  std::unordered_map<pid_t, ReapOwner*> leaders_;
  pid_t host_session_;
};

}  // namespace meanwhile
