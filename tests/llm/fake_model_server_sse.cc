#include "fake_model_server_sse.h"

#include <fmt/format.h>

#include <ctime>

namespace fake_server {

using meanwhile::llm::Response;
using nlohmann::json;

namespace {

std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string anthropic_event(const json& data) {
  return fmt::format("event: {}\ndata: {}\n\n", data["type"].get<std::string>(), dump(data));
}

std::string openai_event(const json& data) {
  return fmt::format("data: {}\n\n", dump(data));
}

std::string block_type(const json& block) {
  return block.is_object() && block.contains("type") && block["type"].is_string()
             ? block["type"].get<std::string>()
             : std::string();
}

int output_tokens(const Response& reply) {
  return std::max<int>(1, static_cast<int>(dump(reply.content).size() / 4));
}

json usage_of(const Response& reply, const ReplyContext& context) {
  json usage = {{"input_tokens", context.input_tokens}, {"output_tokens", output_tokens(reply)}};
  if (reply.usage.is_object()) usage.update(reply.usage);
  return usage;
}

std::string openai_finish_reason(const std::string& stop_reason) {
  if (stop_reason == "tool_use") return "tool_calls";
  if (stop_reason == "max_tokens") return "length";
  return "stop";
}

std::string joined_text(const Response& reply) {
  std::string text;
  for (const json& block : reply.content) {
    if (block_type(block) == "text") text += block["text"].get<std::string>();
  }
  return text;
}

json openai_chunk(const ReplyContext& context, json choices) {
  return {{"id", context.message_id},
          {"object", "chat.completion.chunk"},
          {"created", static_cast<long long>(std::time(nullptr))},
          {"model", context.model},
          {"choices", std::move(choices)}};
}

}  // namespace

std::vector<std::string> split_utf8(const std::string& text, std::size_t parts) {
  std::vector<std::string> pieces;
  if (text.empty() || parts == 0) return pieces;
  std::size_t target = (text.size() + parts - 1) / parts;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = std::min(text.size(), start + target);
    // Move forward past continuation bytes (10xxxxxx) so a character stays whole.
    while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
    pieces.push_back(text.substr(start, end - start));
    start = end;
  }
  return pieces;
}

// A tool_use's arguments as streamed: its "raw_input" text verbatim when the block has one
// (arguments no JSON tree could hold, e.g. nested 100,000 deep), else its input, in 3 pieces.
static std::vector<std::string> input_pieces(const json& block) {
  if (auto raw = block.find("raw_input"); raw != block.end() && raw->is_string())
    return split_utf8(raw->get<std::string>(), 3);
  return split_utf8(dump(block["input"]), 3);
}

std::vector<std::string> anthropic_events(const Response& reply, const ReplyContext& context) {
  std::vector<std::string> events;
  json usage = usage_of(reply, context);
  events.push_back(anthropic_event(
      {{"type", "message_start"},
       {"message",
        {{"id", context.message_id},
         {"type", "message"},
         {"role", "assistant"},
         {"model", context.model},
         {"content", json::array()},
         {"stop_reason", nullptr},
         {"stop_sequence", nullptr},
         {"usage", {{"input_tokens", usage["input_tokens"]}, {"output_tokens", 1}}}}}}));
  events.push_back(anthropic_event({{"type", "ping"}}));
  for (std::size_t index = 0; index < reply.content.size(); ++index) {
    const json& block = reply.content[index];
    std::string type = block_type(block);
    json start = block;
    std::vector<json> deltas;
    if (type == "text") {
      start["text"] = "";
      for (const std::string& piece : split_utf8(block["text"].get<std::string>(), 3)) {
        deltas.push_back({{"type", "text_delta"}, {"text", piece}});
      }
    } else if (type == "tool_use") {
      start["input"] = json::object();
      start.erase("raw_input");
      deltas.push_back({{"type", "input_json_delta"}, {"partial_json", ""}});
      for (const std::string& piece : input_pieces(block)) {
        deltas.push_back({{"type", "input_json_delta"}, {"partial_json", piece}});
      }
    }
    events.push_back(anthropic_event(
        {{"type", "content_block_start"}, {"index", index}, {"content_block", start}}));
    for (json& delta : deltas) {
      events.push_back(anthropic_event(
          {{"type", "content_block_delta"}, {"index", index}, {"delta", std::move(delta)}}));
    }
    events.push_back(anthropic_event({{"type", "content_block_stop"}, {"index", index}}));
  }
  events.push_back(
      anthropic_event({{"type", "message_delta"},
                       {"delta", {{"stop_reason", reply.stop_reason}, {"stop_sequence", nullptr}}},
                       {"usage", {{"output_tokens", usage["output_tokens"]}}}}));
  events.push_back(anthropic_event({{"type", "message_stop"}}));
  return events;
}

std::vector<std::string> openai_events(const Response& reply, const ReplyContext& context) {
  std::vector<std::string> events;
  auto choice = [](json delta, json finish) {
    return json::array({{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", finish}}});
  };
  events.push_back(openai_event(
      openai_chunk(context, choice({{"role", "assistant"}, {"content", ""}}, nullptr))));
  for (const std::string& piece : split_utf8(joined_text(reply), 3)) {
    events.push_back(openai_event(openai_chunk(context, choice({{"content", piece}}, nullptr))));
  }
  int call_index = 0;
  for (const json& block : reply.content) {
    if (block_type(block) != "tool_use") continue;
    json first = {{"index", call_index},
                  {"id", block["id"]},
                  {"type", "function"},
                  {"function", {{"name", block["name"]}, {"arguments", ""}}}};
    events.push_back(openai_event(
        openai_chunk(context, choice({{"tool_calls", json::array({first})}}, nullptr))));
    for (const std::string& piece : input_pieces(block)) {
      json part = {{"index", call_index}, {"function", {{"arguments", piece}}}};
      events.push_back(openai_event(
          openai_chunk(context, choice({{"tool_calls", json::array({part})}}, nullptr))));
    }
    ++call_index;
  }
  events.push_back(openai_event(
      openai_chunk(context, choice(json::object(), openai_finish_reason(reply.stop_reason)))));
  if (context.include_usage) {
    json usage = usage_of(reply, context);
    json chunk = openai_chunk(context, json::array());
    chunk["usage"] = {
        {"prompt_tokens", usage["input_tokens"]},
        {"completion_tokens", usage["output_tokens"]},
        {"total_tokens", usage["input_tokens"].get<int>() + usage["output_tokens"].get<int>()}};
    events.push_back(openai_event(chunk));
  }
  events.push_back("data: [DONE]\n\n");
  return events;
}

json anthropic_message(const Response& reply, const ReplyContext& context) {
  return {{"id", context.message_id}, {"type", "message"},
          {"role", "assistant"},      {"model", context.model},
          {"content", reply.content}, {"stop_reason", reply.stop_reason},
          {"stop_sequence", nullptr}, {"usage", usage_of(reply, context)}};
}

json openai_completion(const Response& reply, const ReplyContext& context) {
  std::string text = joined_text(reply);
  json message = {{"role", "assistant"}, {"content", text.empty() ? json(nullptr) : json(text)}};
  json calls = json::array();
  for (const json& block : reply.content) {
    if (block_type(block) != "tool_use") continue;
    calls.push_back({{"id", block["id"]},
                     {"type", "function"},
                     {"function", {{"name", block["name"]}, {"arguments", dump(block["input"])}}}});
  }
  if (!calls.empty()) message["tool_calls"] = std::move(calls);
  json usage = usage_of(reply, context);
  return {
      {"id", context.message_id},
      {"object", "chat.completion"},
      {"created", static_cast<long long>(std::time(nullptr))},
      {"model", context.model},
      {"choices", json::array({{{"index", 0},
                                {"message", std::move(message)},
                                {"finish_reason", openai_finish_reason(reply.stop_reason)}}})},
      {"usage",
       {{"prompt_tokens", usage["input_tokens"]}, {"completion_tokens", usage["output_tokens"]}}}};
}

std::string default_error_message(int status) {
  switch (status) {
    case 400:
      return "invalid request";
    case 401:
      return "invalid x-api-key";
    case 403:
      return "permission denied";
    case 404:
      return "not found";
    case 413:
      return "request too large";
    case 429:
      return "rate limited (fake_model_server)";
    case 500:
      return "Internal server error";
    case 502:
      return "Bad gateway";
    case 503:
      return "Service unavailable";
    case 504:
      return "Gateway timeout";
    case 529:
      return "Overloaded";
    default:
      return fmt::format("error {}", status);
  }
}

static std::string default_type(int status) {
  switch (status) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 529:
      return "overloaded_error";
    default:
      return "api_error";
  }
}

json anthropic_error_body(int status, const std::string& type, const std::string& message) {
  return {{"type", "error"},
          {"error",
           {{"type", type.empty() ? default_type(status) : type},
            {"message", message.empty() ? default_error_message(status) : message}}}};
}

json openai_error_body(int status, const std::string& type, const std::string& message) {
  return {{"error",
           {{"message", message.empty() ? default_error_message(status) : message},
            {"type", type.empty() ? default_type(status) : type},
            {"param", nullptr},
            {"code", nullptr}}}};
}

std::string anthropic_error_event(const std::string& type, const std::string& message) {
  return anthropic_event(
      {{"type", "error"},
       {"error", {{"type", type}, {"message", message.empty() ? type : message}}}});
}

std::string openai_error_event(const std::string& type, const std::string& message) {
  return openai_event({{"error", {{"message", message.empty() ? type : message}, {"type", type}}}});
}

}  // namespace fake_server
