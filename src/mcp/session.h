// One MCP session over one connection: the lifecycle (initialize), the methods, concurrency and
// cancellation of requests, tasks, and the notifications fed by the lane's observer.
//
// Threads: handle_line() runs on the reader thread and answers quick methods itself; requests
// that may block (tools/call, tasks/result) go to a WorkerPool. The lane's observer only queues
// job updates; an events thread turns them into notifications/tasks/status and, for finished
// jobs, notifications/message. Every message leaves through the Outbox.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

#include "mcp/jsonrpc.h"
#include "mcp/protocol.h"
#include "mcp/stdio_transport.h"
#include "mcp/tasks.h"
#include "mcp/worker_pool.h"
#include "meanwhile/lane.h"
#include "meanwhile/tools.h"

namespace meanwhile::mcp {

struct SessionOptions {
  std::string workspace;  // absolute, symlinks resolved (ToolContext::workspace)
  std::size_t max_workers = 16;
  std::chrono::milliseconds poll_interval{500};  // suggested to task pollers
  std::size_t tasks_page_size = 50;
};

class Session {
 public:
  Session(Lane& lane, const ToolRegistry& registry, Outbox& outbox, SessionOptions options);
  ~Session();  // shutdown()
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void handle_line(std::string_view line);
  // The reader refused a line longer than its limit.
  void handle_too_long(std::size_t limit);
  // Cancels requests in flight, waits for the workers, stops the events thread and detaches
  // from the lane. The lane itself (and its jobs) is the caller's to end.
  void shutdown();

 private:
  using json = nlohmann::json;
  using Cancel = std::shared_ptr<std::atomic<bool>>;

  void handle_request(const json& id, const std::string& method, const json& params);
  void handle_notification(const std::string& method, const json& params);
  // Runs `work` on the pool, registered as in flight so notifications/cancelled can reach it.
  void run_async(const json& id, std::function<void(const Cancel&)> work);

  void respond(const json& id, json result, const Cancel& cancel = nullptr);
  void respond_error(const json& id, int code, std::string message, const Cancel& cancel = nullptr);

  void initialize(const json& id, const json& params);
  void list_tools(const json& id, const json& params);
  void call_tool(const json& id, const json& params, const Cancel& cancel);
  void call_tool_as_task(const json& id, const std::string& name, const json& arguments,
                         const json& task, const Cancel& cancel);
  json tool_result_to_json(const ToolResult& result) const;

  // Tasks (session_tasks.cc).
  void get_task(const json& id, const json& params);
  void task_result(const json& id, const json& params, const Cancel& cancel);
  void list_tasks(const json& id, const json& params);
  void cancel_task(const json& id, const json& params);
  json finished_job_result(const JobInfo& job);
  void events_loop();
  void announce_finished(const JobInfo& job);

  Lane& lane_;
  const ToolRegistry& registry_;
  Outbox& outbox_;
  const SessionOptions options_;

  // Reader thread only.
  bool initialized_ = false;
  std::string protocol_version_;
  // Read by workers after being set on the reader thread before they were posted.
  ProtocolFeatures features_;
  std::atomic<int> log_level_{1};  // notifications/message at or above: info by default

  std::atomic<bool> stopping_{false};
  std::mutex inflight_mu_;
  std::map<std::string, Cancel> inflight_;  // by jsonrpc::id_key

  TaskTable tasks_;

  std::mutex events_mu_;
  std::condition_variable events_cv_;
  std::deque<JobInfo> events_;
  bool events_stop_ = false;
  std::thread events_thread_;

  WorkerPool pool_;  // last: its threads use everything above
};

}  // namespace meanwhile::mcp
