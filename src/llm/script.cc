#include "llm/script.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

#include "base/json_parse.h"
#include "llm/json_util.h"
#include "llm/providers.h"

namespace meanwhile::llm {

using nlohmann::json;

Result<std::vector<ScriptLine>> parse_script_text(std::string_view text, std::string_view name) {
  std::vector<ScriptLine> lines;
  std::size_t pos = 0;
  for (int number = 1; pos < text.size(); ++number) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.ends_with('\r')) line.remove_suffix(1);
    std::size_t start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos || line.substr(start).starts_with("//")) continue;
    JsonParse parsed = parse_json(line);
    if (!parsed.ok()) {
      // parse_json's sentence says what is wrong (nlohmann's position-bearing message, or the
      // nesting bound); a too-deep line also says what to do.
      return make_error(fmt::format("{} line {}: {}{}", name, number, parsed.error,
                                    parsed.too_deep ? " (a script message needs only a few levels: "
                                                      "flatten it)"
                                                    : ""));
    }
    lines.push_back(ScriptLine{number, std::move(parsed.value)});
  }
  return lines;
}

Result<std::vector<ScriptLine>> read_jsonl(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return posix_error(fmt::format("cannot read {}", path), errno);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return posix_error(fmt::format("cannot read {}", path), errno);
  return parse_script_text(text.str(), path);
}

Result<Response> scripted_response(const json& entry, int& tool_ids_issued) {
  json content;
  Response response;
  if (entry.is_array()) {
    content = entry;
  } else if (entry.is_object()) {
    if (entry.contains("role") && entry["role"] != "assistant") {
      return make_error("\"role\" must be \"assistant\"");
    }
    if (!entry.contains("content")) return make_error("no \"content\"");
    content = entry["content"];
    if (entry.contains("stop_reason")) {
      if (!entry["stop_reason"].is_string()) return make_error("\"stop_reason\" is not a string");
      response.stop_reason = entry["stop_reason"].get<std::string>();
    }
    if (entry.contains("usage")) {
      if (!entry["usage"].is_object()) return make_error("\"usage\" is not an object");
      response.usage = entry["usage"];
    }
  } else {
    return make_error("expected an assistant message object or an array of content blocks");
  }
  if (content.is_string()) content = json::array({{{"type", "text"}, {"text", content}}});
  if (!content.is_array()) return make_error("\"content\" is not an array of blocks");
  if (content.empty()) return make_error("\"content\" is empty");

  bool has_tool_use = false;
  for (std::size_t i = 0; i < content.size(); ++i) {
    json& block = content[i];
    std::string type = string_at(block, "type");
    if (type.empty()) return make_error(fmt::format("content block {} has no \"type\"", i));
    if (type == "text") {
      if (string_at(block, "text").empty()) {
        return make_error(fmt::format("text block {} has no text (empty text is rejected)", i));
      }
    } else if (type == "tool_use") {
      has_tool_use = true;
      if (string_at(block, "name").empty()) {
        return make_error(fmt::format("tool_use block {} has no \"name\"", i));
      }
      if (!block.contains("input")) block["input"] = json::object();
      if (!block["input"].is_object()) {
        return make_error(fmt::format("tool_use block {}: \"input\" is not an object", i));
      }
      if (!block.contains("id")) {
        block["id"] = fmt::format("toolu_script_{}", ++tool_ids_issued);
      } else if (string_at(block, "id").empty()) {
        return make_error(fmt::format("tool_use block {}: \"id\" is not a non-empty string", i));
      }
    }
  }
  if (response.stop_reason.empty()) response.stop_reason = has_tool_use ? "tool_use" : "end_turn";
  response.content = std::move(content);
  return response;
}

namespace {

class ScriptProvider : public Provider {
 public:
  explicit ScriptProvider(std::vector<Response> turns) : turns_(std::move(turns)) {}

  Result<Response> send(const Request&, const StreamHandler& handler,
                        const std::atomic<bool>* cancel) override {
    if (cancel && cancel->load()) return make_error("interrupted");
    Response turn;
    {
      std::lock_guard lock(mutex_);
      if (next_ >= turns_.size()) {
        return make_error(fmt::format("script exhausted after {} turns", turns_.size()));
      }
      turn = turns_[next_++];
    }
    if (handler.on_text) {
      for (const json& block : turn.content) {
        if (string_at(block, "type") == "text") handler.on_text(string_at(block, "text"));
      }
    }
    return turn;
  }

  std::string name() const override { return "script"; }

 private:
  std::mutex mutex_;
  std::vector<Response> turns_;
  std::size_t next_ = 0;
};

}  // namespace

Result<std::unique_ptr<Provider>> make_script_provider(const ProviderConfig& config) {
  auto lines = read_jsonl(config.script_path);
  if (!lines.ok()) return make_error("script " + lines.error());
  std::vector<Response> turns;
  int tool_ids_issued = 0;
  for (const ScriptLine& line : *lines) {
    auto turn = scripted_response(line.value, tool_ids_issued);
    if (!turn.ok()) {
      return make_error(
          fmt::format("script {} line {}: {}", config.script_path, line.line_number, turn.error()));
    }
    turns.push_back(std::move(*turn));
  }
  return std::unique_ptr<Provider>(std::make_unique<ScriptProvider>(std::move(turns)));
}

}  // namespace meanwhile::llm
