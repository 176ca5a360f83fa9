// Conversion from the Anthropic message format (the one the agent keeps) to OpenAI chat
// completions, done at the provider's edge:
//   system prompt          -> a first {"role":"system"} message
//   text blocks            -> content (several joined by a blank line)
//   image blocks           -> image_url content parts (data: URLs)
//   assistant tool_use     -> tool_calls [{id, type:function, function:{name, arguments}}] with
//                             the input as a JSON string
//   user tool_result       -> {"role":"tool", tool_call_id, content} messages, placed before the
//                             rest of that user turn (OpenAI wants them right after the call);
//                             is_error results get an "Error: " prefix (OpenAI has no flag)
//   tools                  -> [{type:function, function:{name, description, parameters}}]
// Other block types (thinking, documents) have no OpenAI equivalent and are dropped.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace meanwhile::llm {

nlohmann::json to_openai_messages(const std::string& system, const nlohmann::json& messages);
nlohmann::json to_openai_tools(const nlohmann::json& tools);

}  // namespace meanwhile::llm
