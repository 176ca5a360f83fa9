// What a starting child tells its parent through the O_CLOEXEC report pipe: nothing (EOF: it
// called execve) or which step failed with which errno. Shared by spawn.cc and spawn_async.cc.
#pragma once

#include <string>

namespace meanwhile {

enum class SpawnStep : int {
  setsid = 1,
  deathsig,
  parent_gone,
  cgroup,  // not fatal: the job runs without its cgroup
  dup_stdin,
  dup_output,
  chdir,
  exec,
};

struct SpawnReport {
  SpawnStep step;
  int err;
  bool fatal;
};

// What the reports read so far say.
struct SpawnOutcome {
  bool done = false;         // EOF: the child exec'd or exited; its memory is free again
  std::string error;         // a fatal step failed: why, for a person
  bool left_cgroup = false;  // joining the cgroup failed (not fatal)
};

// Reads reports from `fd` until EOF or EAGAIN (or, on a blocking fd, until EOF) into `outcome`.
// `cwd` names the directory in a chdir failure.
void read_spawn_report(int fd, const char* cwd, SpawnOutcome* outcome);

}  // namespace meanwhile
