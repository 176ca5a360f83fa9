// run_program: runs a short-lived tool (sbatch, squeue, scancel) to its end and captures what it
// prints. For the executors' engines, never for jobs: no new session, no cgroup, no lane.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "meanwhile/result.h"

namespace meanwhile {

struct ProgramOutput {
  int exit_code = -1;    // -1 when it was killed by a signal
  int term_signal = 0;   // the signal, or 0
  std::string out, err;  // each at most kMaxBytes (the rest is dropped)
  bool timed_out = false;
  static constexpr std::size_t kMaxBytes = 1 << 20;
};

// Runs argv[0] (looked up in PATH) with `env` (KEY=VALUE entries; empty: the host's), stdin
// /dev/null, in its own process group. Past `timeout` the group gets SIGKILL and timed_out is
// set. Errors: the program could not be started (not_found when it is not installed).
Result<ProgramOutput> run_program(const std::vector<std::string>& argv,
                                  const std::vector<std::string>& env,
                                  std::chrono::milliseconds timeout);

}  // namespace meanwhile
