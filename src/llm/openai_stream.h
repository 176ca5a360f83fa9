// Decodes an OpenAI-compatible chat completions stream into a Response (Anthropic format):
//   choices[0].delta.content      -> one text block, streamed to on_text
//   choices[0].delta.tool_calls[] -> tool_use blocks, assembled by `index` from id, function.name
//                                    and function.arguments fragments; arguments that are not a
//                                    JSON object become {"_invalid_arguments": "<raw>"} so the
//                                    tool call fails validation and the model sees why
//   finish_reason                 -> stop_reason: stop -> end_turn (tool_use when tool calls came),
//                                    tool_calls -> tool_use, length -> max_tokens
//   usage                         -> {input_tokens, output_tokens}
//   data: [DONE]                  -> the end. A stream that ends with neither [DONE] nor a
//                                    finish_reason was cut short (retryable).
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "llm/stream_attempt.h"

namespace meanwhile::llm {

class OpenAiDecoder : public StreamDecoder {
 public:
  explicit OpenAiDecoder(const StreamHandler& handler) : handler_(handler) {}

  std::optional<AttemptError> on_event(const SseEvent& event) override;
  std::optional<AttemptError> on_end() override;
  Response take_response() override;

 private:
  struct ToolCall {
    std::string id, name, arguments;
  };
  void on_chunk(const nlohmann::json& chunk);

  const StreamHandler& handler_;
  std::string text_;
  std::map<long, ToolCall> tool_calls_;  // by the stream's index
  std::string finish_reason_;
  nlohmann::json usage_ = nlohmann::json::object();
  bool done_ = false;
};

}  // namespace meanwhile::llm
