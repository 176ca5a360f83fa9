// Small lookups on untrusted JSON that never throw.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "base/json_parse.h"

namespace meanwhile::llm {

// object[key] when object is an object and the value a string; "" otherwise.
inline std::string string_at(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A tool_use input the model nested deeper than the bound: the call becomes
// {"_invalid_arguments": this}, which the tool registry answers with an is_error result (the
// run goes on; no tree that deep is ever built, copied or dumped).
inline std::string too_deep_arguments() {
  return "arguments nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
}

}  // namespace meanwhile::llm
