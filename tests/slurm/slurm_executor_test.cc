// The Slurm executor against a real single-node cluster (tests/support/slurm_cluster.sh),
// started once for this binary. Every wait is on an executor event, with a generous bound.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <sstream>

#include "cluster_env.h"
#include "lane/executor.h"
#include "lane/run_program.h"
#include "lane/slurm_executor.h"
#include "lane/slurm_tools.h"
#include "support/test_support.h"

namespace meanwhile {
namespace {

using namespace std::chrono_literals;
using test::TempDir;

// Records every event; waits on them with a condition variable.
class Recorder : public ExecutorEvents {
 public:
  void submitted(std::uint64_t key, const std::string& handle) override {
    std::lock_guard lock(mu_);
    handles_[key] = handle;
    cv_.notify_all();
  }
  void started(std::uint64_t key) override {
    std::lock_guard lock(mu_);
    started_[key] = true;
    cv_.notify_all();
  }
  void output(std::uint64_t key, int shard, std::string_view bytes) override {
    std::lock_guard lock(mu_);
    output_[{key, shard}].append(bytes);
    cv_.notify_all();
  }
  void ended(std::uint64_t key, const ExecutorExit& exit) override {
    std::lock_guard lock(mu_);
    ended_[key] = exit;
    cv_.notify_all();
  }
  std::optional<ExecutorExit> wait_end(std::uint64_t key, std::chrono::seconds timeout = 60s) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return ended_.count(key) != 0; });
    if (ended_.count(key) == 0) return std::nullopt;
    return ended_[key];
  }
  bool wait_output(std::uint64_t key, const std::string& text, int shard = 0,
                   std::chrono::seconds timeout = 60s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      return output_[{key, shard}].find(text) != std::string::npos;
    });
  }
  std::string handle(std::uint64_t key, std::chrono::seconds timeout = 60s) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return handles_.count(key) != 0 || ended_.count(key) != 0; });
    return handles_.count(key) != 0 ? handles_[key] : std::string();
  }
  std::string output(std::uint64_t key, int shard = 0) {
    std::lock_guard lock(mu_);
    return output_[{key, shard}];
  }
  bool was_started(std::uint64_t key) {
    std::lock_guard lock(mu_);
    return started_[key];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::uint64_t, std::string> handles_;
  std::map<std::uint64_t, bool> started_;
  std::map<std::pair<std::uint64_t, int>, std::string> output_;
  std::map<std::uint64_t, ExecutorExit> ended_;
};

class SlurmExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override { SKIP_OR_FAIL_WITHOUT_CLUSTER(); }
  ExecutorJob job(std::uint64_t key, const std::string& command) {
    ExecutorJob j;
    j.key = key;
    j.id = std::to_string(key);
    j.command = command;
    j.cwd = work.path();
    j.log_path = work.file(j.id + ".log");
    j.env = {"PATH=/usr/local/bin:/usr/bin:/bin", "MEANWHILE_JOB_ID=" + j.id,
             std::string("SLURM_CONF=") + ::getenv("SLURM_CONF")};
    return j;
  }
  TempDir work{"meanwhile-slurm-work"};
  Recorder events;
  SlurmExecutor::Options options;
};

TEST_F(SlurmExecutorTest, RunsAJobWithItsEnvironmentAndReportsOutputAndExit) {
  SlurmExecutor executor(events, options);
  executor.start(job(1, "echo \"job $MEANWHILE_JOB_ID in $(pwd)\"; echo to-stderr >&2; exit 3"));
  auto end = events.wait_end(1);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, JobStatus::exited) << end->error;
  EXPECT_EQ(end->exit_code, 3);
  EXPECT_TRUE(events.was_started(1));
  EXPECT_FALSE(events.handle(1).empty());
  EXPECT_NE(events.output(1).find("job 1 in " + work.path()), std::string::npos)
      << events.output(1);
  EXPECT_NE(events.output(1).find("to-stderr"), std::string::npos);
  EXPECT_EQ(executor.active(), 0u);
}

TEST_F(SlurmExecutorTest, OutputArrivesWhileItRunsAndAKillLeavesNothingInSqueue) {
  SlurmExecutor executor(events, options);
  executor.start(job(2, "echo first; sleep 300; echo never"));
  ASSERT_TRUE(events.wait_output(2, "first")) << "output while running";
  const std::string handle = events.handle(2);
  executor.kill(2, 1s);
  auto end = events.wait_end(2);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, JobStatus::killed);
  EXPECT_EQ(events.output(2).find("never"), std::string::npos);
  EXPECT_TRUE(nothing_live(handle));
}

TEST_F(SlurmExecutorTest, FourShardsAreOneArraySummedUpInTheEnd) {
  SlurmExecutor executor(events, options);
  ExecutorJob sharded =
      job(3,
          "echo \"shard $MEANWHILE_SHARD of $MEANWHILE_SHARDS (task $SLURM_ARRAY_TASK_ID)\"; "
          "[ \"$MEANWHILE_SHARD\" != 2 ]");
  sharded.shards = 4;
  executor.start(sharded);
  auto end = events.wait_end(3);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, JobStatus::exited) << end->error;
  EXPECT_EQ(end->exit_code, 1) << "the first failing shard's code";
  EXPECT_EQ(end->summary, "4 shards: 3 exited 0, shard 2 exited 1");
  for (int shard = 0; shard < 4; ++shard) {
    const std::string expected =
        "shard " + std::to_string(shard) + " of 4 (task " + std::to_string(shard) + ")";
    EXPECT_NE(events.output(3, shard).find(expected), std::string::npos)
        << "shard " << shard << ": " << events.output(3, shard);
  }
}

TEST_F(SlurmExecutorTest, SbatchRefusingIsAFailedStartInSlurmsWords) {
  SlurmExecutor executor(events, options);
  ExecutorJob bad = job(4, "true");
  bad.partition = "nosuch";
  executor.start(bad);
  auto end = events.wait_end(4);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, JobStatus::failed_to_start);
  EXPECT_NE(end->error.find("invalid partition"), std::string::npos) << end->error;
  ExecutorJob greedy = job(5, "true");
  greedy.cpus = 4096;
  executor.start(greedy);
  end = events.wait_end(5);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, JobStatus::failed_to_start);
  EXPECT_FALSE(end->error.empty());
}

// A host that dies leaves the job running in Slurm; the next one follows it by its id, and
// reads its true end from the recorded exit code even after Slurm has forgotten the job.
TEST_F(SlurmExecutorTest, AReattachedJobIsFollowedToItsEnd) {
  std::string handle;
  {
    SlurmExecutor first(events, options);
    first.start(job(6, "echo before; sleep 2; echo after; exit 4"));
    handle = events.handle(6);
    ASSERT_FALSE(handle.empty());
  }  // the first host is gone, without a kill
  Recorder second_events;
  SlurmExecutor second(second_events, options);
  second.reattach(job(6, ""), handle, 0);
  auto end = second_events.wait_end(6);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, JobStatus::exited) << end->error;
  EXPECT_EQ(end->exit_code, 4);
  EXPECT_NE(second_events.output(6).find("after"), std::string::npos);

  // Once Slurm forgets it (MinJobAge 5 s here), the recorded exit code still tells.
  ASSERT_TRUE(test::eventually(
      [&] {
        auto tasks = SlurmTools().query({handle});
        return tasks && tasks->empty();
      },
      60s));
  Recorder third_events;
  SlurmExecutor third(third_events, options);
  third.reattach(job(6, ""), handle, 0);
  end = third_events.wait_end(6);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, JobStatus::exited) << end->error;
  EXPECT_EQ(end->exit_code, 4);

  // A handle that names another task's job (a store can lie): neither followed nor cancelled.
  SlurmExecutor owner(events, options);
  owner.start(job(30, "sleep 60"));
  const std::string others = events.handle(30);
  ASSERT_FALSE(others.empty());
  third.reattach(job(31, ""), others, 0);
  third.kill(31, 0s);
  end = third_events.wait_end(31);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, JobStatus::lost);
  EXPECT_NE(end->error.find("is not task 31's (it is named 'meanwhile-30')"), std::string::npos)
      << end->error;
  EXPECT_FALSE(nothing_live(others)) << "task 30's job was cancelled through task 31";
  owner.kill(30, 0s);
  EXPECT_TRUE(events.wait_end(30));

  // A job Slurm does not know, with nothing recorded: lost, and it says so.
  third.reattach(job(77, ""), "999999", 0);
  end = third_events.wait_end(77);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, JobStatus::lost);
  EXPECT_NE(end->error.find("no exit status was recorded"), std::string::npos) << end->error;
}

TEST_F(SlurmExecutorTest, TheControllerRestartingMidJobLosesNothing) {
  SlurmExecutor executor(events, options);
  executor.start(job(8, "echo up; sleep 4; echo done"));
  ASSERT_TRUE(events.wait_output(8, "up"));
  auto restarted = run_program(
      {SLURM_CLUSTER_SCRIPT, "restart-controller", cluster().dir->file("cluster")}, {}, 120s);
  ASSERT_TRUE(restarted.ok()) << restarted.error();
  ASSERT_EQ(restarted->exit_code, 0) << restarted->err;
  auto end = events.wait_end(8);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, JobStatus::exited) << end->error;
  EXPECT_EQ(end->exit_code, 0);
  EXPECT_NE(events.output(8).find("done"), std::string::npos);
}

TEST_F(SlurmExecutorTest, ACancelOutsideMeanwhileReadsCancelledBySlurm) {
  SlurmExecutor executor(events, options);
  executor.start(job(9, "echo running; sleep 300"));
  ASSERT_TRUE(events.wait_output(9, "running"));
  ASSERT_TRUE(SlurmTools().cancel(events.handle(9)).ok());
  auto end = events.wait_end(9);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, JobStatus::killed);
  EXPECT_EQ(end->error, "cancelled by Slurm");
}

// Slurm's time limit is whole minutes and checked about every 30 s: this test takes 1-2 min.
TEST_F(SlurmExecutorTest, ATimeoutBecomesSlurmsTimeLimit) {
  SlurmExecutor executor(events, options);
  ExecutorJob slow = job(10, "echo started; sleep 600");
  slow.timeout = 2s;  // rounded up to 1 minute
  executor.start(slow);
  auto end = events.wait_end(10, 240s);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, JobStatus::timed_out) << end->error;
  EXPECT_NE(end->error.find("1 min"), std::string::npos) << end->error;
}

}  // namespace
}  // namespace meanwhile
