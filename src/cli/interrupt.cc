#include "cli/interrupt.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

namespace meanwhile::cli {
namespace {

// Written by the signal handler, so plain ints (async-signal-safe), set before install.
int g_pipe[2] = {-1, -1};
std::atomic<bool>* g_flag = nullptr;

void on_sigint(int) {
  int saved = errno;
  if (g_flag) g_flag->store(true);
  char byte = 1;
  [[maybe_unused]] ssize_t n = ::write(g_pipe[1], &byte, 1);
  errno = saved;
}

}  // namespace

Interrupt& Interrupt::install() {
  static Interrupt* instance = [] {
    static Interrupt interrupt;
    if (::pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0) g_pipe[0] = g_pipe[1] = -1;
    g_flag = &interrupt.flag_;
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: a blocking read or poll returns EINTR
    ::sigaction(SIGINT, &sa, nullptr);
    return &interrupt;
  }();
  return *instance;
}

int Interrupt::fd() const {
  return g_pipe[0];
}

void Interrupt::reset() {
  flag_.store(false);
  char buf[64];
  while (g_pipe[0] >= 0 && ::read(g_pipe[0], buf, sizeof buf) > 0) {
  }
}

}  // namespace meanwhile::cli
