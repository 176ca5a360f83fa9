// fake_model_server: what the replies look like on the wire, event for event like the real APIs.
//
// Anthropic: message_start (id, model, usage), ping, then per content block content_block_start /
// content_block_delta (text in a few text_delta pieces; tool input as input_json_delta pieces,
// the first one empty as the API sends it) / content_block_stop, then message_delta (stop_reason,
// usage) and message_stop. Each event is "event: <type>\ndata: <json>\n\n".
// OpenAI: chat.completion.chunk objects as "data: <json>\n\n": the role, content pieces, tool
// calls by index (id and name first, then argument pieces), the finish_reason, usage when the
// request asked for it (stream_options.include_usage), then "data: [DONE]".
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "meanwhile/llm.h"

namespace fake_server {

struct ReplyContext {
  std::string model;           // echoed from the request
  std::string message_id;      // "msg_fake_<n>" / "chatcmpl-fake-<n>"
  int input_tokens = 0;        // a rough count from the request size
  bool include_usage = false;  // OpenAI: stream_options.include_usage
};

std::vector<std::string> anthropic_events(const meanwhile::llm::Response& reply,
                                          const ReplyContext& context);
std::vector<std::string> openai_events(const meanwhile::llm::Response& reply,
                                       const ReplyContext& context);

// The whole reply as one JSON body, for requests without "stream": true.
nlohmann::json anthropic_message(const meanwhile::llm::Response& reply,
                                 const ReplyContext& context);
nlohmann::json openai_completion(const meanwhile::llm::Response& reply,
                                 const ReplyContext& context);

// An error body in each API's format. `type` empty: the usual type for `status`.
nlohmann::json anthropic_error_body(int status, const std::string& type,
                                    const std::string& message);
nlohmann::json openai_error_body(int status, const std::string& type, const std::string& message);
std::string default_error_message(int status);

// The Anthropic `error` event / the OpenAI error chunk sent in the middle of a stream.
std::string anthropic_error_event(const std::string& type, const std::string& message);
std::string openai_error_event(const std::string& type, const std::string& message);

// Splits `text` into at most `parts` pieces of similar size without cutting a UTF-8 character.
std::vector<std::string> split_utf8(const std::string& text, std::size_t parts);

}  // namespace fake_server
