// Starting one job leader: /bin/sh -c COMMAND in a new session, with the job's stdin, output pipe,
// working directory, environment and (optionally) cgroup. See spawn.cc for why this is a vfork()
// and not posix_spawn(), and spawn_async.cc for the x86-64 path that does not wait for execve().
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <cstddef>
#include <string>

#include "lane/unique_fd.h"
#include "meanwhile/result.h"

namespace meanwhile {

// Everything the child needs, prepared by the parent before it forks: the child only reads this
// and makes async-signal-safe system calls.
struct SpawnRequest {
  const char* path = "/bin/sh";
  char* const* argv = nullptr;  // null-terminated
  // A plain command (direct_exec.h): each path is tried with direct_argv before `path`;
  // null-terminated. Null: `path` only.
  const char* const* direct_paths = nullptr;
  char* const* direct_argv = nullptr;
  char* const* envp = nullptr;  // null-terminated
  const char* cwd = nullptr;    // chdir() target; null: stay
  int stdin_fd = -1;            // becomes fd 0
  int output_fd = -1;           // becomes fd 1 and fd 2 (one pipe: they interleave like a tty)
  int cgroup_dir_fd = -1;       // the job's cgroup directory (async: started in it)
  int cgroup_procs_fd = -1;     // its cgroup.procs, for writing (vfork); -1: no cgroup
  const struct rlimit* nofile = nullptr;  // RLIMIT_NOFILE to restore in the child; null: keep
};

// The memory an asynchronously started child runs on until it calls execve() (with a guard
// page below). One per spawn in flight.
class ChildStack {
 public:
  explicit ChildStack(std::size_t size = 64 * 1024);
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

// Starts the process with vfork(); returns once it has called execve(). A failure in the child
// (chdir, exec, ...) comes back as an Error naming the step and the errno text; that child is
// reaped here. On a failure before the fork, errno tells why (EMFILE, EAGAIN, ...).
Result<Spawned> spawn_process(const SpawnRequest& request);

struct AsyncSpawn {
  pid_t pid = 0;
  UniqueFd report;  // non-blocking read end of the report pipe: see read_spawn_report()
  UniqueFd pidfd;   // the child's pidfd. It sends no SIGCHLD: wait for it with __WALL.
};

// Whether spawn_process_async() works on this build (x86-64, not under ThreadSanitizer).
bool async_spawn_supported();

// Starts the process without waiting for its execve(). Until `report` reads EOF, the memory
// `request` points to and `stack` must stay untouched; a failure of the child arrives on
// `report` first (read_spawn_report), then the child exits with 127. `into_cgroup`: start it in
// request.cgroup_dir_fd's cgroup (clone3 CLONE_INTO_CGROUP). stdin_fd and output_fd must be
// above 2. On failure errno tells why (EAGAIN, ENOMEM, ENOSYS, ...).
Result<AsyncSpawn> spawn_process_async(const SpawnRequest& request, ChildStack& stack,
                                       bool into_cgroup);

}  // namespace meanwhile
