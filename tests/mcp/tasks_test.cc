// MCP tasks over lane jobs: status mapping, updates, cancellation, cursors, ttl, and the wait
// behind tasks/result.
#include "mcp/tasks.h"

#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>

namespace meanwhile::mcp {
namespace {

using namespace std::chrono_literals;

JobInfo job(const std::string& id, JobStatus status, std::optional<int> exit_code = {}) {
  JobInfo info;
  info.id = id;
  info.status = status;
  info.exit_code = exit_code;
  return info;
}

TEST(TaskStatus, MapsEveryJobStatus) {
  EXPECT_EQ(task_status_of(job("1", JobStatus::queued)), TaskStatus::working);
  EXPECT_EQ(task_status_of(job("1", JobStatus::running)), TaskStatus::working);
  EXPECT_EQ(task_status_of(job("1", JobStatus::exited, 0)), TaskStatus::completed);
  EXPECT_EQ(task_status_of(job("1", JobStatus::exited, 2)), TaskStatus::failed);
  JobInfo signalled = job("1", JobStatus::exited);
  signalled.term_signal = 9;
  EXPECT_EQ(task_status_of(signalled), TaskStatus::failed);
  EXPECT_EQ(task_status_of(job("1", JobStatus::killed)), TaskStatus::cancelled);
  EXPECT_EQ(task_status_of(job("1", JobStatus::timed_out)), TaskStatus::failed);
  EXPECT_EQ(task_status_of(job("1", JobStatus::skipped)), TaskStatus::failed);
  EXPECT_EQ(task_status_of(job("1", JobStatus::failed_to_start)), TaskStatus::failed);
  EXPECT_EQ(task_status_of(job("1", JobStatus::lost)), TaskStatus::failed);
  EXPECT_EQ(status_message_of(job("4", JobStatus::exited, 3)), "job 4 exited with code 3");
}

TEST(TaskTable, FollowsItsJobAndReportsVisibleChanges) {
  TaskTable table;
  Task created = table.create("7", 60s);
  EXPECT_EQ(created.status, TaskStatus::working);
  EXPECT_FALSE(table.apply(job("8", JobStatus::running)).has_value()) << "not a task";

  auto running = table.apply(job("7", JobStatus::running));
  ASSERT_TRUE(running.has_value());
  EXPECT_EQ(running->status, TaskStatus::working);
  EXPECT_EQ(running->status_message, "job 7 is running");
  EXPECT_FALSE(table.apply(job("7", JobStatus::running)).has_value()) << "nothing changed";

  auto done = table.apply(job("7", JobStatus::exited, 0));
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->status, TaskStatus::completed);
  ASSERT_TRUE(done->ended_job.has_value());
  EXPECT_TRUE(done->terminal_at.has_value());

  nlohmann::json state = task_to_json(*done, 500ms);
  EXPECT_EQ(state["taskId"], "7");
  EXPECT_EQ(state["status"], "completed");
  EXPECT_EQ(state["ttl"], 60000);
  EXPECT_EQ(state["pollInterval"], 500);
  EXPECT_EQ(state["createdAt"].get<std::string>().size(), 24u);  // 2025-11-25T10:30:00.123Z
}

TEST(TaskTable, CancelledStaysCancelledAndTerminalCannotBeCancelled) {
  TaskTable table;
  table.create("1", 60s);
  auto cancelled = table.cancel("1");
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->status, TaskStatus::cancelled);
  EXPECT_FALSE(table.apply(job("1", JobStatus::exited, 0)).has_value());
  auto task = table.get("1");
  ASSERT_TRUE(task.ok());
  EXPECT_EQ(task->status, TaskStatus::cancelled);
  EXPECT_TRUE(task->ended_job.has_value()) << "the job's end is still recorded for tasks/result";

  auto again = table.cancel("1");
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().find("already cancelled"), std::string::npos);
  EXPECT_FALSE(table.cancel("nope").ok());
}

TEST(TaskTable, ListsInPagesWithOpaqueCursors) {
  TaskTable table;
  for (int i = 1; i <= 5; ++i) table.create(std::to_string(i), 60s);
  auto first = table.list("", 2);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->tasks.size(), 2u);
  EXPECT_EQ(first->tasks[0].id, "1");
  ASSERT_FALSE(first->next_cursor.empty());
  auto second = table.list(first->next_cursor, 2);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->tasks[0].id, "3");
  auto third = table.list(second->next_cursor, 2);
  ASSERT_TRUE(third.ok());
  ASSERT_EQ(third->tasks.size(), 1u);
  EXPECT_EQ(third->tasks[0].id, "5");
  EXPECT_TRUE(third->next_cursor.empty());
  for (const char* bad : {"x", "after:", "after:12x", "after:-1"}) {
    EXPECT_FALSE(table.list(bad, 2).ok()) << bad;
  }
}

TEST(TaskTable, ForgetsATaskTtlAfterItEnded) {
  // A clock the test moves: the ttl is measured on it, no sleeping.
  WallClock::time_point now = WallClock::now();
  TaskTable table([&] { return now; });
  table.create("1", 50ms);
  now += 80ms;
  EXPECT_TRUE(table.get("1").ok()) << "a working task is kept past its ttl";
  table.apply(job("1", JobStatus::exited, 0));
  now += 49ms;
  EXPECT_TRUE(table.get("1").ok()) << "ttl counts from the end";
  now += 2ms;
  auto expired = table.get("1");
  ASSERT_FALSE(expired.ok());
  EXPECT_NE(expired.error().find("expired"), std::string::npos);
  EXPECT_NE(table.get("2").error().find("no task"), std::string::npos);
  EXPECT_EQ(table.size(), 0u);
}

TEST(TaskTable, ClampsRequestedTtl) {
  EXPECT_EQ(TaskTable::effective_ttl(std::nullopt), TaskTable::kDefaultTtl);
  EXPECT_EQ(TaskTable::effective_ttl(5), TaskTable::kMinTtl);
  EXPECT_EQ(TaskTable::effective_ttl(1e12), TaskTable::kMaxTtl);
  EXPECT_EQ(TaskTable::effective_ttl(30000), 30000ms);
}

TEST(TaskTable, WaitReturnsWhenTheJobEnds) {
  TaskTable table;
  table.create("1", 60s);
  auto waited =
      std::async(std::launch::async, [&] { return table.wait_job_ended("1", nullptr, 60s); });
  EXPECT_EQ(waited.wait_for(50ms), std::future_status::timeout);
  table.apply(job("1", JobStatus::exited, 4));
  ASSERT_EQ(waited.wait_for(5s), std::future_status::ready);
  auto task = waited.get();
  ASSERT_TRUE(task.ok());
  EXPECT_EQ(task->status, TaskStatus::failed);
  EXPECT_EQ(task->ended_job->exit_code, 4);
}

TEST(TaskTable, WaitGivesUpAtItsTimeoutWithTheJobNotEnded) {
  TaskTable table;
  table.create("1", 60s);
  auto task = table.wait_job_ended("1", nullptr, 30ms);
  ASSERT_TRUE(task.ok());
  EXPECT_FALSE(task->ended_job.has_value());
  EXPECT_FALSE(table.wait_job_ended("2", nullptr, 30ms).ok()) << "unknown task";
}

TEST(TaskTable, WaitEndsOnCancelAndOnStop) {
  TaskTable table;
  table.create("1", 60s);
  std::atomic<bool> cancel{false};
  auto waited =
      std::async(std::launch::async, [&] { return table.wait_job_ended("1", &cancel, 60s); });
  std::this_thread::sleep_for(20ms);
  cancel = true;
  table.wake_all();
  ASSERT_EQ(waited.wait_for(5s), std::future_status::ready);
  EXPECT_FALSE(waited.get().ok());

  auto stopped =
      std::async(std::launch::async, [&] { return table.wait_job_ended("1", nullptr, 60s); });
  std::this_thread::sleep_for(20ms);
  table.wake_all(/*stop=*/true);
  ASSERT_EQ(stopped.wait_for(5s), std::future_status::ready);
  EXPECT_FALSE(stopped.get().ok());
}

}  // namespace
}  // namespace meanwhile::mcp
