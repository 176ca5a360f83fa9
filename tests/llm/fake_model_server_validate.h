// fake_model_server: rejects what the real APIs reject, with a precise message (the 400 body).
//
// Anthropic (POST /v1/messages): body valid UTF-8 and JSON, an object; model (non-empty
// string); max_tokens (positive integer); messages non-empty; each message's role user or
// assistant, the first one user, no two consecutive messages with the same role (the real API
// merges them; this server is strict); content a non-empty string or a non-empty array; text
// blocks with non-empty text; tool_use only in assistant messages, with id, name and an object
// input, ids unique; tool_result only in user messages; every tool_use of an assistant message
// answered by a tool_result with the same tool_use_id in the immediately following user message,
// where the tool_result blocks come first; every tool_result answering a tool_use of the
// immediately preceding assistant message; system a string or text blocks; tools with valid,
// unique names and an object input_schema; stream a boolean.
//
// OpenAI (POST /v1/chat/completions, /chat/completions): valid UTF-8 JSON object; model;
// messages non-empty with known roles; user/system content non-empty; assistant messages with
// content or tool_calls (id, type function, function.name, function.arguments a JSON string);
// an assistant message's tool_calls answered by the "tool" messages that immediately follow it,
// one per tool_call_id, and no "tool" message without a pending call; tools
// [{type:function, function:{name, parameters}}] with unique names.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace fake_server {

bool valid_utf8(std::string_view text);

// Parses a request body: nullopt on success (into `body`), else the 400 message.
std::optional<std::string> parse_body(const std::string& raw, nlohmann::json& body);

std::optional<std::string> validate_anthropic(const nlohmann::json& body);
std::optional<std::string> validate_openai(const nlohmann::json& body);

}  // namespace fake_server
