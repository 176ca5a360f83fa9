// One MCP session over one connection: the lifecycle (initialize), the methods, concurrency and
// cancellation of requests, tasks, and the notifications fed by the lane's observer.
//
// Threads: handle_line() runs on the reader thread and answers the protocol's own methods itself.
// Tool calls go to one of two pools: calls that block by design (background_wait, bash,
// tasks/result) to the blocking pool, every other tool to the quick pool, so a control call
// (check_background, background_kill) is answered at once however many waits are in flight.
// The lane's observer only queues job updates; an events thread turns them into
// notifications/tasks/status and, for finished jobs, notifications/message. Every message
// leaves through the Outbox.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

#include "mcp/backpressure.h"
#include "mcp/jsonrpc.h"
#include "mcp/protocol.h"
#include "mcp/stdio_transport.h"
#include "mcp/tasks.h"
#include "mcp/worker_pool.h"
#include "meanwhile/lane.h"
#include "meanwhile/tools.h"

namespace meanwhile::mcp {

struct SessionOptions {
  std::string workspace;                 // absolute, symlinks resolved (ToolContext::workspace)
  std::size_t max_workers = 16;          // blocking requests running at once
  std::size_t max_queued_blocking = 64;  // blocking requests waiting for one; then "busy"
  std::size_t max_quick_workers = 4;
  // Counts the quick requests read but not answered (the reader's bound); may be null.
  Backpressure* backpressure = nullptr;
  WorkerPool::ThreadStarter start_thread = {};   // empty: std::thread (tests inject failures)
  std::chrono::milliseconds poll_interval{500};  // suggested to task pollers
  std::size_t tasks_page_size = 50;
  // Send structuredContent for every tool, also those answered best by text (mcp_text_only):
  // for programmatic clients, at the cost of what Claude Code and Codex show their model.
  bool all_structured = false;
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
  // Waits until every request read so far has been answered, at most `budget`: the client
  // closed its input after its last request (`printf ... | meanwhile mcp`). Returns how many
  // are still in flight.
  std::size_t drain(std::chrono::milliseconds budget);
  // Stops the requests in flight (a background_wait returns what it has, and is answered),
  // answers those not started with an error, waits for the workers, stops the events thread
  // and detaches from the lane. The lane itself (and its jobs) is the caller's to end.
  void shutdown();

 private:
  using json = nlohmann::json;
  // One request in flight. `stop` asks the work to return early (the tool's cancel flag);
  // `cancelled` (by notifications/cancelled) also suppresses its response, as the spec asks.
  struct Request {
    std::atomic<bool> stop{false};
    std::atomic<bool> cancelled{false};
  };
  using Cancel = std::shared_ptr<Request>;
  enum class Pool { quick, blocking };

  void handle_request(const json& id, const std::string& method, const json& params);
  void handle_notification(const std::string& method, const json& params);
  // Runs `work` on a pool, registered as in flight so notifications/cancelled can reach it.
  void run_async(const json& id, Pool pool, std::function<void(const Cancel&)> work);
  Pool pool_of_tool_call(const json& params) const;

  // Returns false when the response was not sent (the request was cancelled).
  bool respond(const json& id, json result, const Cancel& cancel = nullptr);
  void respond_error(const json& id, int code, std::string message, const Cancel& cancel = nullptr);

  void initialize(const json& id, const json& params);
  void list_tools(const json& id, const json& params);
  // Tools (session_tools.cc).
  void call_tool(const json& id, const json& params, const Cancel& cancel);
  void call_tool_as_task(const json& id, const std::string& name, const json& arguments,
                         const json& task, const Cancel& cancel);
  // `structured`: false sends the text alone (text_only tools).
  json tool_result_to_json(const ToolResult& result, bool structured = true) const;
  bool text_only(const ToolDef& def) const { return def.mcp_text_only && !options_.all_structured; }
  // The notes pending for this session: those a result could not carry, then the lane's.
  std::vector<Note> take_pending_notes();
  // Notes taken for a result that was never sent: the next result carries them.
  void keep_pending_notes(std::vector<Note> notes);

  // Resources: job logs (session_resources.cc).
  void list_resources(const json& id, const json& params);
  void list_resource_templates(const json& id, const json& params);
  void read_resource(const json& id, const json& params);
  void subscribe_resource(const json& id, const json& params, bool subscribe);
  void announce_resource_changes(const JobInfo& job);

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
  std::condition_variable inflight_cv_;     // outstanding_ went down
  std::map<std::string, Cancel> inflight_;  // by jsonrpc::id_key
  std::size_t outstanding_ = 0;             // requests posted and not finished (ids may repeat)

  TaskTable tasks_;

  std::mutex subscriptions_mu_;
  std::set<JobId> subscriptions_;  // jobs whose log resource a client subscribed to

  std::mutex carried_mu_;
  std::vector<Note> carried_;  // drained for a response that was then not sent

  std::mutex events_mu_;
  std::condition_variable events_cv_;
  std::deque<JobInfo> events_;
  bool events_stop_ = false;
  std::thread events_thread_;

  // Last: their threads use everything above.
  WorkerPool blocking_pool_;
  WorkerPool quick_pool_;
};

}  // namespace meanwhile::mcp
