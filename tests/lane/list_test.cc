// Lists never hide a live job: only finished ones are capped.
#include <gtest/gtest.h>

#include "lane_test_util.h"

namespace meanwhile::testing {
namespace {

TEST(ListTest, ARunningJobIsListedAfter250QuickOnes) {
  TempDir dir;
  auto lane = open_lane(dir);
  ASSERT_TRUE(lane);
  JobId sleeper = submit_ok(*lane, shell("sleep 300"));
  std::vector<JobId> quick;
  for (int i = 0; i < 250; ++i) quick.push_back(submit_ok(*lane, shell("true")));
  for (const JobId& id : quick) wait_done(*lane, id);
  auto has = [&](const std::vector<JobInfo>& jobs) {
    for (const JobInfo& job : jobs)
      if (job.id == sleeper) return true;
    return false;
  };
  auto jobs = lane->list();  // default: 200 finished
  EXPECT_TRUE(has(jobs));
  EXPECT_EQ(jobs.size(), 201u);
  EXPECT_TRUE(has(lane->list(50)));
  EXPECT_EQ(lane->list(0).size(), 1u);
  {
    // Another host on the same store sees it too (from the store, not from memory).
    auto other = open_lane(dir);
    ASSERT_TRUE(other);
    EXPECT_TRUE(has(other->list(10)));
  }
  ASSERT_TRUE(lane->kill(sleeper).ok());
}

}  // namespace
}  // namespace meanwhile::testing
