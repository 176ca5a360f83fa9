// The scheduler alone, driven by a fake runner: no processes, fds or clock.
#include "lane/scheduler.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace meanwhile {
namespace {

using Key = Scheduler::Key;

// Starts what the scheduler hands out (up to the slot limit) and ends jobs when told, the way
// the lane does: a job that cannot run after a failed `after` job ends as skipped.
class FakeRunner {
 public:
  explicit FakeRunner(std::size_t slots) : slots_(slots) {}

  void submit(Key key, int priority = 0, std::vector<Key> after = {}) {
    scheduler.add(key, priority, after);
  }
  // Starts every job that may start now; returns them in order.
  std::vector<Key> start_all() {
    std::vector<Key> started;
    while (auto key = scheduler.take(slots_)) {
      started.push_back(*key);
      running.push_back(*key);
    }
    return started;
  }
  void end(Key key, bool succeeded) {
    std::erase(running, key);
    std::vector<Key> cannot_run = scheduler.ended(key, succeeded);
    for (Key dependent : cannot_run) {
      skipped.push_back(dependent);
      end(dependent, false);
    }
  }

  Scheduler scheduler;
  std::vector<Key> running;
  std::vector<Key> skipped;

 private:
  std::size_t slots_;
};

TEST(SchedulerTest, HigherPriorityFirstThenOldest) {
  FakeRunner runner(1);
  runner.submit(1);
  runner.submit(2, 5);
  runner.submit(3, 5);
  runner.submit(4, -1);
  runner.submit(5);
  std::vector<Key> order;
  for (int i = 0; i < 5; ++i) {
    auto started = runner.start_all();
    ASSERT_EQ(started.size(), 1u) << "one slot: one job at a time";
    order.push_back(started[0]);
    runner.end(started[0], true);
  }
  EXPECT_EQ(order, (std::vector<Key>{2, 3, 1, 5, 4}));
  EXPECT_EQ(runner.scheduler.size(), 0u);
}

TEST(SchedulerTest, NeverMoreThanTheSlotLimit) {
  FakeRunner runner(3);
  for (Key key = 1; key <= 10; ++key) runner.submit(key);
  EXPECT_EQ(runner.start_all(), (std::vector<Key>{1, 2, 3}));
  EXPECT_EQ(runner.scheduler.running(), 3u);
  EXPECT_TRUE(runner.start_all().empty());
  runner.end(2, false);
  EXPECT_EQ(runner.start_all(), (std::vector<Key>{4}));
  EXPECT_TRUE(runner.skipped.empty()) << "jobs without `after` run whatever others did";
  // A lower limit than the jobs running: nothing starts until enough have ended.
  EXPECT_FALSE(runner.scheduler.take(2).has_value());
  EXPECT_TRUE(runner.scheduler.has_ready());
}

TEST(SchedulerTest, AfterWaitsForEveryJobAndSkipsWhenOneFails) {
  FakeRunner runner(10);
  runner.submit(1);
  runner.submit(2);
  runner.submit(3, 0, {1, 2});
  runner.submit(4, 0, {3});  // a chain: skipped when 3 is
  runner.submit(5, 0, {1});
  EXPECT_EQ(runner.start_all(), (std::vector<Key>{1, 2}));
  runner.end(1, true);
  EXPECT_EQ(runner.start_all(), (std::vector<Key>{5})) << "3 still waits for 2";
  runner.end(2, false);
  EXPECT_EQ(runner.skipped, (std::vector<Key>{3, 4}));
  EXPECT_TRUE(runner.start_all().empty());
  runner.end(5, true);
  EXPECT_EQ(runner.scheduler.size(), 0u);
  EXPECT_EQ(runner.scheduler.running(), 0u);
}

TEST(SchedulerTest, AJobFollowedAgainHoldsASlotAndIsWaitedFor) {
  FakeRunner runner(2);
  runner.scheduler.add_running(7);  // adopted from a dead host, already running
  EXPECT_EQ(runner.scheduler.running(), 1u);
  runner.submit(8, 0, {7});
  runner.submit(9);
  EXPECT_EQ(runner.start_all(), (std::vector<Key>{9})) << "8 waits for 7; 7 holds a slot";
  EXPECT_TRUE(runner.start_all().empty());
  runner.end(7, true);
  EXPECT_EQ(runner.start_all(), (std::vector<Key>{8}));
  runner.scheduler.add_running(8);  // known already: ignored
  EXPECT_EQ(runner.scheduler.running(), 2u);
}

TEST(SchedulerTest, AfterUnknownOrEndedJobsIsReadyAtOnce) {
  FakeRunner runner(2);
  runner.submit(7, 0, {99});  // an earlier host's job: the lane checked it at submit
  EXPECT_EQ(runner.start_all(), (std::vector<Key>{7}));
}

TEST(SchedulerTest, PutBackFreesTheSlotAndKeepsItsPlace) {
  FakeRunner runner(1);
  runner.submit(1);
  runner.submit(2);
  auto first = runner.scheduler.take(1);
  ASSERT_EQ(first, 1u);
  runner.scheduler.put_back(1);  // out of fds: try again later
  EXPECT_EQ(runner.scheduler.running(), 0u);
  EXPECT_EQ(runner.scheduler.take(1), 1u) << "still first in line";
}

TEST(SchedulerTest, EndingAQueuedJobRemovesItAndSkipsItsDependents) {
  FakeRunner runner(1);
  runner.submit(1);
  runner.submit(2);             // ready, never started: killed while queued
  runner.submit(3, 0, {2});     // waits for it
  runner.submit(4, 0, {1, 3});  // waits for both
  EXPECT_EQ(runner.start_all(), (std::vector<Key>{1}));
  runner.end(2, false);
  EXPECT_EQ(runner.skipped, (std::vector<Key>{3, 4}));
  runner.end(1, true);
  EXPECT_TRUE(runner.start_all().empty()) << "2 was removed from the ready set";
  EXPECT_EQ(runner.scheduler.size(), 0u);
}

TEST(SchedulerTest, EndingAJobTwiceOrAnUnknownOneChangesNothing) {
  FakeRunner runner(2);
  runner.submit(1);
  runner.submit(2, 0, {1});
  runner.start_all();
  runner.end(1, true);
  EXPECT_TRUE(runner.scheduler.ended(1, false).empty()) << "1 is gone: 2 is not skipped";
  EXPECT_TRUE(runner.scheduler.ended(42, false).empty());
  EXPECT_EQ(runner.start_all(), (std::vector<Key>{2}));
  EXPECT_EQ(runner.scheduler.running(), 1u);
}

// 10,000 jobs in 100 chains, with mixed priorities: all run, no slot leaks.
TEST(SchedulerTest, ManyJobsNoSlotLeaks) {
  FakeRunner runner(4);
  for (Key key = 1; key <= 10000; ++key) {
    std::vector<Key> after;
    if (key > 100) after.push_back(key - 100);
    runner.submit(key, static_cast<int>(key % 3), after);
  }
  std::size_t ended = 0;
  while (true) {
    runner.start_all();
    if (runner.running.empty()) break;
    EXPECT_LE(runner.running.size(), 4u);
    runner.end(runner.running.front(), true);
    ++ended;
  }
  EXPECT_EQ(ended, 10000u);
  EXPECT_EQ(runner.scheduler.size(), 0u);
  EXPECT_EQ(runner.scheduler.running(), 0u);
}

}  // namespace
}  // namespace meanwhile
