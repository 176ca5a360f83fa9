// The conversation in the Anthropic Messages format and the rules the API enforces on it:
// roles alternate, every tool_use is answered by a tool_result with the same id at the start
// of the next user turn, no empty content. Also how background notes are injected into it.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "meanwhile/lane.h"

namespace meanwhile::agent {

using nlohmann::json;

json text_block(std::string text);
json tool_result_block(const std::string& tool_use_id, std::string text, bool is_error);

// "<background-results>\n" + one format_note per note + "</background-results>".
std::string background_results_text(const std::vector<Note>& notes);

// Adds blocks to the user turn about to be sent: appended to the last message when it is a
// user turn (not yet answered), else as a new user turn. Blocks keep their order, so the
// tool_result blocks that open a turn stay first.
void add_user_blocks(json& messages, const json& blocks);

// The tool_use blocks of an assistant message.
std::vector<json> tool_uses(const json& assistant_message);

// Joined text blocks of a message.
std::string message_text(const json& message);

// Makes a loaded conversation valid to send: drops malformed messages and empty blocks,
// merges consecutive turns of one role, drops leading assistant turns, and answers a trailing
// assistant tool_use (and any other unanswered one) with is_error tool_results. Each repair is
// described in `warnings`.
json repair_conversation(const json& messages, std::vector<std::string>* warnings);

}  // namespace meanwhile::agent
