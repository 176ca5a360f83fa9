#include "agent/conversation.h"

#include <set>

#include "tools/format.h"

namespace meanwhile::agent {
namespace {

bool is_block(const json& b) {
  return b.is_object() && b.contains("type") && b["type"].is_string();
}

bool empty_text_block(const json& b) {
  return b["type"] == "text" && (!b.contains("text") || !b["text"].is_string() ||
                                 b["text"].get_ref<const std::string&>().empty());
}

// Content as an array of blocks: a string becomes one text block.
json normalized_content(const json& message) {
  const json& c = message["content"];
  json out = json::array();
  if (c.is_string()) {
    if (!c.get_ref<const std::string&>().empty()) out.push_back(text_block(c.get<std::string>()));
    return out;
  }
  for (const json& b : c) {
    if (is_block(b) && !empty_text_block(b)) out.push_back(b);
  }
  return out;
}

}  // namespace

json text_block(std::string text) {
  return {{"type", "text"}, {"text", std::move(text)}};
}

json tool_result_block(const std::string& tool_use_id, std::string text, bool is_error) {
  if (text.empty()) text = "(no output)";  // the API refuses empty content
  json block = {{"type", "tool_result"}, {"tool_use_id", tool_use_id}, {"content", text}};
  if (is_error) block["is_error"] = true;
  return block;
}

std::string background_results_text(const std::vector<Note>& notes) {
  std::string out = "<background-results>\n";
  for (const Note& note : notes) {
    out += format_note(note);
    if (out.back() != '\n') out += '\n';
  }
  out += "</background-results>";
  return out;
}

void add_user_blocks(json& messages, const json& blocks) {
  if (blocks.empty()) return;
  if (messages.empty() || messages.back().value("role", "") != "user") {
    messages.push_back({{"role", "user"}, {"content", json::array()}});
  }
  json& content = messages.back()["content"];
  for (const json& b : blocks) content.push_back(b);
}

std::vector<json> tool_uses(const json& assistant_message) {
  std::vector<json> out;
  if (!assistant_message.contains("content") || !assistant_message["content"].is_array())
    return out;
  for (const json& b : assistant_message["content"]) {
    if (is_block(b) && b["type"] == "tool_use") out.push_back(b);
  }
  return out;
}

std::string message_text(const json& message) {
  std::string out;
  if (!message.contains("content")) return out;
  if (message["content"].is_string()) return message["content"].get<std::string>();
  for (const json& b : message["content"]) {
    if (!is_block(b) || b["type"] != "text" || !b.contains("text") || !b["text"].is_string()) {
      continue;
    }
    if (!out.empty()) out += "\n";
    out += b["text"].get<std::string>();
  }
  return out;
}

json repair_conversation(const json& messages, std::vector<std::string>* warnings) {
  auto warn = [&](std::string w) {
    if (warnings) warnings->push_back(std::move(w));
  };
  // 1. Well-formed messages only, content as non-empty block arrays, one turn per role.
  json turns = json::array();
  for (const json& m : messages) {
    if (!m.is_object() || !m.contains("role") || !m.contains("content") ||
        (m["role"] != "user" && m["role"] != "assistant")) {
      warn("dropped a malformed message");
      continue;
    }
    json content = normalized_content(m);
    if (content.empty()) continue;
    if (!turns.empty() && turns.back()["role"] == m["role"]) {
      for (json& b : content) turns.back()["content"].push_back(std::move(b));
      continue;
    }
    if (turns.empty() && m["role"] == "assistant") {
      warn("dropped an assistant turn before the first user turn");
      continue;
    }
    turns.push_back({{"role", m["role"]}, {"content", std::move(content)}});
  }
  // 2. Every tool_use answered at the start of the next user turn; stray results dropped.
  json out = json::array();
  for (std::size_t i = 0; i < turns.size(); ++i) {
    json turn = turns[i];
    if (turn["role"] == "user") {
      std::set<std::string> expected;
      if (!out.empty()) {
        for (const json& use : tool_uses(out.back())) expected.insert(use.value("id", ""));
      }
      json results = json::array(), rest = json::array();
      std::set<std::string> answered;
      for (json& b : turn["content"]) {
        if (b["type"] != "tool_result") {
          rest.push_back(std::move(b));
          continue;
        }
        std::string id = b.value("tool_use_id", "");
        if (!expected.count(id) || answered.count(id)) {
          warn("dropped a tool_result without its tool_use");
          continue;
        }
        answered.insert(id);
        results.push_back(std::move(b));
      }
      for (const std::string& id : expected) {
        if (!answered.count(id)) {
          results.push_back(
              tool_result_block(id, "interrupted: the session ended before this tool ran", true));
          warn("answered an unanswered tool_use with an error result");
        }
      }
      for (json& b : rest) results.push_back(std::move(b));
      if (results.empty())
        results.push_back(text_block("(no content)"));  // keeps roles alternating
      turn["content"] = std::move(results);
    }
    out.push_back(std::move(turn));
  }
  // 3. A trailing assistant tool_use (the session ended while its tools ran).
  if (!out.empty() && out.back()["role"] == "assistant") {
    json blocks = json::array();
    for (const json& use : tool_uses(out.back())) {
      blocks.push_back(tool_result_block(
          use.value("id", ""), "interrupted: the session ended before this tool ran", true));
    }
    if (!blocks.empty()) {
      warn("answered the last turn's tool calls with error results");
      out.push_back({{"role", "user"}, {"content", std::move(blocks)}});
    }
  }
  return out;
}

}  // namespace meanwhile::agent
