// Fuzz target: .env parsing (meanwhile::agent::parse_dotenv, src/agent/config.h), the text of a
// file any cloned repository can ship. Besides not crashing: every key it returns is a valid
// variable name, and no warning quotes a value (only a line number and at most a key).
#include <cctype>
#include <cstdint>
#include <string>

#include "agent/config.h"
#include "fuzz_util.h"

namespace {

bool valid_name(const std::string& key) {
  if (key.empty() || std::isdigit(static_cast<unsigned char>(key[0]))) return false;
  for (char c : key) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = meanwhile::fuzz::as_text(data, size);
  const meanwhile::agent::DotEnv env = meanwhile::agent::parse_dotenv(text);
  std::size_t lines = 1;
  for (char c : text) lines += c == '\n';
  FUZZ_CHECK(env.values.size() + env.warnings.size() <= lines,
             "more results than lines: " + std::to_string(lines));
  for (const auto& [key, value] : env.values) {
    FUZZ_CHECK(valid_name(key), "an invalid key: " + key);
  }
  for (const std::string& warning : env.warnings) {
    FUZZ_CHECK(warning.starts_with("line "), "a warning without its line: " + warning);
    // "line N: <a sentence naming at most a key>": no byte of the file beyond a key's characters.
    const std::size_t colon = warning.find(": ");
    FUZZ_CHECK(colon != std::string::npos, warning);
    for (char c : warning.substr(colon + 2)) {
      FUZZ_CHECK(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ' ' || c == '=',
                 "a warning quotes the file: " + warning);
    }
  }
  return 0;
}
