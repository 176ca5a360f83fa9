// Reading request params with errors that name the field (for -32602 responses).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "meanwhile/result.h"

namespace meanwhile::mcp {

// params[field] as a string; the error reads "Invalid params: FIELD: required" or
// "Invalid params: FIELD: expected a string, got 42".
inline Result<std::string> required_string(const nlohmann::json& params, const char* field) {
  auto it = params.find(field);
  if (it == params.end() || it->is_null()) {
    return make_error(std::string("Invalid params: ") + field + ": required");
  }
  if (!it->is_string()) {
    std::string shown = it->dump();
    if (shown.size() > 80) shown = shown.substr(0, 77) + "...";
    return make_error(std::string("Invalid params: ") + field + ": expected a string, got " +
                      shown);
  }
  return it->get<std::string>();
}

}  // namespace meanwhile::mcp
