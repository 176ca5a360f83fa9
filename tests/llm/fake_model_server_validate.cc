#include "fake_model_server_validate.h"

#include <fmt/format.h>

#include <set>
#include <vector>

namespace fake_server {

using nlohmann::json;
using Problem = std::optional<std::string>;

namespace {

std::string type_of(const json& block) {
  return block.is_object() && block.contains("type") && block["type"].is_string()
             ? block["type"].get<std::string>()
             : std::string();
}

bool is_nonempty_string(const json& object, const char* key) {
  return object.is_object() && object.contains(key) && object[key].is_string() &&
         !object[key].get<std::string>().empty();
}

bool valid_name(const std::string& name, std::size_t max) {
  if (name.empty() || name.size() > max) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

const std::set<std::string> kKnownBlocks = {"text",
                                            "image",
                                            "document",
                                            "tool_use",
                                            "tool_result",
                                            "thinking",
                                            "redacted_thinking",
                                            "server_tool_use",
                                            "web_search_tool_result",
                                            "search_result"};

// One block of message `i` (role `role`), position `j`.
Problem check_block(const json& block, std::size_t i, std::size_t j, const std::string& role,
                    std::set<std::string>& tool_use_ids) {
  std::string where = fmt::format("messages.{}.content.{}", i, j);
  if (!block.is_object()) return where + ": Input should be an object";
  std::string type = type_of(block);
  if (type.empty()) return where + ".type: Field required";
  if (!kKnownBlocks.count(type)) {
    return fmt::format("{}.type: unknown content block type \"{}\"", where, type);
  }
  if (type == "text") {
    if (!block.contains("text") || !block["text"].is_string()) {
      return where + ".text: Input should be a valid string";
    }
    if (block["text"].get<std::string>().empty()) {
      return where + ": text content blocks must be non-empty";
    }
  } else if (type == "tool_use") {
    if (role != "assistant")
      return where + ": tool_use blocks are only allowed in assistant messages";
    if (!block.contains("id") || !block["id"].is_string() ||
        !valid_name(block["id"].get<std::string>(), 256)) {
      return where + ".id: String should match pattern '^[a-zA-Z0-9_-]+$'";
    }
    if (!is_nonempty_string(block, "name")) return where + ".name: Field required";
    if (!block.contains("input") || !block["input"].is_object()) {
      return where + ".input: Input should be a valid dictionary";
    }
    std::string id = block["id"].get<std::string>();
    if (!tool_use_ids.insert(id).second) {
      return fmt::format("{}: `tool_use` ids must be unique; \"{}\" is used more than once", where,
                         id);
    }
  } else if (type == "tool_result") {
    if (role != "user") return where + ": tool_result blocks are only allowed in user messages";
    if (!is_nonempty_string(block, "tool_use_id")) return where + ".tool_use_id: Field required";
    if (block.contains("content")) {
      const json& content = block["content"];
      if (!content.is_string() && !content.is_array()) {
        return where + ".content: Input should be a valid string or list of content blocks";
      }
      if (content.is_array()) {
        for (std::size_t k = 0; k < content.size(); ++k) {
          if (type_of(content[k]) == "text" && !is_nonempty_string(content[k], "text")) {
            return fmt::format("{}.content.{}: text content blocks must be non-empty", where, k);
          }
        }
      }
    }
    if (block.contains("is_error") && !block["is_error"].is_boolean()) {
      return where + ".is_error: Input should be a valid boolean";
    }
  } else if (type == "image" || type == "document") {
    if (!block.contains("source") || !block["source"].is_object())
      return where + ".source: Field required";
  }
  return std::nullopt;
}

// tool_use ids of an assistant message, tool_result ids of a user message (in order).
std::vector<std::string> ids_of(const json& content, const char* type, const char* key) {
  std::vector<std::string> ids;
  if (!content.is_array()) return ids;
  for (const json& block : content) {
    if (type_of(block) == type) ids.push_back(block[key].get<std::string>());
  }
  return ids;
}

Problem check_pairing(const json& messages) {
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const json& message = messages[i];
    const json& content = message["content"];
    if (message["role"] == "assistant") {
      std::vector<std::string> uses = ids_of(content, "tool_use", "id");
      if (uses.empty()) continue;
      std::vector<std::string> results;
      if (i + 1 < messages.size())
        results = ids_of(messages[i + 1]["content"], "tool_result", "tool_use_id");
      std::vector<std::string> missing;
      for (const std::string& id : uses) {
        if (std::find(results.begin(), results.end(), id) == results.end()) missing.push_back(id);
      }
      if (!missing.empty()) {
        return fmt::format(
            "messages.{}: `tool_use` ids were found without `tool_result` blocks immediately "
            "after: {}. Each `tool_use` block must have a corresponding `tool_result` block in the "
            "next message.",
            i, join(missing));
      }
      continue;
    }
    // A user message: its tool_result blocks answer the previous assistant message, come first,
    // and answer each tool_use once.
    if (!content.is_array()) continue;
    std::vector<std::string> uses;
    if (i > 0) uses = ids_of(messages[i - 1]["content"], "tool_use", "id");
    std::set<std::string> answered;
    bool other_seen = false;
    for (std::size_t j = 0; j < content.size(); ++j) {
      if (type_of(content[j]) != "tool_result") {
        other_seen = true;
        continue;
      }
      std::string id = content[j]["tool_use_id"].get<std::string>();
      if (std::find(uses.begin(), uses.end(), id) == uses.end()) {
        return fmt::format(
            "messages.{}.content.{}: unexpected `tool_use_id` found in `tool_result` blocks: {}. "
            "Each `tool_result` block must have a corresponding `tool_use` block in the previous "
            "message.",
            i, j, id);
      }
      if (other_seen) {
        return fmt::format(
            "messages.{}.content.{}: `tool_result` blocks must come first in the user message, "
            "before any other content",
            i, j);
      }
      if (!answered.insert(id).second) {
        return fmt::format("messages.{}.content.{}: more than one `tool_result` for tool_use_id {}",
                           i, j, id);
      }
    }
  }
  return std::nullopt;
}

Problem check_tools_anthropic(const json& body) {
  if (!body.contains("tools")) return std::nullopt;
  const json& tools = body["tools"];
  if (!tools.is_array()) return "tools: Input should be a valid list";
  std::set<std::string> names;
  for (std::size_t k = 0; k < tools.size(); ++k) {
    const json& tool = tools[k];
    std::string where = fmt::format("tools.{}", k);
    if (!tool.is_object()) return where + ": Input should be an object";
    if (!tool.contains("name") || !tool["name"].is_string() ||
        !valid_name(tool["name"].get<std::string>(), 128)) {
      return where + ".name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'";
    }
    std::string name = tool["name"].get<std::string>();
    if (!names.insert(name).second)
      return fmt::format("tools: Tool names must be unique: {}", name);
    bool custom = !tool.contains("type") || tool["type"] == "custom";
    if (!custom) continue;  // a server tool (web_search_...): its own schema
    if (!tool.contains("input_schema") || !tool["input_schema"].is_object()) {
      return where + ".input_schema: Field required";
    }
    if (tool["input_schema"].value("type", json()) != "object") {
      return where + ".input_schema.type: Input should be 'object'";
    }
    if (tool.contains("description") && !tool["description"].is_string()) {
      return where + ".description: Input should be a valid string";
    }
  }
  return std::nullopt;
}

}  // namespace

bool valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    std::size_t length;
    char32_t code;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      length = 2, code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3, code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4, code = c & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    static constexpr char32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kMinimum[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

std::optional<std::string> parse_body(const std::string& raw, json& body) {
  if (!valid_utf8(raw)) return "The request body is not valid UTF-8";
  try {
    body = json::parse(raw);
  } catch (const json::parse_error& e) {
    return fmt::format("The request body is not valid JSON: {}", e.what());
  }
  if (!body.is_object()) return "The request body must be a JSON object";
  return std::nullopt;
}

std::optional<std::string> validate_anthropic(const json& body) {
  if (!is_nonempty_string(body, "model")) return "model: Field required";
  if (!body.contains("max_tokens")) return "max_tokens: Field required";
  if (!body["max_tokens"].is_number_integer() || body["max_tokens"].get<long long>() < 1) {
    return "max_tokens: Input should be a positive integer";
  }
  if (body.contains("stream") && !body["stream"].is_boolean()) {
    return "stream: Input should be a valid boolean";
  }
  if (body.contains("system")) {
    const json& system = body["system"];
    if (system.is_array()) {
      for (std::size_t k = 0; k < system.size(); ++k) {
        if (type_of(system[k]) != "text" || !is_nonempty_string(system[k], "text")) {
          return fmt::format("system.{}: system blocks must be non-empty text blocks", k);
        }
      }
    } else if (!system.is_string()) {
      return "system: Input should be a valid string or list of text blocks";
    }
  }
  if (!body.contains("messages")) return "messages: Field required";
  const json& messages = body["messages"];
  if (!messages.is_array()) return "messages: Input should be a valid list";
  if (messages.empty()) return "messages: at least one message is required";

  std::set<std::string> tool_use_ids;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const json& message = messages[i];
    if (!message.is_object()) return fmt::format("messages.{}: Input should be an object", i);
    if (!message.contains("role") ||
        (message["role"] != "user" && message["role"] != "assistant")) {
      return fmt::format("messages.{}.role: Input should be 'user' or 'assistant'", i);
    }
    std::string role = message["role"].get<std::string>();
    if (i == 0 && role != "user") return "messages.0: the first message must use the \"user\" role";
    if (i > 0 && messages[i - 1]["role"] == role) {
      return fmt::format(
          "messages.{}: roles must alternate between \"user\" and \"assistant\", but messages {} "
          "and {} are both \"{}\"",
          i, i - 1, i, role);
    }
    if (!message.contains("content")) return fmt::format("messages.{}.content: Field required", i);
    const json& content = message["content"];
    if (content.is_string()) {
      if (content.get<std::string>().empty()) {
        return fmt::format("messages.{}: all messages must have non-empty content", i);
      }
      continue;
    }
    if (!content.is_array()) {
      return fmt::format(
          "messages.{}.content: Input should be a valid string or list of content blocks", i);
    }
    if (content.empty())
      return fmt::format("messages.{}: all messages must have non-empty content", i);
    for (std::size_t j = 0; j < content.size(); ++j) {
      if (Problem problem = check_block(content[j], i, j, role, tool_use_ids)) return problem;
    }
  }
  if (Problem problem = check_pairing(messages)) return problem;
  return check_tools_anthropic(body);
}

}  // namespace fake_server
