// Fuzz target: the script-provider format (src/llm/script.h), JSONL text whose lines become the
// model's turns: parse_script_text, then scripted_response for every line, as
// make_script_provider does. A turn that is accepted must be one the agent loop can use.
#include <cstdint>
#include <string>

#include "base/json_parse.h"
#include "fuzz_util.h"
#include "llm/script.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto lines = meanwhile::llm::parse_script_text(meanwhile::fuzz::as_text(data, size), "fuzz");
  if (!lines.ok()) {
    FUZZ_CHECK(lines.error().starts_with("fuzz line "),
               "an error without its line: " + lines.error());
    return 0;
  }
  int tool_ids_issued = 0;
  int previous_line = 0;
  for (const meanwhile::llm::ScriptLine& line : *lines) {
    FUZZ_CHECK(line.line_number > previous_line, "line numbers do not increase");
    previous_line = line.line_number;
    auto turn = meanwhile::llm::scripted_response(line.value, tool_ids_issued);
    if (!turn.ok()) {
      FUZZ_CHECK(!turn.error().empty(), "an error without a message");
      continue;
    }
    FUZZ_CHECK(turn->content.is_array() && !turn->content.empty(), "a turn without content");
    FUZZ_CHECK(!turn->stop_reason.empty(), "a turn without a stop reason");
    bool tool_use = false;
    for (const auto& block : turn->content) {
      if (!block.is_object() || block.value("type", "") != "tool_use") continue;
      tool_use = true;
      FUZZ_CHECK(block["input"].is_object(), "a tool_use whose input is not an object");
      FUZZ_CHECK(block["id"].is_string() && !block["id"].get<std::string>().empty(),
                 "a tool_use without an id");
    }
    if (!line.value.is_object() || !line.value.contains("stop_reason")) {
      FUZZ_CHECK(turn->stop_reason == (tool_use ? "tool_use" : "end_turn"),
                 "a default stop reason that does not match the content");
    }
    // A turn is sent back to the model as JSON: it must serialize, and stay within the bound.
    const std::string text =
        turn->content.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    FUZZ_CHECK(meanwhile::parse_json(text).ok(), "a turn does not parse back");
  }
  return 0;
}
