#include "agent/loop.h"

#include "agent/compaction.h"
#include "agent/conversation.h"
#include "lane/text.h"

namespace meanwhile::agent {
using nlohmann::json;

std::string system_prompt(const std::string& workspace) {
  return "You are meanwhile, a coding agent working in the directory " + workspace +
         ". Use the tools to inspect and change files and to run commands.\n\n"
         "You have a background lane, so you never have to sit idle while a slow command runs:\n"
         "- Start anything that may take more than a few seconds (test suites, builds, installs, "
         "servers, downloads) with background_run. It returns a task_id at once; keep working "
         "on something else meanwhile.\n"
         "- When a job finishes, its result reaches you by itself in a <background-results> "
         "block in the next user turn (status, exit code, duration, the head and tail of its "
         "output, the log path). Do not poll for it in a loop.\n"
         "- check_background lists every job with its status, elapsed time and last output "
         "line (use it whenever you lose track of task ids); background_output reads a job's "
         "output; background_wait blocks until a job finishes, only when you have nothing "
         "else to do; background_kill stops a job; background_input writes to its stdin.\n"
         "- bash is for short commands. One still running at its timeout is moved to the "
         "background, not killed: the result gives its task_id.\n"
         "- If you end your turn while jobs are running, you are woken up with their results.\n"
         "- Never use pkill, killall or kill on job processes: use background_kill with the "
         "task_id.\n"
         "File tools take paths relative to the workspace and cannot leave it.";
}

Loop::Loop(llm::Provider& provider, const ToolRegistry& registry, ToolContext& tool_context,
           LoopOptions options, LoopEvents events)
    : provider_(provider),
      registry_(registry),
      ctx_(tool_context),
      options_(std::move(options)),
      events_(std::move(events)) {
  if (options_.system_prompt.empty()) options_.system_prompt = system_prompt(ctx_.workspace);
  for (const ToolDef& def : registry_.tools()) {
    tool_defs_.push_back(
        {{"name", def.name}, {"description", def.description}, {"input_schema", def.input_schema}});
  }
}

void Loop::set_messages(json messages, std::size_t settled) {
  messages_ = std::move(messages);
  settled_ = std::min(settled, messages_.size());
}

void Loop::clear() {
  messages_ = json::array();
  settled_ = 0;
}

bool Loop::cancelled() const {
  return ctx_.cancel && ctx_.cancel->load();
}

void Loop::settle() {
  for (; settled_ < messages_.size(); ++settled_) {
    if (events_.on_message) events_.on_message(messages_[settled_]);
  }
}

RunOutcome Loop::run_user_text(std::string_view text, int max_calls) {
  json blocks = json::array();
  std::string cleaned = text::clean(text);
  if (!cleaned.empty()) blocks.push_back(text_block(std::move(cleaned)));
  return run(blocks, {}, max_calls);
}

Result<llm::Response> Loop::call_model() {
  llm::Request request;
  request.model = options_.model;
  request.system = options_.system_prompt;
  request.messages = messages_;
  request.tools = tool_defs_;
  request.max_tokens = options_.max_tokens;
  llm::StreamHandler handler;
  handler.on_text = events_.on_text;
  handler.on_retry = events_.on_retry;
  auto response = provider_.send(request, handler, ctx_.cancel);
  last_reported_ = response ? reported_input_tokens(response->usage) : 0;
  return response;
}

std::size_t Loop::raw_estimate() const {
  return estimate_tokens(options_.system_prompt, tool_defs_, messages_);
}

std::size_t Loop::corrected(std::size_t estimate) const {
  // The API counts better than 4 bytes a token: add what it saw beyond our last estimate.
  return last_reported_ > last_estimate_ ? estimate + (last_reported_ - last_estimate_) : estimate;
}

std::size_t Loop::next_request_tokens() const {
  return corrected(raw_estimate());
}

Result<std::size_t> Loop::compact() {
  auto split = compaction_split(messages_);
  if (!split) {
    return make_error(ErrorCode::failed_precondition,
                      "nothing to compact yet: there is no earlier turn to summarise");
  }
  const std::size_t before = next_request_tokens();
  llm::StreamHandler handler;  // the summary is not shown as it streams
  handler.on_retry = events_.on_retry;
  auto response = provider_.send(summary_request(options_.model, tool_defs_, messages_, *split),
                                 handler, ctx_.cancel);
  if (!response) return make_error(response.error_info().code, "compaction: " + response.error());
  const std::string summary = message_text(json{{"content", response->content}});
  if (summary.empty()) return make_error("compaction: the model returned an empty summary");

  json kept = json::array();
  for (std::size_t i = *split; i < messages_.size(); ++i) kept.push_back(std::move(messages_[i]));
  json& first = kept[0]["content"];
  if (first.is_string()) first = json::array({text_block(first.get<std::string>())});
  first.insert(first.begin(), text_block(summary_text(summary)));
  messages_ = std::move(kept);
  settled_ = settled_ > *split ? settled_ - *split : 0;
  last_estimate_ = last_reported_ = 0;
  live_jobs_due_ = true;
  if (events_.on_compacted) events_.on_compacted(*split, before);
  return *split;
}

void Loop::prepare_request() {
  // One serialization per request for the estimate (two when it compacts).
  std::size_t estimate = raw_estimate();
  if (options_.context_window > 0 &&
      static_cast<double>(corrected(estimate)) >
          kCompactAt * static_cast<double>(options_.context_window)) {
    // A failure (nothing older to summarise, the provider) leaves the request as it is: it may
    // still fit, and a provider error shows on the request itself.
    if (compact()) estimate = raw_estimate();
  }
  if (live_jobs_due_) {
    std::string live = live_jobs_text(ctx_.lane);
    estimate += (live.size() + 3) / 4;
    add_user_blocks(messages_, json::array({text_block(std::move(live))}));
    live_jobs_due_ = false;
  }
  last_estimate_ = estimate;  // of the request about to be sent, for corrected()
}

std::optional<ToolResult> Loop::permission_refusal(const std::string& name, const json& input) {
  if (!options_.permissions) return std::nullopt;
  PermissionCheck check = options_.permissions->check(name, input);
  switch (check.verdict) {
    case Verdict::run:
      return std::nullopt;
    case Verdict::refuse:
      return ToolResult{check.reason, nullptr, true};
    case Verdict::ask:
      break;
  }
  if (!events_.on_permission) {
    return ToolResult{"refused: " + check.request.what +
                          " needs the user's approval (--permission-mode ask) and there is no "
                          "terminal to ask on; the user can rerun with --permission-mode auto",
                      nullptr, true};
  }
  switch (events_.on_permission(check.request)) {
    case Answer::yes:
      return std::nullopt;
    case Answer::always:
      // A rule that cannot be saved still holds for this run; the user was told by the host.
      (void)options_.permissions->allow(check.request.rule);
      return std::nullopt;
    case Answer::no:
      break;
  }
  return ToolResult{"the user declined: " + check.request.what +
                        " was not done. Ask the user what to do instead, or do something else.",
                    nullptr, true};
}

json Loop::run_tools(const json& assistant_message, bool* interrupted) {
  json results = json::array();
  for (const json& use : tool_uses(assistant_message)) {
    const std::string id = use.value("id", "");
    const std::string name = use.value("name", "");
    if (events_.on_tool_use) events_.on_tool_use(use);
    ToolResult result;
    if (cancelled()) {
      result = {"interrupted by the user", nullptr, true};
    } else {
      json input = use.contains("input") ? use["input"] : json::object();
      if (auto refused = permission_refusal(name, input))
        result = std::move(*refused);
      else
        result = registry_.call(name, input, ctx_);
      if (cancelled()) {  // the tool returned early because of Ctrl+C
        std::string said = result.text;
        result.text = "interrupted by the user" + (said.empty() ? "" : ": " + said);
        result.is_error = true;
      }
    }
    if (events_.on_tool_result) events_.on_tool_result(use, result);
    results.push_back(tool_result_block(id, result.text, result.is_error));
  }
  *interrupted = cancelled();
  return results;
}

RunOutcome Loop::run(const json& user_blocks, std::vector<Note> notes, int max_calls) {
  RunOutcome outcome;
  json blocks = user_blocks;
  while (true) {
    // Every note pending right now goes into this request, after the turn's own blocks.
    for (Note& note : ctx_.lane.drain()) notes.push_back(std::move(note));
    if (!notes.empty()) {
      std::string text = background_results_text(notes);
      if (events_.on_background_results) events_.on_background_results(notes, text);
      blocks.push_back(text_block(std::move(text)));
      notes.clear();
    }
    add_user_blocks(messages_, blocks);
    blocks = json::array();
    if (messages_.empty() || messages_.back().value("role", "") != "user") return outcome;
    if (max_calls > 0 && outcome.model_calls >= max_calls) {
      outcome.stop = Stop::max_turns;
      return outcome;
    }
    if (cancelled()) {
      outcome.stop = Stop::interrupted;
      return outcome;
    }

    prepare_request();
    ++outcome.model_calls;
    if (events_.on_request) events_.on_request(outcome.model_calls);
    auto response = call_model();
    if (!response) {
      // The user turn stays unsent; the next run adds to it, so nothing (notes included) is lost.
      outcome.stop = cancelled() ? Stop::interrupted : Stop::error;
      outcome.error = response.error();
      outcome.error_code = response.error_info().code;
      return outcome;
    }
    json content = json::array();
    for (json& b : response->content) {
      bool empty_text = b.value("type", "") == "text" && b.value("text", "").empty();
      if (!empty_text) content.push_back(std::move(b));
    }
    if (content.empty()) return outcome;  // nothing said, nothing asked: the turn is over
    messages_.push_back({{"role", "assistant"}, {"content", std::move(content)}});
    settle();
    const json& assistant = messages_.back();
    outcome.final_text = message_text(assistant);
    if (events_.on_assistant) events_.on_assistant(assistant);

    if (tool_uses(assistant).empty()) return outcome;
    bool interrupted = false;
    blocks = run_tools(assistant, &interrupted);
    if (interrupted) {
      add_user_blocks(messages_, blocks);  // every tool_use answered: the conversation stays valid
      outcome.stop = Stop::interrupted;
      return outcome;
    }
  }
}

}  // namespace meanwhile::agent
