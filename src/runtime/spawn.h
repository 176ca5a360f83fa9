// Starting one job leader: /bin/sh -c COMMAND in a new session, with the job's stdin, output pipe,
// working directory, environment and (optionally) cgroup. See spawn.cc for why this is a vfork()
// and not posix_spawn().
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

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
  int cgroup_procs_fd = -1;     // the job's cgroup.procs, opened for writing; -1: no cgroup
  const struct rlimit* nofile = nullptr;  // RLIMIT_NOFILE to restore in the child; null: keep
};

struct Spawned {
  pid_t pid = 0;
  bool in_cgroup = false;  // it joined request.cgroup_procs_fd's cgroup
};

// Starts the process; returns once it has called execve(). A failure in the child (chdir, exec,
// ...) comes back as an Error naming the step and the errno text; that child is reaped here.
Result<Spawned> spawn_process(const SpawnRequest& request);

}  // namespace meanwhile
