// fake_model_server: validation of OpenAI chat completions requests (see the header).
#include <fmt/format.h>

#include <set>
#include <vector>

#include "fake_model_server_validate.h"

namespace fake_server {

using nlohmann::json;
using Problem = std::optional<std::string>;

namespace {

bool nonempty_string(const json& object, const char* key) {
  return object.is_object() && object.contains(key) && object[key].is_string() &&
         !object[key].get<std::string>().empty();
}

// Content that must say something: a non-empty string or a non-empty array of parts.
Problem check_content(const json& message, std::size_t i) {
  std::string where = fmt::format("messages[{}].content", i);
  if (!message.contains("content")) return where + ": Field required";
  const json& content = message["content"];
  if (content.is_string()) {
    if (content.get<std::string>().empty()) return where + ": must not be empty";
    return std::nullopt;
  }
  if (!content.is_array() || content.empty())
    return where + ": must be a non-empty string or array";
  for (std::size_t k = 0; k < content.size(); ++k) {
    const json& part = content[k];
    std::string type = part.is_object() ? part.value("type", "") : "";
    if (type == "text") {
      if (!nonempty_string(part, "text"))
        return fmt::format("{}[{}].text: must not be empty", where, k);
    } else if (type != "image_url" && type != "input_audio" && type != "file") {
      return fmt::format("{}[{}].type: unknown content part type", where, k);
    }
  }
  return std::nullopt;
}

Problem check_tool_calls(const json& message, std::size_t i, std::vector<std::string>& ids) {
  const json& calls = message["tool_calls"];
  if (!calls.is_array()) return fmt::format("messages[{}].tool_calls: must be an array", i);
  for (std::size_t k = 0; k < calls.size(); ++k) {
    std::string where = fmt::format("messages[{}].tool_calls[{}]", i, k);
    const json& call = calls[k];
    if (!nonempty_string(call, "id")) return where + ".id: Field required";
    if (call.value("type", "") != "function") return where + ".type: must be \"function\"";
    if (!call.contains("function") || !call["function"].is_object()) {
      return where + ".function: Field required";
    }
    const json& function = call["function"];
    if (!nonempty_string(function, "name")) return where + ".function.name: Field required";
    if (!function.contains("arguments") || !function["arguments"].is_string()) {
      return where + ".function.arguments: must be a string (JSON-encoded arguments)";
    }
    if (json::parse(function["arguments"].get<std::string>(), nullptr, false).is_discarded()) {
      return where + ".function.arguments: is not valid JSON";
    }
    ids.push_back(call["id"].get<std::string>());
  }
  return std::nullopt;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

Problem check_tools(const json& body) {
  if (!body.contains("tools")) return std::nullopt;
  const json& tools = body["tools"];
  if (!tools.is_array()) return "tools: must be an array";
  std::set<std::string> names;
  for (std::size_t k = 0; k < tools.size(); ++k) {
    std::string where = fmt::format("tools[{}]", k);
    const json& tool = tools[k];
    if (!tool.is_object() || tool.value("type", "") != "function")
      return where + ".type: must be \"function\"";
    if (!tool.contains("function") || !nonempty_string(tool["function"], "name")) {
      return where + ".function.name: Field required";
    }
    const json& function = tool["function"];
    if (function.contains("parameters") && !function["parameters"].is_object()) {
      return where + ".function.parameters: must be an object";
    }
    if (!names.insert(function["name"].get<std::string>()).second) {
      return fmt::format("tools: duplicate function name {}", function["name"].get<std::string>());
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> validate_openai(const json& body) {
  if (!nonempty_string(body, "model")) return "you must provide a model parameter";
  if (body.contains("stream") && !body["stream"].is_boolean()) return "stream: must be a boolean";
  if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty()) {
    return "messages: must be a non-empty array";
  }
  const json& messages = body["messages"];
  std::vector<std::string> pending;  // tool_call ids still waiting for their tool message
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const json& message = messages[i];
    if (!message.is_object()) return fmt::format("messages[{}]: must be an object", i);
    std::string role = message.value("role", "");
    if (role != "tool" && !pending.empty()) {
      return fmt::format(
          "messages[{}]: An assistant message with 'tool_calls' must be followed by tool messages "
          "responding to each 'tool_call_id'. The following tool_call_ids did not have response "
          "messages: {}",
          i, join(pending));
    }
    if (role == "system" || role == "developer" || role == "user") {
      if (Problem problem = check_content(message, i)) return problem;
    } else if (role == "assistant") {
      bool has_calls = message.contains("tool_calls") && !message["tool_calls"].is_null();
      bool has_content = message.contains("content") && !message["content"].is_null();
      if (!has_calls && !has_content) {
        return fmt::format("messages[{}]: an assistant message needs content or tool_calls", i);
      }
      if (has_content && (!has_calls || !(message["content"].is_string() &&
                                          message["content"].get<std::string>().empty()))) {
        if (Problem problem = check_content(message, i)) return problem;
      }
      if (has_calls) {
        if (Problem problem = check_tool_calls(message, i, pending)) return problem;
      }
    } else if (role == "tool") {
      if (!nonempty_string(message, "tool_call_id")) {
        return fmt::format("messages[{}].tool_call_id: Field required", i);
      }
      std::string id = message["tool_call_id"].get<std::string>();
      auto it = std::find(pending.begin(), pending.end(), id);
      if (it == pending.end()) {
        return fmt::format(
            "messages[{}]: Invalid parameter: messages with role 'tool' must be a response to a "
            "preceding message with 'tool_calls' (no pending call with id {})",
            i, id);
      }
      pending.erase(it);
      if (!message.contains("content") ||
          (!message["content"].is_string() && !message["content"].is_array())) {
        return fmt::format("messages[{}].content: must be a string or an array of text parts", i);
      }
    } else {
      return fmt::format(
          "messages[{}].role: must be one of system, developer, user, assistant, tool", i);
    }
  }
  if (!pending.empty()) {
    return fmt::format(
        "An assistant message with 'tool_calls' must be followed by tool messages responding to "
        "each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
        join(pending));
  }
  return check_tools(body);
}

}  // namespace fake_server
