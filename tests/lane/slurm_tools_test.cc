// What the Slurm executor reads from Slurm's tools and writes for it, without a cluster.
#include <gtest/gtest.h>

#include "lane/executor.h"
#include "lane/slurm_executor.h"
#include "lane/slurm_tools.h"

namespace meanwhile {
namespace {

TEST(SlurmToolsTest, ParsesSqueueLinesForJobsAndArrays) {
  auto tasks = parse_squeue(
      "1|1|0-3|PENDING|None|0|\n"
      "2|1|0|COMPLETED|None|0|\n"
      "3|1|2|FAILED|NonZeroExitCode|512|\n"
      "4|4|N/A|FAILED|JobLaunchFailure|15|\n"
      "garbage line\n"
      "x|1|0|RUNNING|None|0|\n"
      "6|6|N/A|RUNNING|None|0|meanwhile-6          |\n"  // the name, padded to its width
      "5|5|N/A|RUNNING|None|0");                         // no trailing bar: malformed, skipped
  ASSERT_EQ(tasks.size(), 5u);
  EXPECT_EQ(tasks[4].name, "meanwhile-6");
  EXPECT_EQ(tasks[0].name, "");
  EXPECT_TRUE(tasks[0].tasks_pending);
  EXPECT_EQ(tasks[0].task, -1);
  EXPECT_EQ(tasks[1].task, 0);
  EXPECT_EQ(tasks[1].array_id, "1");
  EXPECT_EQ(tasks[2].raw_status, 512);
  EXPECT_EQ(tasks[2].state, "FAILED");
  EXPECT_EQ(tasks[3].task, -1);
  EXPECT_FALSE(tasks[3].tasks_pending);
  EXPECT_EQ(tasks[3].raw_status & 0x7f, 15);
}

TEST(SlurmToolsTest, FinalStates) {
  for (const char* state : {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY",
                            "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE"})
    EXPECT_TRUE(slurm_state_final(state)) << state;
  for (const char* state : {"PENDING", "RUNNING", "COMPLETING", "SUSPENDED", "CONFIGURING", ""})
    EXPECT_FALSE(slurm_state_final(state)) << state;
}

TEST(SlurmToolsTest, SbatchIdIsANumber) {
  EXPECT_EQ(*parse_sbatch_id("42\n"), "42");
  EXPECT_EQ(*parse_sbatch_id("42;cluster\n"), "42");
  EXPECT_FALSE(parse_sbatch_id("sbatch: error: nope").ok());
  EXPECT_FALSE(parse_sbatch_id("").ok());
}

TEST(SlurmToolsTest, ShardLogsSitBesideTheLog) {
  EXPECT_EQ(shard_log_path("/d/logs/12.log", 3), "/d/logs/12.shard-3.log");
  EXPECT_EQ(shard_log_path("/d/logs/12", 0), "/d/logs/12.shard-0.log");
}

TEST(SlurmToolsTest, TheBatchScriptQuotesPathsAndSetsShardsOnlyWhenSharded) {
  ExecutorJob job;
  job.id = "7";
  std::string plain = SlurmExecutor::batch_script(job, "/d/it's.command", "/d/7.exit");
  EXPECT_NE(plain.find("/bin/sh '/d/it'\\''s.command'"), std::string::npos) << plain;
  EXPECT_EQ(plain.find("MEANWHILE_SHARD"), std::string::npos) << plain;
  job.shards = 4;
  std::string sharded = SlurmExecutor::batch_script(job, "/d/7.command", "/d/7.exit");
  EXPECT_NE(sharded.find("MEANWHILE_SHARDS=4"), std::string::npos) << sharded;
  EXPECT_NE(sharded.find("MEANWHILE_SHARD=\"$SLURM_ARRAY_TASK_ID\""), std::string::npos);
}

}  // namespace
}  // namespace meanwhile
