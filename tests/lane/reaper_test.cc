// Reaping in a host with more than the lane: two lanes in one process each get their own exit
// statuses (whichever lane's SIGCHLD handler reaps a leader), and children the host starts
// itself are left to the host's own waitpid().
#include <spawn.h>
#include <sys/wait.h>
#include <cstring>

#include <thread>

#include "lane_test_util.h"

extern char** environ;

namespace meanwhile::testing {
namespace {

TEST(ReaperTest, TwoLanesInOneProcessEachGetTheirExitStatuses) {
  TempDir dir_a, dir_b;
  auto a = open_lane(dir_a);
  auto b = open_lane(dir_b);
  ASSERT_TRUE(a && b);
  std::vector<std::pair<JobId, int>> jobs_a, jobs_b;
  for (int i = 0; i < 60; ++i) {
    jobs_a.emplace_back(submit_ok(*a, shell("exit " + std::to_string(i % 7))), i % 7);
    jobs_b.emplace_back(submit_ok(*b, shell("exit " + std::to_string((i + 3) % 7))), (i + 3) % 7);
  }
  for (auto& [id, code] : jobs_a) EXPECT_EQ(wait_done(*a, id).exit_code, code) << id;
  for (auto& [id, code] : jobs_b) EXPECT_EQ(wait_done(*b, id).exit_code, code) << id;
  EXPECT_TRUE(eventually([] { return zombie_children() == 0; }));
}

TEST(ReaperTest, ChildrenTheHostStartsItselfAreLeftToIt) {
  TempDir dir;
  auto lane = open_lane(dir);
  ASSERT_TRUE(lane);
  pid_t own = 0;
  char sh[] = "sh", c[] = "-c", cmd[] = "sleep 0.3; exit 7";
  char* argv[] = {sh, c, cmd, nullptr};
  ASSERT_EQ(::posix_spawn(&own, "/bin/sh", nullptr, nullptr, argv, environ), 0);
  // Jobs end meanwhile: their SIGCHLDs make the lane reap, but not the host's own child.
  std::vector<JobId> ids;
  for (int i = 0; i < 40; ++i) ids.push_back(submit_ok(*lane, shell("sleep 0.01; (true &)")));
  int status = 0;
  pid_t reaped = ::waitpid(own, &status, 0);
  EXPECT_EQ(reaped, own) << std::strerror(errno);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7);
  for (const JobId& id : ids) EXPECT_EQ(wait_done(*lane, id).status, JobStatus::exited);
  EXPECT_TRUE(eventually([] { return zombie_children() == 0; }));
}

}  // namespace
}  // namespace meanwhile::testing
