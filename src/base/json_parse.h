// Parsing JSON that comes from outside (a client, a model, a file in a cloned repository, the
// store) with a bound on nesting. nlohmann::json builds and frees trees iteratively, but copying,
// dumping, comparing and validating a tree recurse once per level: a 200 KB line of 100,000
// nested arrays overflows the stack in any of them. Every parse of untrusted text goes through
// here, so no tree deeper than the bound ever exists.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace meanwhile {

// Deepest nesting accepted: every protocol and file format meanwhile reads needs fewer than 20.
inline constexpr int kMaxJsonDepth = 64;

// The deepest nesting of arrays and objects in `text`, counted without parsing (strings and their
// escapes are skipped), stopping early once it passes `stop_after`. Meaningful for valid JSON;
// for invalid text the parse that follows reports the error.
int json_nesting_depth(std::string_view text, int stop_after = kMaxJsonDepth);

struct JsonParse {
  nlohmann::json value;  // discarded (is_discarded()) when the text was refused
  std::string error;     // empty on success; otherwise a sentence for a person or a model
  bool ok() const { return error.empty(); }
  bool too_deep = false;  // refused for its nesting, not its syntax
};

// Parses `text` as one JSON value. Never throws. Refuses text nested deeper than `max_depth`
// ("JSON nested deeper than 64 levels") before building any tree, and invalid JSON with
// nlohmann's position-bearing message.
JsonParse parse_json(std::string_view text, int max_depth = kMaxJsonDepth);

}  // namespace meanwhile
