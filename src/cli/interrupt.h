// Ctrl+C (SIGINT) as a cancel flag plus a self-pipe: the flag interrupts a model request or a
// foreground tool (they poll it), the pipe wakes a poll() loop. Background jobs never see it:
// they run in their own sessions.
#pragma once

#include <atomic>

namespace meanwhile::cli {

class Interrupt {
 public:
  // Installs the SIGINT handler (once per process).
  static Interrupt& install();

  const std::atomic<bool>* flag() const { return &flag_; }
  bool pending() const { return flag_.load(); }
  int fd() const;  // readable after a SIGINT until reset()
  void reset();    // clears the flag and empties the pipe

 private:
  Interrupt() = default;
  std::atomic<bool> flag_{false};
};

}  // namespace meanwhile::cli
