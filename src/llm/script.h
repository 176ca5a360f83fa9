// Scripted model turns, for offline demos and tests (the script provider) and for the fake model
// server in tests/llm, which replays the same format over HTTP.
//
// A script is JSONL: one assistant message per line, each either
//   {"role":"assistant","content":[blocks], "stop_reason":"...", "usage":{...}}
//   {"content":[blocks]}        (role optional; content may also be a plain string)
//   [blocks]                    (a bare array of content blocks)
// Blocks are Anthropic content blocks: {"type":"text","text":"..."} and
// {"type":"tool_use","name":"...","input":{...}} ("id" optional: "toolu_script_N" is generated,
// N counting from 1 through the file); other block types pass through unchanged. stop_reason
// defaults to "tool_use" when the message has a tool_use block, else "end_turn". Blank lines and
// lines starting with "//" are skipped. Other fields on a line are ignored here (the fake server
// reads its fault fields from them).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "meanwhile/llm.h"

namespace meanwhile::llm {

struct ScriptLine {
  int line_number = 0;  // 1-based, in the file
  nlohmann::json value;
};

// Parses script text: the JSON value on each non-blank, non-comment line, through parse_json
// (src/base/json_parse.h), so a line nested deeper than kMaxJsonDepth is refused before any tree
// is built. An Error names `name` (the file) and the number of the first line that is not JSON.
Result<std::vector<ScriptLine>> parse_script_text(std::string_view text, std::string_view name);

// Reads the file at `path` and parses it with parse_script_text().
Result<std::vector<ScriptLine>> read_jsonl(const std::string& path);

// One scripted assistant message as a Response. `tool_ids_issued` counts generated tool_use
// ids across a script.
Result<Response> scripted_response(const nlohmann::json& entry, int& tool_ids_issued);

}  // namespace meanwhile::llm
