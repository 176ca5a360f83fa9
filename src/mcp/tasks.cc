#include "mcp/tasks.h"

#include <algorithm>
#include <charconv>
#include <ctime>

#include <fmt/format.h>

namespace meanwhile::mcp {

const char* to_string(TaskStatus status) {
  switch (status) {
    case TaskStatus::working:
      return "working";
    case TaskStatus::completed:
      return "completed";
    case TaskStatus::failed:
      return "failed";
    case TaskStatus::cancelled:
      return "cancelled";
  }
  return "working";
}

bool is_terminal(TaskStatus status) {
  return status != TaskStatus::working;
}

TaskStatus task_status_of(const JobInfo& job) {
  switch (job.status) {
    case JobStatus::queued:
    case JobStatus::running:
      return TaskStatus::working;
    case JobStatus::exited:
      return job.succeeded() ? TaskStatus::completed : TaskStatus::failed;
    case JobStatus::killed:
      return TaskStatus::cancelled;
    case JobStatus::timed_out:
    case JobStatus::skipped:
    case JobStatus::failed_to_start:
    case JobStatus::lost:
      return TaskStatus::failed;
  }
  return TaskStatus::failed;
}

std::string status_message_of(const JobInfo& job) {
  switch (job.status) {
    case JobStatus::queued:
      return "job " + job.id + " is queued";
    case JobStatus::running:
      return "job " + job.id + " is running";
    case JobStatus::exited:
      if (job.exit_code) return fmt::format("job {} exited with code {}", job.id, *job.exit_code);
      if (job.term_signal) {
        return fmt::format("job {} died of signal {}", job.id, *job.term_signal);
      }
      return "job " + job.id + " exited";
    case JobStatus::killed:
      return "job " + job.id + " was killed";
    case JobStatus::timed_out:
      return "job " + job.id + " timed out and was killed";
    case JobStatus::skipped:
    case JobStatus::failed_to_start:
    case JobStatus::lost:
      return fmt::format("job {} {}{}{}", job.id, meanwhile::to_string(job.status),
                         job.error.empty() ? "" : ": ", job.error);
  }
  return "";
}

std::string iso8601(WallClock::time_point time) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch());
  const std::time_t seconds = static_cast<std::time_t>(ms.count() / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900,
                     utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                     ms.count() % 1000);
}

nlohmann::json task_to_json(const Task& task, std::chrono::milliseconds poll_interval) {
  nlohmann::json out = {
      {"taskId", task.id},
      {"status", to_string(task.status)},
      {"createdAt", iso8601(task.created_at)},
      {"lastUpdatedAt", iso8601(task.last_updated_at)},
      {"ttl", task.ttl.count()},
      {"pollInterval", poll_interval.count()},
  };
  if (!task.status_message.empty()) out["statusMessage"] = task.status_message;
  return out;
}

std::chrono::milliseconds TaskTable::effective_ttl(std::optional<double> requested_ms) {
  if (!requested_ms) return kDefaultTtl;
  const double clamped = std::clamp(*requested_ms, static_cast<double>(kMinTtl.count()),
                                    static_cast<double>(kMaxTtl.count()));
  return std::chrono::milliseconds(static_cast<std::int64_t>(clamped));
}

Task TaskTable::create(const JobId& job, std::chrono::milliseconds ttl) {
  const auto now = now_();
  std::lock_guard lock(mu_);
  expire_locked(now);
  Task task;
  task.id = job;
  task.seq = next_seq_++;
  task.created_at = now;
  task.last_updated_at = now;
  task.ttl = ttl;
  task.status_message = "job " + job + " is queued";
  expired_.erase(job);
  tasks_[job] = task;
  return task;
}

void TaskTable::expire_locked(WallClock::time_point now) {
  for (auto it = tasks_.begin(); it != tasks_.end();) {
    const Task& task = it->second;
    if (task.terminal_at && now >= *task.terminal_at + task.ttl) {
      if (expired_.insert(it->first).second) expired_order_.push_back(it->first);
      it = tasks_.erase(it);
    } else {
      ++it;
    }
  }
  while (expired_order_.size() > kMaxRemembered) {
    expired_.erase(expired_order_.front());
    expired_order_.pop_front();
  }
}

Result<Task*> TaskTable::find_locked(const std::string& id) {
  expire_locked(now_());
  auto it = tasks_.find(id);
  if (it != tasks_.end()) return &it->second;
  if (expired_.count(id)) {
    return make_error("Failed to retrieve task: task " + id + " has expired (its ttl passed)");
  }
  return make_error("Failed to retrieve task: no task with taskId " + id);
}

Result<Task> TaskTable::get(const std::string& id) {
  std::lock_guard lock(mu_);
  auto found = find_locked(id);
  if (!found) return make_error(found.error());
  return **found;
}

std::optional<Task> TaskTable::apply(const JobInfo& job) {
  std::lock_guard lock(mu_);
  auto it = tasks_.find(job.id);
  if (it == tasks_.end()) return std::nullopt;
  Task& task = it->second;
  const auto now = now_();

  bool changed = false;
  if (meanwhile::is_terminal(job.status) && !task.ended_job) {
    task.ended_job = job;
    cv_.notify_all();
  }
  if (!is_terminal(task.status)) {  // a terminal task never changes again
    const TaskStatus status = task_status_of(job);
    std::string message = status_message_of(job);
    if (status != task.status || message != task.status_message) {
      task.status = status;
      task.status_message = std::move(message);
      task.last_updated_at = now;
      changed = true;
    }
    if (is_terminal(task.status)) task.terminal_at = now;
  }
  if (!changed) return std::nullopt;
  return task;
}

Result<Task> TaskTable::cancel(const std::string& id) {
  std::lock_guard lock(mu_);
  auto found = find_locked(id);
  if (!found) return make_error(found.error());
  Task& task = **found;
  if (is_terminal(task.status)) {
    return make_error(
        fmt::format("Cannot cancel task {}: it is already {}", id, to_string(task.status)));
  }
  const auto now = now_();
  task.status = TaskStatus::cancelled;
  task.status_message = "cancelled by the client (tasks/cancel); job " + id + " was killed";
  task.last_updated_at = now;
  task.terminal_at = now;
  return task;
}

Result<TaskTable::Page> TaskTable::list(const std::string& cursor, std::size_t page_size) {
  std::uint64_t after = 0;
  if (!cursor.empty()) {
    const std::string_view prefix = "after:";
    const char* begin = cursor.data() + prefix.size();
    const char* end = cursor.data() + cursor.size();
    if (cursor.compare(0, prefix.size(), prefix) != 0 ||
        std::from_chars(begin, end, after).ptr != end || begin == end) {
      return make_error("cursor: not a cursor this server returned: " + cursor);
    }
  }
  std::lock_guard lock(mu_);
  expire_locked(now_());
  std::vector<const Task*> ordered;
  for (const auto& [id, task] : tasks_) {
    if (task.seq > after) ordered.push_back(&task);
  }
  std::sort(ordered.begin(), ordered.end(),
            [](const Task* a, const Task* b) { return a->seq < b->seq; });
  Page page;
  for (const Task* task : ordered) {
    if (page.tasks.size() == page_size) {
      page.next_cursor = fmt::format("after:{}", page.tasks.back().seq);
      break;
    }
    page.tasks.push_back(*task);
  }
  return page;
}

Result<Task> TaskTable::wait_job_ended(const std::string& id, const std::atomic<bool>* cancel,
                                       std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mu_);
  for (;;) {
    auto found = find_locked(id);
    if (!found) return make_error(found.error());
    if ((*found)->ended_job) return **found;
    if (stopped_) return make_error("the server is shutting down");
    if (cancel && cancel->load()) return make_error("the request was cancelled");
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      auto again = find_locked(id);
      if (!again) return make_error(again.error());
      return **again;
    }
  }
}

void TaskTable::wake_all(bool stop) {
  std::lock_guard lock(mu_);
  if (stop) stopped_ = true;
  cv_.notify_all();
}

void TaskTable::set_result(const std::string& id, nlohmann::json result) {
  std::lock_guard lock(mu_);
  auto it = tasks_.find(id);
  if (it != tasks_.end()) it->second.result = std::move(result);
}

std::size_t TaskTable::size() {
  std::lock_guard lock(mu_);
  expire_locked(now_());
  return tasks_.size();
}

}  // namespace meanwhile::mcp
