// SlurmExecutor: runs jobs as Slurm batch jobs (an array for shards) and follows them.
//
// One thread of its own: it submits (sbatch), polls squeue every poll_interval while it has
// jobs (Slurm has no push), reads each job's output file incrementally and reports through
// ExecutorEvents. The batch script records each shard's exit code next to its output, so a job
// Slurm has already forgotten (MinJobAge, no slurmdbd) still reads its true end; `lost` only
// when Slurm no longer knows the job and no exit code was recorded. When squeue cannot reach
// the controller, state is kept and the poll retried. The output files must be on a
// filesystem the host and the compute nodes share (docs/DESIGN.md, "Scaling out").
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "lane/executor.h"
#include "lane/slurm_tools.h"

namespace meanwhile {

class SlurmExecutor : public Executor {
 public:
  struct Options {
    std::chrono::milliseconds poll_interval{250};
    std::chrono::milliseconds tool_timeout{30000};
  };
  // `events` must outlive the executor.
  SlurmExecutor(ExecutorEvents& events, Options options);
  // Stops following: jobs keep running in Slurm (call kill() first to end them).
  ~SlurmExecutor() override;
  SlurmExecutor(const SlurmExecutor&) = delete;
  SlurmExecutor& operator=(const SlurmExecutor&) = delete;

  void start(ExecutorJob job) override;
  void reattach(ExecutorJob job, std::string handle, std::uint64_t output_offset) override;
  void kill(std::uint64_t key, std::chrono::milliseconds grace) override;
  std::size_t active() const override;

  // The batch script for a job (exported for tests): runs the command with /bin/sh from the
  // file `command_path`, records the exit code in `exit_path`.N, sets MEANWHILE_SHARD(S).
  static std::string batch_script(const ExecutorJob& job, const std::string& command_path,
                                  const std::string& exit_path);

 private:
  struct Run;
  void loop();
  void submit(Run& run);
  void poll();
  void read_output(Run& run);
  void finish(Run& run, const std::vector<SlurmTask>& tasks);

  ExecutorEvents& events_;
  Options options_;
  SlurmTools tools_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::deque<std::function<void()>> commands_;  // run on the thread, in order
  std::size_t active_ = 0;                      // for active(): runs not yet ended

  std::map<std::uint64_t, std::unique_ptr<Run>> runs_;  // the thread's only
  std::thread thread_;
};

}  // namespace meanwhile
