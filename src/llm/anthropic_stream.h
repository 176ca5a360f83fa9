// Decodes the Anthropic Messages API event stream into a Response:
//   message_start, content_block_start (text | tool_use | thinking | ...), content_block_delta
//   (text_delta -> on_text; input_json_delta -> accumulated, parsed at content_block_stop, empty
//   meaning {}; thinking_delta, signature_delta), content_block_stop, message_delta (stop_reason,
//   usage), message_stop, ping, error. Unknown event and delta types are ignored, as the API's
//   versioning policy asks. An `error` event is retryable for overloaded_error, api_error and
//   rate_limit_error; the stream must end with message_stop, else it was cut short (retryable).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "llm/stream_attempt.h"

namespace meanwhile::llm {

class AnthropicDecoder : public StreamDecoder {
 public:
  explicit AnthropicDecoder(const StreamHandler& handler) : handler_(handler) {}

  std::optional<AttemptError> on_event(const SseEvent& event) override;
  std::optional<AttemptError> on_end() override;
  Response take_response() override;

 private:
  struct Block {
    nlohmann::json block;      // the content block being built
    std::string text;          // text / thinking blocks: the text so far
    std::string partial_json;  // tool_use: input_json_delta fragments so far
    bool stopped = false;
  };

  std::optional<AttemptError> on_json(const std::string& type, const nlohmann::json& data);
  std::optional<AttemptError> on_delta(const nlohmann::json& data);
  std::optional<AttemptError> on_stop(const nlohmann::json& data);
  Block* block_at(const nlohmann::json& data);

  const StreamHandler& handler_;
  std::vector<Block> blocks_;
  std::string stop_reason_;
  nlohmann::json usage_ = nlohmann::json::object();
  bool started_ = false;
  bool stopped_ = false;
};

// A malformed stream: retryable (the next try gets a fresh one).
AttemptError malformed_stream(const std::string& what);

}  // namespace meanwhile::llm
