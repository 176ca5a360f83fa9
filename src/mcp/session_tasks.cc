// Session: tasks (tasks/get, tasks/result, tasks/list, tasks/cancel) and the notifications fed
// by the lane's observer.
#include <fmt/format.h>

#include "mcp/log.h"
#include "mcp/params.h"
#include "mcp/session.h"
#include "tools/format.h"

namespace meanwhile::mcp {

namespace {
constexpr const char* kRelatedTaskKey = "io.modelcontextprotocol/related-task";
constexpr std::size_t kResultOutputBytes = 16000;
constexpr std::size_t kAnnounceOutputBytes = 2000;
constexpr std::chrono::milliseconds kResultRecheck{2000};

// Whether `schema` (a JSON Schema object) lets an object carry `property`.
bool schema_allows(const nlohmann::json& schema, const std::string& property) {
  if (!schema.is_object()) return true;
  auto properties = schema.find("properties");
  if (properties != schema.end() && properties->is_object() && properties->contains(property)) {
    return true;
  }
  auto additional = schema.find("additionalProperties");
  return additional == schema.end() || *additional != false;
}
}  // namespace

void Session::get_task(const json& id, const json& params) {
  auto task_id = required_string(params, "taskId");
  if (!task_id) return respond_error(id, jsonrpc::kInvalidParams, task_id.error());
  auto task = tasks_.get(*task_id);
  if (!task) return respond_error(id, jsonrpc::kInvalidParams, task.error());
  respond(id, task_to_json(*task, options_.poll_interval));
}

void Session::list_tasks(const json& id, const json& params) {
  std::string cursor;
  if (auto it = params.find("cursor"); it != params.end() && !it->is_null()) {
    if (!it->is_string()) {
      return respond_error(id, jsonrpc::kInvalidParams,
                           "Invalid params: cursor: expected a string");
    }
    cursor = it->get<std::string>();
  }
  auto page = tasks_.list(cursor, options_.tasks_page_size);
  if (!page) return respond_error(id, jsonrpc::kInvalidParams, "Invalid params: " + page.error());
  json tasks = json::array();
  for (const Task& task : page->tasks) tasks.push_back(task_to_json(task, options_.poll_interval));
  json result = {{"tasks", std::move(tasks)}};
  if (!page->next_cursor.empty()) result["nextCursor"] = page->next_cursor;
  respond(id, std::move(result));
}

void Session::cancel_task(const json& id, const json& params) {
  auto task_id = required_string(params, "taskId");
  if (!task_id) return respond_error(id, jsonrpc::kInvalidParams, task_id.error());
  // Cancelled before the kill, so that the task stays cancelled whatever the job does next.
  auto task = tasks_.cancel(*task_id);
  if (!task) return respond_error(id, jsonrpc::kInvalidParams, task.error());
  if (auto killed = lane_.kill(*task_id); !killed) {
    log("tasks/cancel {}: {}", *task_id, killed.error());  // it ended on its own meanwhile
  }
  json state = task_to_json(*task, options_.poll_interval);
  respond(id, state);
  outbox_.send(jsonrpc::make_notification("notifications/tasks/status", std::move(state)),
               /*droppable=*/true);
}

void Session::task_result(const json& id, const json& params, const Cancel& cancel) {
  auto task_id = required_string(params, "taskId");
  if (!task_id) return respond_error(id, jsonrpc::kInvalidParams, task_id.error(), cancel);
  // Blocks until the job is terminal: the spec's tasks/result. The observer wakes it; the
  // periodic look at the lane only guards against a missed update.
  auto task = tasks_.wait_job_ended(*task_id, &cancel->stop, kResultRecheck);
  while (task && !task->ended_job) {
    if (auto job = lane_.get(*task_id); job.ok()) tasks_.apply(*job);
    task = tasks_.wait_job_ended(*task_id, &cancel->stop, kResultRecheck);
  }
  if (!task) {
    // Stopped by the server's shutdown rather than by a bad taskId.
    const int code = stopping_ ? jsonrpc::kServerError : jsonrpc::kInvalidParams;
    return respond_error(id, code, task.error(), cancel);
  }
  json result = task->result;
  if (result.is_null()) {
    result = finished_job_result(*task->ended_job);
    tasks_.set_result(*task_id, result);
  }
  result["_meta"][kRelatedTaskKey] = {{"taskId", *task_id}};
  respond(id, std::move(result), cancel);
}

// The CallToolResult of a task-augmented background_run: the job as it ended, with its output
// (head and tail), in the same format as the agent's notes. isError unless it exited with 0.
nlohmann::json Session::finished_job_result(const JobInfo& job) {
  Note note;
  note.kind = NoteKind::finished;
  note.job = job.id;
  note.priority = job.spec.priority;
  note.info = job;
  ReadRequest read;
  read.id = job.id;
  read.mode = ReadMode::all;
  read.reader = "mcp-task-result";
  read.max_bytes = kResultOutputBytes;
  if (auto output = lane_.read_output(read); output.ok()) note.preview = output->text;

  ToolResult result;
  result.text = format_note(note);
  result.structured = job_to_json(job);
  result.is_error = !job.succeeded();
  const ToolDef* run = registry_.find("background_run");
  if (result.structured.is_object() && run && schema_allows(run->output_schema, "output")) {
    result.structured["output"] = note.preview;
  }
  return tool_result_to_json(result);
}

void Session::events_loop() {
  std::unique_lock lock(events_mu_);
  for (;;) {
    events_cv_.wait(lock, [this] { return events_stop_ || !events_.empty(); });
    if (events_stop_) return;
    JobInfo job = std::move(events_.front());
    events_.pop_front();
    lock.unlock();

    if (auto changed = tasks_.apply(job)) {
      outbox_.send(jsonrpc::make_notification("notifications/tasks/status",
                                              task_to_json(*changed, options_.poll_interval)),
                   /*droppable=*/true);
    }
    announce_resource_changes(job);
    if (meanwhile::is_terminal(job.status)) announce_finished(job);
    lock.lock();
  }
}

// notifications/message for a finished job. Built from the observer's update, not from the
// lane's note queue, so that background_wait still receives every note.
void Session::announce_finished(const JobInfo& job) {
  // A job that failed is a warning, so that a client at level "warning" still hears of it.
  const char* level = job.succeeded() ? "info" : "warning";
  if (log_level_.load() > logging_level_rank(level)) return;
  Note note;
  note.kind = NoteKind::finished;
  note.job = job.id;
  note.priority = job.spec.priority;
  note.info = job;
  ReadRequest read;
  read.id = job.id;
  read.mode = ReadMode::all;
  read.reader = "mcp-announce";
  read.max_bytes = kAnnounceOutputBytes;
  if (auto output = lane_.read_output(read); output.ok()) note.preview = output->text;
  json params = {{"level", level}, {"logger", "meanwhile"}, {"data", format_note(note)}};
  outbox_.send(jsonrpc::make_notification("notifications/message", std::move(params)),
               /*droppable=*/true);
}

}  // namespace meanwhile::mcp
