// Session: tools/call, as an ordinary call (with progress and cancellation) or task-augmented.
#include <fmt/format.h>

#include "mcp/log.h"
#include "mcp/params.h"
#include "mcp/session.h"
#include "tools/format.h"

namespace meanwhile::mcp {
namespace {

// A result carries at most this many notes (each up to a few KiB of output preview); the rest
// wait for the next result, which the text says.
constexpr std::size_t kMaxNotesPerResult = 20;

// The seed's drain, for a client that cannot be woken: what happened since the last call rides
// on this result, in the text and in the structured content, as the agent's
// <background-results> block rides on its next request.
void attach_notes(ToolResult& result, const std::vector<Note>& notes, std::size_t more) {
  if (notes.empty()) return;
  std::string block = "since your last call:";
  nlohmann::json texts = nlohmann::json::array();
  for (const Note& note : notes) {
    std::string text = format_note(note);
    block += "\n" + text;
    texts.push_back(std::move(text));
  }
  if (more > 0)
    block += fmt::format("\n({} more event{} wait for your next call of any meanwhile tool)", more,
                         more == 1 ? "" : "s");
  result.text += (result.text.empty() || result.text.back() == '\n' ? "\n" : "\n\n") + block;
  if (result.structured.is_object()) result.structured["since_last_call"] = std::move(texts);
}

}  // namespace

std::vector<Note> Session::take_pending_notes() {
  std::vector<Note> notes;
  {
    std::lock_guard lock(carried_mu_);
    notes.swap(carried_);
  }
  for (Note& note : lane_.drain()) notes.push_back(std::move(note));
  return notes;
}

void Session::keep_pending_notes(std::vector<Note> notes) {
  if (notes.empty()) return;
  std::lock_guard lock(carried_mu_);
  notes.insert(notes.end(), std::make_move_iterator(carried_.begin()),
               std::make_move_iterator(carried_.end()));
  carried_ = std::move(notes);
}

nlohmann::json Session::tool_result_to_json(const ToolResult& result, bool structured) const {
  json out = {{"content", json::array({{{"type", "text"}, {"text", result.text}}})}};
  if (structured && features_.structured_output && result.structured.is_object()) {
    out["structuredContent"] = result.structured;
  }
  if (result.is_error) out["isError"] = true;
  return out;
}

void Session::call_tool(const json& id, const json& params, const Cancel& cancel) {
  auto name = required_string(params, "name");
  if (!name) return respond_error(id, jsonrpc::kInvalidParams, name.error(), cancel);
  json arguments = json::object();
  if (auto it = params.find("arguments"); it != params.end() && !it->is_null()) {
    if (!it->is_object()) {
      return respond_error(id, jsonrpc::kInvalidParams,
                           "Invalid params: arguments: expected an object", cancel);
    }
    arguments = *it;
  }
  const ToolDef* def = registry_.find(*name);
  if (!def || !def->background) {
    // The spec lists an unknown tool among the protocol errors.
    return respond_error(id, jsonrpc::kInvalidParams, "Unknown tool: " + *name, cancel);
  }

  if (auto task = params.find("task"); features_.tasks && task != params.end()) {
    if (!def->task_support) {
      const std::string message =
          "Tool " + *name + " does not support task-augmented calls (no execution.taskSupport)";
      return respond_error(id, jsonrpc::kMethodNotFound, message, cancel);
    }
    return call_tool_as_task(id, *name, arguments, *task, cancel);
  }

  ToolContext context{.lane = lane_,
                      .workspace = options_.workspace,
                      .cancel = &cancel->stop,
                      .progress = {},
                      .frontend = Frontend::mcp};
  auto meta = params.find("_meta");
  if (meta != params.end() && meta->is_object() && meta->contains("progressToken")) {
    const json token = (*meta)["progressToken"];
    if (token.is_string() || token.is_number_integer()) {
      auto last = std::make_shared<std::pair<std::mutex, double>>();
      last->second = -1;
      context.progress = [this, token, cancel, last](double progress, double total,
                                                     const std::string& message) {
        if (cancel->stop.load()) return;
        {
          // The spec: progress MUST increase with each notification.
          std::lock_guard lock(last->first);
          if (progress <= last->second) return;
          last->second = progress;
        }
        json params = {{"progressToken", token}, {"progress", progress}};
        if (total >= 0) params["total"] = total;
        if (!message.empty()) params["message"] = message;
        outbox_.send(jsonrpc::make_notification("notifications/progress", std::move(params)),
                     /*droppable=*/true);
      };
    }
  }

  ToolResult result = registry_.call(*name, arguments, context);
  if (cancel->cancelled.load()) {
    log("tools/call {} ({}) cancelled by the client: no response sent", id.dump(), *name);
    return;
  }
  std::vector<Note> notes = take_pending_notes();
  std::size_t more = 0;
  if (notes.size() > kMaxNotesPerResult) {
    std::vector<Note> later(std::make_move_iterator(notes.begin() + kMaxNotesPerResult),
                            std::make_move_iterator(notes.end()));
    notes.resize(kMaxNotesPerResult);
    more = later.size();
    keep_pending_notes(std::move(later));
  }
  attach_notes(result, notes, more);
  if (!respond(id, tool_result_to_json(result, !text_only(*def)), cancel))
    keep_pending_notes(std::move(notes));
}

void Session::call_tool_as_task(const json& id, const std::string& name, const json& arguments,
                                const json& task, const Cancel& cancel) {
  if (!task.is_object()) {
    return respond_error(id, jsonrpc::kInvalidParams, "Invalid params: task: expected an object",
                         cancel);
  }
  std::optional<double> ttl;
  if (auto it = task.find("ttl"); it != task.end() && !it->is_null()) {
    if (!it->is_number()) {
      return respond_error(id, jsonrpc::kInvalidParams,
                           "Invalid params: task.ttl: expected a number of milliseconds", cancel);
    }
    ttl = it->get<double>();
  }

  // The job starts through the same tool as an ordinary call; the task then follows the job.
  ToolContext context{.lane = lane_,
                      .workspace = options_.workspace,
                      .cancel = nullptr,
                      .progress = {},
                      .frontend = Frontend::mcp};
  ToolResult started = registry_.call(name, arguments, context);
  std::string job;
  if (started.structured.is_object()) {
    auto it = started.structured.find("task_id");
    if (it != started.structured.end() && it->is_string()) job = it->get<std::string>();
  }
  if (job.empty()) {
    // Nothing was started (bad arguments, a missing cwd, ...): the request is refused.
    if (started.is_error) {
      return respond_error(id, jsonrpc::kInvalidParams, started.text, cancel);
    }
    log("{} returned no task_id in its structured result: {}", name, started.structured.dump());
    return respond_error(id, jsonrpc::kInternalError, name + " returned no task_id", cancel);
  }
  // A job that could not start still is a job: its task fails at once and says why.

  Task created = tasks_.create(job, TaskTable::effective_ttl(ttl));
  // Updates observed before the task existed were not applied: catch up now.
  if (auto info = lane_.get(job); info.ok()) {
    if (auto changed = tasks_.apply(*info)) created = *changed;
  }
  json result = {{"task", task_to_json(created, options_.poll_interval)}};
  // A hint the spec suggests for hosts that hand the model an immediate answer.
  result["_meta"] = {{"io.modelcontextprotocol/model-immediate-response", started.text}};
  respond(id, std::move(result), cancel);
}

}  // namespace meanwhile::mcp
