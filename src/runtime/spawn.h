// Starting one job leader: /bin/sh -c COMMAND in a new session, with the job's stdin, output pipe,
// working directory, environment and (optionally) cgroup. See spawn.cc for why this is a vfork()
// (or clone3() into a cgroup) and not posix_spawn().
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <cstddef>
#include <string>

#include "meanwhile/result.h"

namespace meanwhile {

// Everything the child needs, prepared by the parent before it forks: the child only reads this
// and makes async-signal-safe system calls.
struct SpawnRequest {
  const char* path = "/bin/sh";
  char* const* argv = nullptr;  // null-terminated
  char* const* envp = nullptr;  // null-terminated
  const char* cwd = nullptr;    // chdir() target; null: stay
  int stdin_fd = -1;            // becomes fd 0
  int output_fd = -1;           // becomes fd 1 and fd 2 (one pipe: they interleave like a tty)
  int cgroup_dir_fd = -1;       // the job's cgroup directory (clone3 starts the child in it)
  int cgroup_procs_fd = -1;     // its cgroup.procs, for writing (fallback); -1: no cgroup
  const struct rlimit* nofile = nullptr;  // RLIMIT_NOFILE to restore in the child; null: keep
  class ChildStack* stack = nullptr;      // needed for clone3; null: vfork
};

// The memory a clone3() child runs on until it calls execve(). The parent sleeps meanwhile
// (CLONE_VFORK), so one stack serves every spawn of one thread.
class ChildStack {
 public:
  ChildStack();
  ~ChildStack();
  ChildStack(const ChildStack&) = delete;
  ChildStack& operator=(const ChildStack&) = delete;
  bool valid() const { return base_ != nullptr; }
  void* base() const { return base_; }
  std::size_t size() const { return size_; }

 private:
  void* mapping_ = nullptr;  // includes a guard page below base_
  void* base_ = nullptr;
  std::size_t size_ = 0;
};

struct Spawned {
  pid_t pid = 0;
  bool in_cgroup = false;  // it started in (or joined) the request's cgroup
};

// Starts the process; returns once it has called execve(). A failure in the child (chdir, exec,
// ...) comes back as an Error naming the step and the errno text; that child is reaped here.
Result<Spawned> spawn_process(const SpawnRequest& request);

}  // namespace meanwhile
