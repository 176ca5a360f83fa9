// Starting a job leader without waiting for its execve() (x86-64, not under ThreadSanitizer).
//
// Why: with vfork() (or CLONE_VFORK) the lane thread sleeps until the child has called
// execve(). On an idle machine that is ~40 us; on a busy one the child first waits for a CPU,
// and the lane thread, which starts every job, waited 1-2.5 ms per job (measured at load 7-12):
// a burst of jobs ran at a third of the rate of two raw spawner threads.
//
// How: clone3(CLONE_VM [| CLONE_INTO_CGROUP]) without CLONE_VFORK, the child on a stack of its
// own. The child shares the host's memory while the host goes on, so it must touch nothing the
// host may change: it reads the request (which the lane keeps unchanged until the spawn is
// resolved) and makes raw system calls only: no libc, no errno, no TLS, no sanitizer
// instrumentation. It has its own copy of the fd table and of the signal handlers (no
// CLONE_FILES, no CLONE_SIGHAND). Errors come back through the O_CLOEXEC report pipe as with
// vfork; EOF on it means the child called execve() (or exited): only then may the lane free or
// reuse what the child was reading, its stack included.
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "lane/spawn.h"
#include "lane/spawn_report.h"

#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__) && defined(SYS_clone3)
#define MEANWHILE_ASYNC_SPAWN 1
#endif

namespace meanwhile {

#if MEANWHILE_ASYNC_SPAWN
namespace {

#define CHILD_CODE \
  __attribute__((always_inline, no_sanitize("address", "undefined"), no_stack_protector)) inline

// A system call without libc: returns the result or -errno.
CHILD_CODE long sys(long number, long a = 0, long b = 0, long c = 0, long d = 0) {
  long ret;
  register long r10 asm("r10") = d;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(number), "D"(a), "S"(b), "d"(c), "r"(r10)
               : "rcx", "r11", "memory");
  return ret;
}

// struct sigaction as the kernel takes it (x86-64).
struct KernelSigaction {
  unsigned long handler;
  unsigned long flags;
  unsigned long restorer;
  unsigned long mask;
};

struct AsyncChildArgs {
  const SpawnRequest* req;
  int report_fd;
  pid_t parent;
};

CHILD_CODE void child_report(int fd, SpawnStep step, long err) {
  SpawnReport report;
  report.step = step;
  report.err = static_cast<int>(-err);
  report.fatal = true;
  sys(SYS_write, fd, reinterpret_cast<long>(&report), sizeof report);
}

[[noreturn]] CHILD_CODE void child_fail(int fd, SpawnStep step, long err) {
  child_report(fd, step, err);
  for (;;) sys(SYS_exit, 127);
}

// The child: on its own stack, on the host's memory, system calls only.
[[noreturn]] __attribute__((noinline, no_sanitize("address", "undefined"), no_stack_protector)) int
async_child(void* raw_args) {
  const AsyncChildArgs& args = *static_cast<const AsyncChildArgs*>(raw_args);
  const SpawnRequest& req = *args.req;
  const int fd = args.report_fd;
  long rc;
  if ((rc = sys(SYS_setsid)) < 0) child_fail(fd, SpawnStep::setsid, rc);
  if ((rc = sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL)) < 0) {
    child_fail(fd, SpawnStep::deathsig, rc);
  }
  if (sys(SYS_getppid) != args.parent) child_fail(fd, SpawnStep::parent_gone, -ESRCH);
  if ((rc = sys(SYS_dup2, req.stdin_fd, 0)) < 0) child_fail(fd, SpawnStep::dup_stdin, rc);
  if ((rc = sys(SYS_dup2, req.output_fd, 1)) < 0) child_fail(fd, SpawnStep::dup_output, rc);
  if ((rc = sys(SYS_dup2, req.output_fd, 2)) < 0) child_fail(fd, SpawnStep::dup_output, rc);
  if (req.cwd != nullptr && (rc = sys(SYS_chdir, reinterpret_cast<long>(req.cwd))) < 0) {
    child_fail(fd, SpawnStep::chdir, rc);
  }
  if (req.nofile != nullptr) {
    sys(SYS_prlimit64, 0, RLIMIT_NOFILE, reinterpret_cast<long>(req.nofile), 0);
  }
  sys(SYS_close_range, 3, ~0u, CLOSE_RANGE_CLOEXEC);  // fds the host opened without O_CLOEXEC
  KernelSigaction dfl;
  dfl.handler = reinterpret_cast<unsigned long>(SIG_DFL);
  dfl.flags = 0;
  dfl.restorer = 0;
  dfl.mask = 0;
  for (long sig = 1; sig <= 64; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) {
      sys(SYS_rt_sigaction, sig, reinterpret_cast<long>(&dfl), 0, sizeof dfl.mask);
    }
  }
  unsigned long none = 0;
  sys(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&none), 0, sizeof none);
  if (req.direct_paths != nullptr) {  // a plain command: without the shell (direct_exec.h)
    for (const char* const* path = req.direct_paths; *path != nullptr; ++path) {
      sys(SYS_execve, reinterpret_cast<long>(*path), reinterpret_cast<long>(req.direct_argv),
          reinterpret_cast<long>(req.envp));
    }
  }
  rc = sys(SYS_execve, reinterpret_cast<long>(req.path), reinterpret_cast<long>(req.argv),
           reinterpret_cast<long>(req.envp));
  child_fail(fd, SpawnStep::exec, rc);
}

// clone3 with the child running fn(arg) on args->stack; returns the pid or -errno.
[[gnu::noinline]] long raw_clone3(clone_args* args, int (*fn)(void*), void* arg) {
  long ret;
  register void* entry asm("r12") = reinterpret_cast<void*>(fn);
  register void* entry_arg asm("r13") = arg;
  asm volatile(
      "syscall\n\t"
      "test %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      "xor %%ebp, %%ebp\n\t"
      "and $-16, %%rsp\n\t"
      "mov %%r13, %%rdi\n\t"
      "call *%%r12\n\t"
      "mov %%eax, %%edi\n\t"
      "mov $60, %%eax\n\t"
      "syscall\n\t"
      "hlt\n"
      "1:\n\t"
      : "=a"(ret)
      : "0"(static_cast<long>(SYS_clone3)), "D"(args), "S"(sizeof(clone_args)), "r"(entry),
        "r"(entry_arg)
      : "rcx", "r11", "memory");
  return ret;
}

}  // namespace

bool async_spawn_supported() {
  return true;
}

Result<AsyncSpawn> spawn_process_async(const SpawnRequest& request, ChildStack& stack,
                                       bool into_cgroup) {
  if (!stack.valid()) return make_error("cannot start: no memory for the child's stack");
  if (request.stdin_fd < 3 || request.output_fd < 3) {
    return make_error("cannot start: stdin and output fds must be above 2");
  }
  int report_pipe[2];
  if (::pipe2(report_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
    const int err = errno;
    auto error = posix_error("cannot start: pipe2", err);
    errno = err;
    return error;
  }
  UniqueFd report_read(report_pipe[0]);
  UniqueFd report_write(report_pipe[1]);
  if (report_write.get() < 3) {  // keep it clear of the fds the child dup2()s onto
    int high = ::fcntl(report_write.get(), F_DUPFD_CLOEXEC, 3);
    if (high < 0) return posix_error("cannot start", errno);
    report_write.reset(high);
  }
  // The child reads these until it execs; `stack` holds them (the lane keeps it untouched).
  auto* args = new (stack.base()) AsyncChildArgs{&request, report_write.get(), ::getpid()};
  // No SIGCHLD for this child (exit_signal 0): its exit arrives through the pidfd only, one
  // wakeup instead of two. It must then be waited for with __WALL (see ChildReaper).
  int pidfd = -1;
  clone_args clone{};
  clone.flags = CLONE_VM | CLONE_PIDFD | (into_cgroup ? CLONE_INTO_CGROUP : 0);
  clone.pidfd = reinterpret_cast<std::uint64_t>(&pidfd);
  clone.exit_signal = 0;
  clone.stack = reinterpret_cast<std::uint64_t>(stack.base()) + 256;  // args live below
  clone.stack_size = stack.size() - 256;
  clone.cgroup = into_cgroup ? static_cast<std::uint64_t>(request.cgroup_dir_fd) : 0;

  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);  // the child starts with every signal blocked
  const long pid = raw_clone3(&clone, async_child, args);
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) {
    auto error = posix_error("cannot start: clone3", -pid);
    errno = static_cast<int>(-pid);
    return error;
  }
  return AsyncSpawn{static_cast<pid_t>(pid), std::move(report_read), UniqueFd(pidfd)};
}

#else  // no async spawn here: the lane uses spawn_process()

bool async_spawn_supported() {
  return false;
}

Result<AsyncSpawn> spawn_process_async(const SpawnRequest&, ChildStack&, bool) {
  errno = ENOSYS;
  return make_error("cannot start: asynchronous spawn is not available here");
}

#endif

}  // namespace meanwhile
