// Why vfork() and not posix_spawn(): a job leader must get PR_SET_PDEATHSIG (so it dies with a
// SIGKILLed host) and must move itself into its cgroup before it runs anything, and posix_spawn
// has no hook for either. vfork() is what glibc's posix_spawn uses inside (clone with
// CLONE_VM|CLONE_VFORK): no page tables are copied, the parent sleeps until the child has called
// execve() or _exit(). The price is discipline in the child, which runs on the parent's memory:
// everything (argv, envp, paths, fds) is prepared before vfork(), the child makes only
// async-signal-safe system calls, allocates nothing and never returns from this function.
// Every signal is blocked in the parent around vfork() so no handler of the host can run in the
// child; the child resets every disposition to SIG_DFL before it unblocks them. Under
// ThreadSanitizer vfork() becomes fork(), which this code also supports.
//
//
// This is the portable path, also used under ThreadSanitizer. On x86-64 the lane uses
// spawn_async.cc, which does not make the lane thread wait for the child's execve().
#include "lane/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "lane/spawn_report.h"
#include "lane/unique_fd.h"

namespace meanwhile {
namespace {

using Step = SpawnStep;

const char* step_text(Step step) {
  switch (step) {
    case Step::setsid:
      return "setsid()";
    case Step::deathsig:
      return "prctl(PR_SET_PDEATHSIG)";
    case Step::parent_gone:
      return "the host exited while the job was starting";
    case Step::cgroup:
      return "joining the job's cgroup";
    case Step::dup_stdin:
      return "connecting stdin";
    case Step::dup_output:
      return "connecting stdout/stderr";
    case Step::chdir:
      return "changing to the working directory";
    case Step::exec:
      return "executing";
  }
  return "starting";
}

void report(int fd, Step step, int err, bool fatal) {
  SpawnReport r{step, err, fatal};
  // A short write is impossible for a struct this size on a pipe (PIPE_BUF).
  [[maybe_unused]] ssize_t n = ::write(fd, &r, sizeof r);
}

[[noreturn]] void fail(int report_fd, Step step) {
  report(report_fd, step, errno, true);
  ::_exit(127);
}

struct ChildArgs {
  const SpawnRequest* req;
  int report_fd;
  pid_t parent;
  bool join_cgroup;  // write to cgroup.procs
};

// Runs in the child, on the parent's memory (vfork): system calls only.
[[noreturn]] void run_child(const ChildArgs& args) {
  const SpawnRequest& req = *args.req;
  const int report_fd = args.report_fd;
  if (::setsid() < 0) fail(report_fd, Step::setsid);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) fail(report_fd, Step::deathsig);
  // The host may have died before prctl(): then the death signal will never come.
  if (::getppid() != args.parent) {
    errno = ESRCH;
    fail(report_fd, Step::parent_gone);
  }
  if (args.join_cgroup && ::write(req.cgroup_procs_fd, "0", 1) != 1) {
    report(report_fd, Step::cgroup, errno, false);
  }
  if (::dup2(req.stdin_fd, 0) < 0) fail(report_fd, Step::dup_stdin);
  if (::dup2(req.output_fd, 1) < 0 || ::dup2(req.output_fd, 2) < 0) {
    fail(report_fd, Step::dup_output);
  }
  if (req.cwd != nullptr && ::chdir(req.cwd) < 0) fail(report_fd, Step::chdir);
  if (req.nofile != nullptr) ::setrlimit(RLIMIT_NOFILE, req.nofile);
  // Fds the host opened without O_CLOEXEC must not leak into jobs (fds 0-2 are ours now).
  ::close_range(3, ~0u, CLOSE_RANGE_CLOEXEC);
  // Hosts ignore SIGPIPE and install handlers; a job starts with every signal at SIG_DFL.
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (req.direct_paths != nullptr) {  // a plain command: without the shell (direct_exec.h)
    for (const char* const* path = req.direct_paths; *path != nullptr; ++path) {
      ::execve(*path, req.direct_argv, req.envp);
    }
  }
  ::execve(req.path, req.argv, req.envp);
  fail(report_fd, Step::exec);
}

// Kept out of line so the frame vfork() returns twice into holds no C++ objects.
[[gnu::noinline]] pid_t vfork_and_exec(const ChildArgs& args) {
  pid_t pid = ::vfork();
  if (pid == 0) run_child(args);
  return pid;
}

// dup2() onto 0-2 in the child must never clobber another source fd: keep sources above 2.
Result<UniqueFd> duplicate_above_stdio(int fd) {
  int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) return posix_error("fcntl(F_DUPFD_CLOEXEC)", errno);
  return UniqueFd(copy);
}

}  // namespace

void read_spawn_report(int fd, const char* cwd, SpawnOutcome* outcome) {
  SpawnReport r{};
  for (;;) {
    ssize_t n = ::read(fd, &r, sizeof r);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) {
      outcome->done = true;
      return;
    }
    if (n != static_cast<ssize_t>(sizeof r)) return;  // EAGAIN (or a torn report: impossible)
    if (r.fatal && outcome->error.empty()) {
      outcome->error =
          std::string("cannot start: ") + step_text(r.step) + ": " + std::strerror(r.err);
      if (r.step == Step::chdir && cwd != nullptr) {
        outcome->error = std::string("cannot start: cannot change to the working directory ") +
                         cwd + ": " + std::strerror(r.err);
      }
    } else if (r.step == Step::cgroup) {
      outcome->left_cgroup = true;
    }
  }
}

Result<Spawned> spawn_process(const SpawnRequest& request) {
  SpawnRequest req = request;
  UniqueFd low_stdin, low_output;
  if (req.stdin_fd >= 0 && req.stdin_fd < 3) {
    auto copy = duplicate_above_stdio(req.stdin_fd);
    if (!copy) return make_error(copy.error());
    low_stdin = std::move(*copy);
    req.stdin_fd = low_stdin.get();
  }
  if (req.output_fd >= 0 && req.output_fd < 3) {
    auto copy = duplicate_above_stdio(req.output_fd);
    if (!copy) return make_error(copy.error());
    low_output = std::move(*copy);
    req.output_fd = low_output.get();
  }

  int report_pipe[2];
  if (::pipe2(report_pipe, O_CLOEXEC) < 0) {
    return posix_error("cannot start: pipe2", errno);
  }
  UniqueFd report_read(report_pipe[0]);
  UniqueFd report_write(report_pipe[1]);
  if (report_write.get() < 3) {  // keep it clear of the fds the child dup2()s onto
    auto copy = duplicate_above_stdio(report_write.get());
    if (!copy) return make_error(copy.error());
    report_write = std::move(*copy);
  }

  ChildArgs args{&req, report_write.get(), ::getpid(), req.cgroup_procs_fd >= 0};
  bool in_cgroup = args.join_cgroup;
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t pid = vfork_and_exec(args);
  const int vfork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  report_write.reset();
  if (pid < 0) {
    auto error = posix_error("cannot start: vfork", vfork_errno);
    errno = vfork_errno;
    return error;
  }

  // EOF at once after execve (vfork) or as soon as the child gets there (fork under TSan).
  SpawnOutcome outcome;
  read_spawn_report(report_read.get(), req.cwd, &outcome);
  if (outcome.left_cgroup) in_cgroup = false;  // not fatal: kill still has the group and mark
  if (!outcome.error.empty()) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return make_error(outcome.error);
  }
  return Spawned{pid, in_cgroup};
}

}  // namespace meanwhile

namespace meanwhile {

ChildStack::ChildStack(std::size_t size) {
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  void* mapping = ::mmap(nullptr, size + page, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (mapping == MAP_FAILED) return;
  ::mprotect(mapping, page, PROT_NONE);  // an overflow faults instead of corrupting memory
  mapping_ = mapping;
  base_ = static_cast<char*>(mapping) + page;
  size_ = size;
}

ChildStack::~ChildStack() {
  if (mapping_ != nullptr) {
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    ::munmap(mapping_, size_ + page);
  }
}

}  // namespace meanwhile
