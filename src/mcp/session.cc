#include "mcp/session.h"

#include <fmt/format.h>

#include "mcp/log.h"
#include "mcp/params.h"

namespace meanwhile::mcp {

namespace {
constexpr const char* kInstructions =
    "meanwhile runs slow shell commands (test suites, builds, installs, dev servers) in a "
    "background lane so you can keep working. Start one with background_run and keep its "
    "task_id; check_background lists every job (ids survive context loss); background_output "
    "shows what is new since your last read; background_wait blocks until a job finishes; "
    "background_kill ends a job and everything it started; background_input writes to a job's "
    "stdin. When a job finishes, the result of your next call of any meanwhile tool says so "
    "(\"since your last call\"); finished jobs are also announced as log messages.";

// Tools that block by design (up to their timeout, 600 s): they get the blocking pool, every
// other tool returns at once and gets the quick one.
bool blocks(const std::string& tool) {
  return tool == "background_wait" || tool == "bash";
}
}  // namespace

Session::Session(Lane& lane, const ToolRegistry& registry, Outbox& outbox, SessionOptions options)
    : lane_(lane),
      registry_(registry),
      outbox_(outbox),
      options_(std::move(options)),
      blocking_pool_(WorkerPool::Options{.name = "blocking",
                                         .max_threads = options_.max_workers,
                                         .max_queued = options_.max_queued_blocking,
                                         .queue_when_no_thread = false,
                                         .start_thread = options_.start_thread}),
      // Quick work may wait for a running thread: it ends within moments.
      quick_pool_(WorkerPool::Options{.name = "quick",
                                      .max_threads = options_.max_quick_workers,
                                      .queue_when_no_thread = true,
                                      .start_thread = options_.start_thread}) {
  // One quick thread from the start, so that control calls still run when the process limit
  // is later used up by jobs.
  quick_pool_.prestart(1);
  events_thread_ = std::thread([this] { events_loop(); });
  // The observer runs on the lane thread: it only queues a copy, never blocks.
  lane_.set_observer([this](const JobInfo& job) {
    std::lock_guard lock(events_mu_);
    if (events_stop_) return;
    events_.push_back(job);
    events_cv_.notify_one();
  });
}

Session::~Session() {
  shutdown();
}

void Session::shutdown() {
  if (stopping_.exchange(true)) return;
  {
    std::lock_guard lock(inflight_mu_);
    for (auto& [key, cancel] : inflight_) cancel->stop.store(true);
  }
  tasks_.wake_all(/*stop=*/true);
  blocking_pool_.stop_and_join();
  quick_pool_.stop_and_join();
  lane_.set_observer({});
  {
    std::lock_guard lock(events_mu_);
    events_stop_ = true;
    events_cv_.notify_one();
  }
  if (events_thread_.joinable()) events_thread_.join();
}

std::size_t Session::drain(std::chrono::milliseconds budget) {
  std::unique_lock lock(inflight_mu_);
  inflight_cv_.wait_for(lock, budget, [this] { return outstanding_ == 0; });
  return outstanding_;
}

void Session::handle_too_long(std::size_t limit) {
  respond_error(nullptr, jsonrpc::kInvalidRequest,
                fmt::format("Invalid request: message too large (lines over {} bytes are "
                            "refused and discarded)",
                            limit));
}

void Session::handle_line(std::string_view line) {
  jsonrpc::Incoming in = jsonrpc::parse_line(line);
  switch (in.kind) {
    case jsonrpc::Incoming::Kind::empty:
      return;
    case jsonrpc::Incoming::Kind::invalid:
      respond_error(in.id, in.error_code, std::move(in.error_message));
      return;
    case jsonrpc::Incoming::Kind::response:
      log("ignored a response from the client (this server sends no requests): id {}",
          in.id.dump());
      return;
    case jsonrpc::Incoming::Kind::notification:
      handle_notification(in.method, in.params);
      return;
    case jsonrpc::Incoming::Kind::request:
      handle_request(in.id, in.method, in.params);
      return;
  }
}

void Session::handle_notification(const std::string& method, const json& params) {
  if (method == "notifications/cancelled") {
    auto request_id = params.find("requestId");
    if (request_id == params.end()) return;
    auto usable = jsonrpc::request_id(*request_id);  // 1.0 names the request 1
    if (!usable) return;
    std::lock_guard lock(inflight_mu_);
    auto it = inflight_.find(jsonrpc::id_key(*usable));
    if (it == inflight_.end()) return;  // finished already, or never existed: ignored (spec)
    it->second->cancelled.store(true);
    it->second->stop.store(true);
    tasks_.wake_all();  // a tasks/result waiting on the table re-checks its flag
    return;
  }
  // notifications/initialized needs nothing more than a received initialize; the others
  // (progress, roots/list_changed, unknown) do not concern this server.
}

void Session::handle_request(const json& id, const std::string& method, const json& params) {
  if (method == "ping") {
    respond(id, json::object());
    return;
  }
  if (method == "initialize") return initialize(id, params);
  if (!initialized_) {
    return respond_error(id, jsonrpc::kInvalidRequest,
                         "Invalid request: the server is not initialized: send initialize first");
  }
  if (method == "tools/list") return list_tools(id, params);
  if (method == "tools/call") {
    return run_async(id, pool_of_tool_call(params),
                     [this, id, params](const Cancel& cancel) { call_tool(id, params, cancel); });
  }
  if (method == "tasks/result") {
    return run_async(id, Pool::blocking,
                     [this, id, params](const Cancel& cancel) { task_result(id, params, cancel); });
  }
  if (method == "resources/list") return list_resources(id, params);
  if (method == "resources/templates/list") return list_resource_templates(id, params);
  if (method == "resources/read") return read_resource(id, params);
  if (method == "resources/subscribe") return subscribe_resource(id, params, true);
  if (method == "resources/unsubscribe") return subscribe_resource(id, params, false);
  if (method == "tasks/get") return get_task(id, params);
  if (method == "tasks/list") return list_tasks(id, params);
  if (method == "tasks/cancel") return cancel_task(id, params);
  if (method == "logging/setLevel") {
    auto level = required_string(params, "level");
    if (!level) return respond_error(id, jsonrpc::kInvalidParams, level.error());
    const int rank = logging_level_rank(*level);
    if (rank < 0) {
      const std::string message =
          "Invalid params: level: expected one of debug, info, notice, warning, error, "
          "critical, alert, emergency; got \"" +
          *level + "\"";
      return respond_error(id, jsonrpc::kInvalidParams, message);
    }
    log_level_ = rank;
    respond(id, json::object());
    return;
  }
  respond_error(id, jsonrpc::kMethodNotFound, "Method not found: " + method);
}

void Session::initialize(const json& id, const json& params) {
  if (initialized_) {
    return respond_error(id, jsonrpc::kInvalidRequest, "Invalid request: already initialized");
  }
  auto requested = required_string(params, "protocolVersion");
  if (!requested) return respond_error(id, jsonrpc::kInvalidParams, requested.error());
  for (const char* field : {"capabilities", "clientInfo"}) {
    auto it = params.find(field);
    if (it != params.end() && !it->is_object()) {
      return respond_error(id, jsonrpc::kInvalidParams,
                           fmt::format("Invalid params: {}: expected an object", field));
    }
  }
  protocol_version_ = negotiate_protocol_version(*requested);
  features_ = features_of(protocol_version_);
  initialized_ = true;

  std::string client = "an unnamed client";
  if (auto info = params.find("clientInfo"); info != params.end()) {
    client = info->value("name", client) + " " + info->value("version", "");
  }
  log("{} asked for protocol {}; speaking {}", client, *requested, protocol_version_);

  json capabilities = {{"tools", {{"listChanged", false}}},
                       {"logging", json::object()},
                       {"resources", {{"subscribe", true}, {"listChanged", true}}}};
  if (features_.tasks) {
    capabilities["tasks"] = {{"list", json::object()},
                             {"cancel", json::object()},
                             {"requests", {{"tools", {{"call", json::object()}}}}}};
  }
  respond(id, json{{"protocolVersion", protocol_version_},
                   {"capabilities", capabilities},
                   {"serverInfo", {{"name", "meanwhile"}, {"version", MEANWHILE_VERSION}}},
                   {"instructions", kInstructions}});
}

void Session::list_tools(const json& id, const json& params) {
  auto cursor = params.find("cursor");
  if (cursor != params.end() && !cursor->is_null()) {
    // Every tool fits on the first page: no cursor is ever handed out.
    return respond_error(id, jsonrpc::kInvalidParams,
                         "Invalid params: cursor: not a cursor this server returned");
  }
  json tools = json::array();
  for (const ToolDef& def : registry_.tools()) {
    if (def.background) tools.push_back(tool_to_json(def, features_, !text_only(def)));
  }
  respond(id, json{{"tools", std::move(tools)}});
}

Session::Pool Session::pool_of_tool_call(const json& params) const {
  auto name = params.find("name");
  if (name == params.end() || !name->is_string() || !blocks(name->get<std::string>())) {
    return Pool::quick;
  }
  // A task-augmented call only starts a job (and only background_run supports it).
  if (features_.tasks && params.contains("task")) return Pool::quick;
  return Pool::blocking;
}

void Session::run_async(const json& id, Pool pool, std::function<void(const Cancel&)> work) {
  auto cancel = std::make_shared<Request>();
  const std::string key = jsonrpc::id_key(id);
  {
    // A client may reuse an id as soon as it has the response, possibly before the worker
    // below has unregistered it: the newest request owns the id.
    std::lock_guard lock(inflight_mu_);
    inflight_[key] = cancel;
    ++outstanding_;
  }
  Backpressure* counted = pool == Pool::quick ? options_.backpressure : nullptr;
  if (counted) counted->add_request();
  auto unregister = [this, key, cancel, counted] {
    {
      std::lock_guard lock(inflight_mu_);
      auto it = inflight_.find(key);
      if (it != inflight_.end() && it->second == cancel) inflight_.erase(it);
      --outstanding_;
    }
    inflight_cv_.notify_all();
    if (counted) counted->remove_request();
  };
  WorkerPool& workers = pool == Pool::quick ? quick_pool_ : blocking_pool_;
  const WorkerPool::Posted posted =
      workers.post([this, id, cancel, unregister, work = std::move(work)] {
        if (stopping_) {
          // Read before the client went away, never started: still answered.
          respond_error(id, jsonrpc::kServerError,
                        "Server stopping: the request was not started (the connection is closing)",
                        cancel);
        } else if (!cancel->cancelled.load()) {
          work(cancel);
        }
        unregister();
      });
  if (posted) return;
  switch (posted.status) {
    case WorkerPool::Status::no_thread:
      respond_error(id, jsonrpc::kServerError,
                    fmt::format("Server busy: cannot start a thread for this request ({}): the "
                                "process limit (ulimit -u) is probably used up by running jobs; "
                                "retry once some have ended (check_background lists them, "
                                "background_kill ends one)",
                                posted.error));
      break;
    case WorkerPool::Status::queue_full:
      respond_error(
          id, jsonrpc::kServerError,
          fmt::format("Server busy: {}; retry later, or cancel some of them", posted.error));
      break;
    case WorkerPool::Status::stopped:
    case WorkerPool::Status::accepted:
      respond_error(id, jsonrpc::kServerError, "Server stopping: the request was not started");
      break;
  }
  unregister();
}

bool Session::respond(const json& id, json result, const Cancel& cancel) {
  // The spec: a cancelled request gets no response.
  if (cancel && cancel->cancelled.load()) return false;
  outbox_.send(jsonrpc::make_result(id, std::move(result)));
  return true;
}

void Session::respond_error(const json& id, int code, std::string message, const Cancel& cancel) {
  if (cancel && cancel->cancelled.load()) return;
  outbox_.send(jsonrpc::make_error(id, code, std::move(message)));
}

}  // namespace meanwhile::mcp
