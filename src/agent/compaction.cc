#include "agent/compaction.h"

#include "agent/conversation.h"
#include "tools/format.h"

namespace meanwhile::agent {
namespace {

constexpr const char* kSummarySystem =
    "You compact a coding agent's conversation so that it can go on in a smaller context. "
    "Write a summary the agent will read instead of the messages: the user's goals and "
    "instructions, what was done and decided, files created or changed, commands run and their "
    "results, background jobs by task id (never drop an id), and what was left to do. Be "
    "concrete and brief; no preamble.";

constexpr const char* kSummaryAsk =
    "Summarise the conversation above as instructed. The summary replaces it.";

bool has_tool_result(const nlohmann::json& message) {
  const auto it = message.find("content");
  if (it == message.end() || !it->is_array()) return false;
  for (const auto& block : *it)
    if (block.is_object() && block.value("type", "") == "tool_result") return true;
  return false;
}

std::size_t number(const nlohmann::json& usage, const char* key) {
  auto it = usage.find(key);
  return it != usage.end() && it->is_number_unsigned() ? it->get<std::size_t>() : 0;
}

}  // namespace

std::size_t default_context_window(const std::string& model) {
  if (model.rfind("claude", 0) == 0) return 200000;
  return 128000;  // gpt-4o and most OpenAI-compatible servers' models
}

std::size_t estimate_tokens(const std::string& system, const nlohmann::json& tools,
                            const nlohmann::json& messages) {
  const auto bytes = [](const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).size();
  };
  return (system.size() + bytes(tools) + bytes(messages) + 3) / 4;
}

std::size_t reported_input_tokens(const nlohmann::json& usage) {
  if (!usage.is_object()) return 0;
  return number(usage, "input_tokens") + number(usage, "cache_read_input_tokens") +
         number(usage, "cache_creation_input_tokens") + number(usage, "prompt_tokens");
}

std::optional<std::size_t> compaction_split(const nlohmann::json& messages) {
  if (!messages.is_array()) return std::nullopt;
  for (std::size_t i = messages.size(); i-- > 1;) {
    const auto& m = messages[i];
    if (m.is_object() && m.value("role", "") == "user" && !has_tool_result(m)) return i;
  }
  return std::nullopt;
}

llm::Request summary_request(const std::string& model, const nlohmann::json& tools,
                             const nlohmann::json& messages, std::size_t split) {
  llm::Request request;
  request.model = model;
  request.system = kSummarySystem;
  request.tools = tools;
  request.max_tokens = 4096;
  request.messages = nlohmann::json::array();
  for (std::size_t i = 0; i < split && i < messages.size(); ++i)
    request.messages.push_back(messages[i]);
  add_user_blocks(request.messages, nlohmann::json::array({text_block(kSummaryAsk)}));
  return request;
}

std::string live_jobs_text(Lane& lane) {
  std::string text = "<live-jobs>\n";
  std::size_t shown = 0;
  for (const JobInfo& job : lane.list(0)) {
    if (is_terminal(job.status)) continue;
    text += format_job_line(job) + "\n";
    ++shown;
  }
  if (shown == 0) text += "no background job is queued or running\n";
  text += "(from the job store: these ids are current; use check_background for details)\n";
  return text + "</live-jobs>";
}

std::string summary_text(const std::string& summary) {
  return "<conversation-summary>\nThe earlier part of this conversation was compacted into this "
         "summary:\n" +
         summary + "\n</conversation-summary>";
}

}  // namespace meanwhile::agent
