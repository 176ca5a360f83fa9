// Slurm jobs where no cluster is needed: what submit() refuses, and a machine without Slurm
// (the usual case), where a Slurm job fails to start and says why.
#include <stdlib.h>

#include "lane_test_util.h"

namespace meanwhile::testing {
namespace {

Error refused(Lane& lane, JobSpec spec) {
  auto id = lane.submit(spec);
  EXPECT_FALSE(id.ok()) << "accepted: " << spec.command;
  return id.ok() ? Error{} : id.error_info();
}

TEST(ExecutorFields, SubmitRefusesWhatTheExecutorCannotDoAndNamesTheField) {
  TempDir dir;
  auto lane = open_lane(dir);
  ASSERT_TRUE(lane);
  JobSpec local = shell("true");
  local.shards = 4;
  Error error = refused(*lane, local);
  EXPECT_EQ(error.code, ErrorCode::invalid_argument);
  EXPECT_EQ(error.field, "shards");
  EXPECT_NE(error.message.find("Slurm jobs only"), std::string::npos) << error.message;
  local.shards = 0;
  local.partition = "gpu";
  EXPECT_EQ(refused(*lane, local).field, "partition");

  JobSpec slurm = shell("cat");
  slurm.executor = ExecutorKind::slurm;
  slurm.stdin_mode = StdinMode::pipe;
  EXPECT_EQ(refused(*lane, slurm).field, "stdin");
  slurm.stdin_mode = StdinMode::null;
  for (const char* memory : {"4Q", "G", "", "12 G", "-5"}) {
    slurm.memory = memory;
    if (slurm.memory.empty()) continue;  // empty: the cluster's default
    EXPECT_EQ(refused(*lane, slurm).field, "memory") << memory;
  }
  slurm.memory = "4G";
  slurm.cpus = 5000;
  EXPECT_EQ(refused(*lane, slurm).field, "cpus");
  slurm.cpus = 2;
  slurm.shards = kMaxShards + 1;
  EXPECT_EQ(refused(*lane, slurm).field, "shards");
  slurm.shards = 2;
  slurm.partition = "debug --uid=0";
  EXPECT_EQ(refused(*lane, slurm).field, "partition");
}

TEST(ExecutorFields, WithoutSlurmInstalledASlurmJobFailsToStartSayingSo) {
  TempDir dir;
  const std::string saved = ::getenv("PATH") ? ::getenv("PATH") : "";
  ::setenv("PATH", dir.path().c_str(), 1);  // no sbatch there
  std::unique_ptr<Lane> lane = open_lane(dir);
  ASSERT_TRUE(lane);
  JobSpec spec = shell("echo never");
  spec.executor = ExecutorKind::slurm;
  JobId id = submit_ok(*lane, spec);
  JobInfo info = wait_done(*lane, id);
  lane.reset();
  ::setenv("PATH", saved.c_str(), 1);
  EXPECT_EQ(info.status, JobStatus::failed_to_start);
  EXPECT_NE(info.error.find("sbatch is not installed"), std::string::npos) << info.error;
  EXPECT_TRUE(info.slurm_job_id.empty());
}

}  // namespace
}  // namespace meanwhile::testing
