// Small lookups on untrusted JSON that never throw.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace meanwhile::llm {

// object[key] when object is an object and the value a string; "" otherwise.
inline std::string string_at(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace meanwhile::llm
