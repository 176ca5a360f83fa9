#include "llm/openai_stream.h"

#include <fmt/format.h>

#include <random>

#include "llm/anthropic_stream.h"  // malformed_stream
#include "llm/json_util.h"

namespace meanwhile::llm {

using nlohmann::json;

namespace {

std::string generated_call_id() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return fmt::format("call_{:016x}", rng());
}

}  // namespace

std::optional<AttemptError> OpenAiDecoder::on_event(const SseEvent& event) {
  if (event.data == "[DONE]") {
    done_ = true;
    return std::nullopt;
  }
  if (done_) return malformed_stream("data after [DONE]");
  JsonParse parsed = parse_json(event.data);
  if (parsed.too_deep) return malformed_stream("a chunk: " + parsed.error);
  json chunk = std::move(parsed.value);
  if (!parsed.ok() || !chunk.is_object()) {
    return malformed_stream("a chunk that is not a JSON object");
  }
  if (chunk.contains("error") && !chunk["error"].is_null()) {
    const json& error = chunk["error"];
    std::string message =
        error.is_string() ? error.get<std::string>() : string_at(error, "message");
    return AttemptError{fmt::format("stream error: {}", message.empty() ? error.dump() : message),
                        false, false, std::nullopt};
  }
  try {
    on_chunk(chunk);
  } catch (const json::exception& e) {
    return malformed_stream(e.what());
  }
  return std::nullopt;
}

void OpenAiDecoder::on_chunk(const json& chunk) {
  if (chunk.contains("usage") && chunk["usage"].is_object()) {
    const json& usage = chunk["usage"];
    if (usage.contains("prompt_tokens")) usage_["input_tokens"] = usage["prompt_tokens"];
    if (usage.contains("completion_tokens")) usage_["output_tokens"] = usage["completion_tokens"];
  }
  if (!chunk.contains("choices") || !chunk["choices"].is_array()) return;
  for (const json& choice : chunk["choices"]) {
    if (choice.value("index", 0) != 0) continue;  // we ask for one choice
    std::string finish = string_at(choice, "finish_reason");
    if (!finish.empty()) finish_reason_ = finish;
    if (!choice.contains("delta") || !choice["delta"].is_object()) continue;
    const json& delta = choice["delta"];
    std::string text = string_at(delta, "content");
    if (!text.empty()) {
      text_ += text;
      if (handler_.on_text) handler_.on_text(text);
    }
    if (!delta.contains("tool_calls") || !delta["tool_calls"].is_array()) continue;
    long position = 0;
    for (const json& call : delta["tool_calls"]) {
      long index = call.contains("index") ? call["index"].get<long>() : position;
      ++position;
      ToolCall& assembled = tool_calls_[index];
      std::string id = string_at(call, "id");
      if (!id.empty() && assembled.id.empty()) assembled.id = id;
      if (!call.contains("function") || !call["function"].is_object()) continue;
      const json& function = call["function"];
      std::string name = string_at(function, "name");
      if (!name.empty() && name != assembled.name) assembled.name += name;
      if (function.contains("arguments")) {
        const json& arguments = function["arguments"];
        assembled.arguments += arguments.is_string() ? arguments.get<std::string>()
                               : arguments.is_null() ? std::string()
                                                     : arguments.dump();
      }
    }
  }
}

std::optional<AttemptError> OpenAiDecoder::on_end() {
  if (!done_ && finish_reason_.empty()) {
    return malformed_stream("the stream ended before a finish_reason or [DONE]");
  }
  return std::nullopt;
}

Response OpenAiDecoder::take_response() {
  Response response;
  if (!text_.empty()) response.content.push_back({{"type", "text"}, {"text", text_}});
  for (auto& [index, call] : tool_calls_) {
    json input = json::object();
    if (!call.arguments.empty()) {
      JsonParse parsed = parse_json(call.arguments);
      input = std::move(parsed.value);
      if (parsed.too_deep) {
        input = json{{"_invalid_arguments", too_deep_arguments()}};
      } else if (!parsed.ok() || !input.is_object()) {
        input = json{{"_invalid_arguments", call.arguments}};
      }
    }
    response.content.push_back({{"type", "tool_use"},
                                {"id", call.id.empty() ? generated_call_id() : call.id},
                                {"name", call.name},
                                {"input", std::move(input)}});
  }
  bool has_tools = !tool_calls_.empty();
  if (finish_reason_ == "length") {
    response.stop_reason = "max_tokens";
  } else if (has_tools || finish_reason_ == "tool_calls" || finish_reason_ == "function_call") {
    response.stop_reason = "tool_use";
  } else if (finish_reason_ == "stop" || finish_reason_.empty()) {
    response.stop_reason = "end_turn";
  } else if (finish_reason_ == "content_filter") {
    response.stop_reason = "refusal";
  } else {
    response.stop_reason = finish_reason_;
  }
  response.usage = std::move(usage_);
  return response;
}

}  // namespace meanwhile::llm
