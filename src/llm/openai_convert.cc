#include "llm/openai_convert.h"

#include <vector>

#include "llm/json_util.h"

namespace meanwhile::llm {

using nlohmann::json;

namespace {

void append_paragraph(std::string& text, const std::string& more) {
  if (more.empty()) return;
  if (!text.empty()) text += "\n\n";
  text += more;
}

// An Anthropic image block as an OpenAI image_url part; null when it has no usable source.
json image_part(const json& block) {
  const json source = block.value("source", json::object());
  std::string url;
  if (string_at(source, "type") == "base64") {
    url = "data:" + string_at(source, "media_type") + ";base64," + string_at(source, "data");
  } else if (string_at(source, "type") == "url") {
    url = string_at(source, "url");
  }
  if (url.empty()) return nullptr;
  return {{"type", "image_url"}, {"image_url", {{"url", url}}}};
}

// A tool_result's content (a string or blocks) as plain text.
std::string tool_result_text(const json& block) {
  std::string text;
  const json content = block.value("content", json());
  if (content.is_string()) {
    text = content.get<std::string>();
  } else if (content.is_array()) {
    for (const json& part : content) {
      if (string_at(part, "type") == "text") {
        append_paragraph(text, string_at(part, "text"));
      } else if (part.is_object()) {
        append_paragraph(text, "[" + string_at(part, "type") + " omitted]");
      }
    }
  }
  bool is_error = block.contains("is_error") && block["is_error"] == true;
  if (is_error && !text.starts_with("Error")) text = "Error: " + text;
  return text;
}

void convert_user(const json& content, json& out) {
  if (content.is_string()) {
    out.push_back({{"role", "user"}, {"content", content}});
    return;
  }
  if (!content.is_array()) return;
  std::string text;
  json parts = json::array();
  bool has_image = false;
  for (const json& block : content) {
    std::string type = string_at(block, "type");
    if (type == "tool_result") {
      out.push_back({{"role", "tool"},
                     {"tool_call_id", string_at(block, "tool_use_id")},
                     {"content", tool_result_text(block)}});
    } else if (type == "text") {
      append_paragraph(text, string_at(block, "text"));
      parts.push_back({{"type", "text"}, {"text", string_at(block, "text")}});
    } else if (type == "image") {
      json part = image_part(block);
      if (!part.is_null()) {
        parts.push_back(std::move(part));
        has_image = true;
      }
    }
  }
  if (has_image) {
    out.push_back({{"role", "user"}, {"content", std::move(parts)}});
  } else if (!text.empty()) {
    out.push_back({{"role", "user"}, {"content", std::move(text)}});
  }
}

void convert_assistant(const json& content, json& out) {
  if (content.is_string()) {
    out.push_back({{"role", "assistant"}, {"content", content}});
    return;
  }
  if (!content.is_array()) return;
  std::string text;
  json tool_calls = json::array();
  for (const json& block : content) {
    std::string type = string_at(block, "type");
    if (type == "text") {
      append_paragraph(text, string_at(block, "text"));
    } else if (type == "tool_use") {
      json input = block.value("input", json::object());
      tool_calls.push_back(
          {{"id", string_at(block, "id")},
           {"type", "function"},
           {"function",
            {{"name", string_at(block, "name")},
             {"arguments", input.dump(-1, ' ', false, json::error_handler_t::replace)}}}});
    }
  }
  if (text.empty() && tool_calls.empty()) return;  // nothing OpenAI can represent
  json message = {{"role", "assistant"}};
  message["content"] = text.empty() ? json(nullptr) : json(text);
  if (!tool_calls.empty()) message["tool_calls"] = std::move(tool_calls);
  out.push_back(std::move(message));
}

}  // namespace

json to_openai_messages(const std::string& system, const json& messages) {
  json out = json::array();
  if (!system.empty()) out.push_back({{"role", "system"}, {"content", system}});
  if (!messages.is_array()) return out;
  for (const json& message : messages) {
    std::string role = string_at(message, "role");
    const json content = message.is_object() ? message.value("content", json()) : json();
    if (role == "user") {
      convert_user(content, out);
    } else if (role == "assistant") {
      convert_assistant(content, out);
    }
  }
  return out;
}

json to_openai_tools(const json& tools) {
  json out = json::array();
  if (!tools.is_array()) return out;
  for (const json& tool : tools) {
    if (!tool.is_object()) continue;
    json function = {{"name", string_at(tool, "name")},
                     {"parameters", tool.value("input_schema", json{{"type", "object"}})}};
    std::string description = string_at(tool, "description");
    if (!description.empty()) function["description"] = description;
    out.push_back({{"type", "function"}, {"function", std::move(function)}});
  }
  return out;
}

}  // namespace meanwhile::llm
