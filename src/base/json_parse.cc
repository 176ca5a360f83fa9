#include "base/json_parse.h"

#include <fmt/format.h>

namespace meanwhile {

int json_nesting_depth(std::string_view text, int stop_after) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > deepest) {
          deepest = depth;
          if (deepest > stop_after) return deepest;
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return deepest;
}

JsonParse parse_json(std::string_view text, int max_depth) {
  JsonParse out;
  if (json_nesting_depth(text, max_depth) > max_depth) {
    out.value = nlohmann::json(nlohmann::json::value_t::discarded);
    out.error = fmt::format("JSON nested deeper than {} levels", max_depth);
    out.too_deep = true;
    return out;
  }
  try {
    out.value = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    out.value = nlohmann::json(nlohmann::json::value_t::discarded);
    out.error = e.what();
    if (out.error.empty()) out.error = "invalid JSON";
  }
  return out;
}

}  // namespace meanwhile
