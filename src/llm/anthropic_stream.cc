#include "llm/anthropic_stream.h"

#include <fmt/format.h>

#include "llm/json_util.h"

namespace meanwhile::llm {

using nlohmann::json;

AttemptError malformed_stream(const std::string& what) {
  return AttemptError{fmt::format("malformed event stream: {}", what), true, false, std::nullopt};
}

namespace {

void merge_usage(json& usage, const json& more) {
  if (!more.is_object()) return;
  for (const auto& [key, value] : more.items()) {
    if (!value.is_null()) usage[key] = value;
  }
}

}  // namespace

std::optional<AttemptError> AnthropicDecoder::on_event(const SseEvent& event) {
  JsonParse parsed = parse_json(event.data);
  if (parsed.too_deep) {
    return malformed_stream(fmt::format("event \"{}\": {}", event.event, parsed.error));
  }
  json data = std::move(parsed.value);
  if (!parsed.ok() || !data.is_object()) {
    return malformed_stream(
        fmt::format("event \"{}\" carries data that is not a JSON object", event.event));
  }
  // The "type" inside the data is authoritative; the event: line repeats it.
  std::string type = string_at(data, "type");
  if (type.empty()) type = event.event;
  try {
    return on_json(type, data);
  } catch (const json::exception& e) {
    return malformed_stream(fmt::format("event \"{}\": {}", type, e.what()));
  }
}

AnthropicDecoder::Block* AnthropicDecoder::block_at(const json& data) {
  auto it = data.find("index");
  if (it == data.end() || !it->is_number_unsigned()) return nullptr;
  std::size_t index = it->get<std::size_t>();
  return index < blocks_.size() ? &blocks_[index] : nullptr;
}

std::optional<AttemptError> AnthropicDecoder::on_json(const std::string& type, const json& data) {
  if (type == "message_start") {
    started_ = true;
    const json& message = data.at("message");
    if (message.contains("usage")) merge_usage(usage_, message["usage"]);
    return std::nullopt;
  }
  if (type == "content_block_start") {
    std::size_t index = data.at("index").get<std::size_t>();
    if (index != blocks_.size()) {
      return malformed_stream(
          fmt::format("content block {} started, expected {}", index, blocks_.size()));
    }
    json block = data.at("content_block");
    if (!block.is_object()) return malformed_stream("content_block is not an object");
    std::string block_type = string_at(block, "type");
    std::string text;
    if (block_type == "text") {
      text = string_at(block, "text");
      if (!text.empty() && handler_.on_text) handler_.on_text(text);
    } else if (block_type == "thinking") {
      text = string_at(block, "thinking");
    } else if (block_type == "tool_use" || block_type == "server_tool_use") {
      if (string_at(block, "id").empty() || string_at(block, "name").empty()) {
        return malformed_stream("tool_use block without id or name");
      }
    }
    blocks_.push_back(Block{std::move(block), std::move(text), {}, false});
    return std::nullopt;
  }
  if (type == "content_block_delta") return on_delta(data);
  if (type == "content_block_stop") return on_stop(data);
  if (type == "message_delta") {
    const json& delta = data.at("delta");
    std::string reason = string_at(delta, "stop_reason");
    if (!reason.empty()) stop_reason_ = reason;
    if (data.contains("usage")) merge_usage(usage_, data["usage"]);
    return std::nullopt;
  }
  if (type == "message_stop") {
    stopped_ = true;
    return std::nullopt;
  }
  if (type == "error") {
    const json& error = data.contains("error") ? data["error"] : data;
    std::string error_type = string_at(error, "type");
    std::string message = string_at(error, "message");
    if (message.empty()) message = error_type.empty() ? "unknown error" : error_type;
    long status = error_type == "overloaded_error"   ? 529
                  : error_type == "rate_limit_error" ? 429
                  : error_type == "api_error"        ? 500
                                                     : 400;
    return AttemptError{fmt::format("{} {}", status, message), is_retryable_status(status), false,
                        std::nullopt};
  }
  return std::nullopt;  // ping and event types added after this was written
}

std::optional<AttemptError> AnthropicDecoder::on_delta(const json& data) {
  Block* block = block_at(data);
  if (!block || block->stopped) return malformed_stream("delta for a block that is not open");
  const json& delta = data.at("delta");
  std::string delta_type = string_at(delta, "type");
  if (delta_type == "text_delta") {
    const std::string& text = delta.at("text").get_ref<const std::string&>();
    block->text += text;
    if (!text.empty() && handler_.on_text) handler_.on_text(text);
  } else if (delta_type == "input_json_delta") {
    block->partial_json += delta.at("partial_json").get_ref<const std::string&>();
  } else if (delta_type == "thinking_delta") {
    block->text += string_at(delta, "thinking");
  } else if (delta_type == "signature_delta") {
    block->block["signature"] =
        string_at(block->block, "signature") + string_at(delta, "signature");
  }
  return std::nullopt;
}

std::optional<AttemptError> AnthropicDecoder::on_stop(const json& data) {
  Block* block = block_at(data);
  if (!block || block->stopped) return malformed_stream("stop for a block that is not open");
  block->stopped = true;
  std::string block_type = string_at(block->block, "type");
  if (block_type == "tool_use" || block_type == "server_tool_use") {
    if (block->partial_json.empty()) {
      if (!block->block.contains("input") || !block->block["input"].is_object()) {
        block->block["input"] = json::object();
      }
    } else {
      JsonParse parsed = parse_json(block->partial_json);
      json input = std::move(parsed.value);
      if (parsed.too_deep) {
        input = json{{"_invalid_arguments", too_deep_arguments()}};
      } else if (!parsed.ok() || !input.is_object()) {
        return malformed_stream(fmt::format("the input of tool_use {} is not a JSON object",
                                            string_at(block->block, "id")));
      }
      block->block["input"] = std::move(input);
    }
  }
  return std::nullopt;
}

std::optional<AttemptError> AnthropicDecoder::on_end() {
  if (!started_) return malformed_stream("the stream ended before message_start");
  if (!stopped_) return malformed_stream("the stream ended before message_stop");
  return std::nullopt;
}

Response AnthropicDecoder::take_response() {
  Response response;
  for (Block& block : blocks_) {
    std::string type = string_at(block.block, "type");
    if (type == "text") {
      // An empty text block would be rejected when the turn is sent back to the API.
      if (block.text.empty()) continue;
      block.block["text"] = std::move(block.text);
    } else if (type == "thinking") {
      block.block["thinking"] = std::move(block.text);
    }
    response.content.push_back(std::move(block.block));
  }
  response.stop_reason = stop_reason_.empty() ? "end_turn" : stop_reason_;
  response.usage = std::move(usage_);
  return response;
}

}  // namespace meanwhile::llm
