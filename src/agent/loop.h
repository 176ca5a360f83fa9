// The agent loop: keeps the conversation, calls the model, runs the tools it asks for, and
// injects the lane's notes before every model request, so results of background jobs reach the
// model as soon as it is asked anything. The host (print mode, REPL) decides when to start a
// run: on user input, or on a note that arrives while the model is idle (a wake-up).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/permissions.h"
#include "meanwhile/lane.h"
#include "meanwhile/llm.h"
#include "meanwhile/tools.h"

namespace meanwhile::agent {

// What the loop reports while it runs; every callback is optional and runs on the loop's thread.
struct LoopEvents {
  std::function<void(std::string_view)> on_text;  // streamed text delta
  std::function<void(int attempt, const std::string& why, std::chrono::milliseconds wait)> on_retry;
  // The model request is about to be sent (1-based count of this run's calls).
  std::function<void(int call)> on_request;
  std::function<void(const nlohmann::json& message)> on_assistant;  // a complete assistant turn
  std::function<void(const nlohmann::json& tool_use)> on_tool_use;  // before the tool runs
  std::function<void(const nlohmann::json& tool_use, const ToolResult& result)> on_tool_result;
  // Notes injected into the user turn about to be sent, and the block's text.
  std::function<void(const std::vector<Note>& notes, const std::string& block)>
      on_background_results;
  // A message is settled (sent and answered, or the answer itself): the transcript's feed.
  std::function<void(const nlohmann::json& message)> on_message;
  // A call needs the user's yes (LoopOptions::permissions in ask mode). Unset: there is no one
  // to ask, and the call is refused with an error that says so.
  std::function<Answer(const PermissionRequest& request)> on_permission;
  // Older turns were replaced by a summary: how many messages, and the estimated tokens before.
  std::function<void(std::size_t replaced, std::size_t tokens_before)> on_compacted;
};

struct LoopOptions {
  std::string model;
  std::string system_prompt;  // empty: system_prompt(workspace)
  int max_tokens = 8192;
  // Which calls run, ask or are refused; null runs everything (as --permission-mode auto).
  Permissions* permissions = nullptr;
  // Input budget of one request, in tokens (--context-window); 0: never compact. When the next
  // request would pass kCompactAt of it, older turns are summarised first (compaction.h).
  std::size_t context_window = 0;
};

enum class Stop {
  end_turn,     // the model answered without asking for a tool
  interrupted,  // the cancel flag was set (Ctrl+C)
  error,        // the provider failed after its retries
  max_turns,    // the call budget ran out while the model still wanted tools
};

struct RunOutcome {
  Stop stop = Stop::end_turn;
  std::string error;                           // Stop::error
  ErrorCode error_code = ErrorCode::internal;  // Stop::error: permission_denied, not_found, …
  std::string final_text;                      // text of the last assistant turn
  int model_calls = 0;                         // calls made by this run
};

// The system prompt: the tools and how to use the background lane.
std::string system_prompt(const std::string& workspace);

class Loop {
 public:
  // `tool_context` gives the lane (drained before each request), the workspace and the cancel
  // flag (also passed to the provider). All references must outlive the loop.
  Loop(llm::Provider& provider, const ToolRegistry& registry, ToolContext& tool_context,
       LoopOptions options, LoopEvents events);

  // Adds `user_blocks` and `notes` (already taken from the lane) plus every note still pending
  // to the user turn, then calls the model and runs tools until the model ends its turn, the
  // cancel flag is set, the provider fails, or `max_calls` (> 0) model calls were made.
  // A run with nothing to send returns end_turn at once.
  RunOutcome run(const nlohmann::json& user_blocks, std::vector<Note> notes = {},
                 int max_calls = 0);

  // A run started by user text (cleaned to valid UTF-8).
  RunOutcome run_user_text(std::string_view text, int max_calls = 0);

  const nlohmann::json& messages() const { return messages_; }
  // Replaces the turns before the last one the user opened with a summary the model writes (a
  // request of its own), and puts a live-jobs block in the next user turn. Returns how many
  // messages were replaced; an error (nothing older to summarise, the provider failed) leaves
  // the conversation as it was.
  Result<std::size_t> compact();
  // The next user turn carries a live-jobs block (a resumed session: --continue).
  void mark_live_jobs_due() { live_jobs_due_ = true; }
  // The estimated input tokens of the next request (the conversation as it is now).
  std::size_t next_request_tokens() const;
  // Replaces the conversation (e.g. a resumed session). Messages before `settled` count as
  // already written to the transcript.
  void set_messages(nlohmann::json messages, std::size_t settled);
  void clear();

 private:
  // Calls the model once with the conversation; appends the answer.
  Result<llm::Response> call_model();
  std::size_t raw_estimate() const;  // 4 bytes a token, of the conversation as it is
  std::size_t corrected(std::size_t estimate) const;
  // Before a request: compacts when it would pass the budget, adds the live-jobs block when due.
  void prepare_request();
  // Runs the tool_use blocks of the last assistant turn; returns the tool_result blocks.
  nlohmann::json run_tools(const nlohmann::json& assistant_message, bool* interrupted);
  void settle();  // reports messages [settled_, size) through on_message
  // The permission mode's verdict on one call: nullopt runs it, else the result to give instead.
  std::optional<ToolResult> permission_refusal(const std::string& name,
                                               const nlohmann::json& input);
  bool cancelled() const;

  llm::Provider& provider_;
  const ToolRegistry& registry_;
  ToolContext& ctx_;
  LoopOptions options_;
  LoopEvents events_;
  nlohmann::json messages_ = nlohmann::json::array();
  std::size_t settled_ = 0;
  nlohmann::json tool_defs_ = nlohmann::json::array();
  bool live_jobs_due_ = false;
  // The last request's estimate and the input tokens its response reported: the next estimate
  // is corrected by their difference.
  std::size_t last_estimate_ = 0;
  std::size_t last_reported_ = 0;
};

}  // namespace meanwhile::agent
