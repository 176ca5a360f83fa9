// MCP tasks (protocol 2025-11-25) over lane jobs: a task-augmented background_run creates one
// task per job, with the job id as task id. The table is fed job updates (from the lane's
// observer) and answers tasks/get, tasks/list, tasks/cancel and the wait behind tasks/result.
//
// Life time: a task is kept while its job runs and forgotten `ttl` after it reached a terminal
// status (the spec lets a receiver keep a task longer than ttl from creation; this way a job
// that outlives its ttl still has a result to fetch). Expired ids are remembered so that a late
// tasks/get says "expired" rather than "not found". Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "meanwhile/lane.h"
#include "meanwhile/result.h"

namespace meanwhile::mcp {

enum class TaskStatus { working, completed, failed, cancelled };

const char* to_string(TaskStatus status);
bool is_terminal(TaskStatus status);

// The task status a job's status maps to, and a short human-readable statusMessage.
TaskStatus task_status_of(const JobInfo& job);
std::string status_message_of(const JobInfo& job);

struct Task {
  std::string id;         // == the job id
  std::uint64_t seq = 0;  // creation order, for tasks/list cursors
  WallClock::time_point created_at{};
  WallClock::time_point last_updated_at{};
  std::chrono::milliseconds ttl{0};
  TaskStatus status = TaskStatus::working;
  std::string status_message;
  std::optional<WallClock::time_point> terminal_at;
  std::optional<JobInfo> ended_job;  // the job once it reached a terminal status
  nlohmann::json result;             // the CallToolResult for tasks/result, once built
};

// The Task object of the protocol: taskId, status, statusMessage, createdAt, lastUpdatedAt,
// ttl, pollInterval.
nlohmann::json task_to_json(const Task& task, std::chrono::milliseconds poll_interval);
// ISO 8601 UTC with milliseconds, e.g. "2025-11-25T10:30:00.123Z".
std::string iso8601(WallClock::time_point time);

class TaskTable {
 public:
  static constexpr std::chrono::milliseconds kDefaultTtl{60 * 60 * 1000};
  static constexpr std::chrono::milliseconds kMinTtl{1000};
  static constexpr std::chrono::milliseconds kMaxTtl{24 * 60 * 60 * 1000};
  static constexpr std::size_t kMaxRemembered = 10000;

  // Requested ttl (ms; nullopt: default) clamped to [kMinTtl, kMaxTtl].
  static std::chrono::milliseconds effective_ttl(std::optional<double> requested_ms);

  // What "now" is for creation times and ttls: the wall clock, or a test's own (a fake clock
  // that tests advance instead of sleeping).
  using Now = std::function<WallClock::time_point()>;
  explicit TaskTable(Now now = [] { return WallClock::now(); }) : now_(std::move(now)) {}

  Task create(const JobId& job, std::chrono::milliseconds ttl);

  // Why a lookup failed: "Failed to retrieve task: ..." messages for -32602.
  Result<Task> get(const std::string& id);

  // Applies a job update. Returns the task when its status or statusMessage changed (for a
  // notifications/tasks/status); nullopt when the job is not a task or nothing visible changed.
  std::optional<Task> apply(const JobInfo& job);

  // Marks a working task cancelled (it stays cancelled whatever the job does next). Errors:
  // unknown, expired, or already terminal.
  Result<Task> cancel(const std::string& id);

  struct Page {
    std::vector<Task> tasks;
    std::string next_cursor;  // empty: no more
  };
  Result<Page> list(const std::string& cursor, std::size_t page_size);

  // Blocks until the task's job has ended (returns the task), the task is gone, `cancel` is
  // set or wake_all() was called with stop=true (errors), or `timeout` passed (returns the task
  // with ended_job still empty).
  Result<Task> wait_job_ended(const std::string& id, const std::atomic<bool>* cancel,
                              std::chrono::milliseconds timeout);
  // Wakes every waiter so it re-checks its cancel flag; stop=true makes every wait return.
  void wake_all(bool stop = false);

  // Stores the CallToolResult built for a finished task (kept until the task expires).
  void set_result(const std::string& id, nlohmann::json result);

  std::size_t size();

 private:
  void expire_locked(WallClock::time_point now);
  Result<Task*> find_locked(const std::string& id);

  const Now now_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Task> tasks_;
  std::set<std::string> expired_;
  std::deque<std::string> expired_order_;
  std::uint64_t next_seq_ = 1;
  bool stopped_ = false;
};

}  // namespace meanwhile::mcp
