// pidfd system calls. Debian 12's <sys/pidfd.h> (glibc 2.36) lacks extern "C", so C++ cannot
// link against its declarations: call the kernel directly.
#pragma once

#include <signal.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

namespace meanwhile::sys {

// A close-on-exec fd that refers to process `pid`; -1 with errno on failure.
inline int pidfd_open(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0u));
}

inline int pidfd_send_signal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0u));
}

}  // namespace meanwhile::sys
