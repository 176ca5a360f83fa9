// Compaction: a long session's older turns replaced by a summary the model writes, so the
// conversation stays inside the model's context window, without losing a job: after every
// compaction (and at the start of a resumed session) the next user turn carries a live-jobs
// block built from the store, not from the conversation.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "meanwhile/lane.h"
#include "meanwhile/llm.h"

namespace meanwhile::agent {

// Compaction starts when the next request would pass this share of the window.
constexpr double kCompactAt = 0.8;

// The input budget of one request for `model` when --context-window is not given.
std::size_t default_context_window(const std::string& model);

// What a request will cost, estimated at 4 bytes a token (system prompt, tools and messages).
std::size_t estimate_tokens(const std::string& system, const nlohmann::json& tools,
                            const nlohmann::json& messages);
// The input tokens a response reports its request used (Anthropic's input and cache tokens,
// OpenAI's prompt_tokens); 0 when it reports none.
std::size_t reported_input_tokens(const nlohmann::json& usage);

// Where the kept part of `messages` starts: the last user turn that opens with the user's own
// text (no tool_result, so no tool_use is cut from its answer), after index 0. nullopt when
// there is no such turn: nothing older can be summarised.
std::optional<std::size_t> compaction_split(const nlohmann::json& messages);

// The request that asks the model to summarise messages [0, split), with the conversation's
// tools (the history holds tool_use blocks: the API wants their tools).
llm::Request summary_request(const std::string& model, const nlohmann::json& tools,
                             const nlohmann::json& messages, std::size_t split);

// "<live-jobs>" + every queued or running job as the job lines read everywhere + "</live-jobs>".
std::string live_jobs_text(Lane& lane);

// The summary as the kept part's first block.
std::string summary_text(const std::string& summary);

}  // namespace meanwhile::agent
