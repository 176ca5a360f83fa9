#include "runtime/watch_regex.h"

// GCC 12 with -fsanitize=address reports -Wmaybe-uninitialized inside <regex> itself.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>

namespace meanwhile {

struct WatchRegex::Impl {
  std::regex regex;
};

Result<std::shared_ptr<const WatchRegex>> WatchRegex::compile(const std::string& pattern) {
  try {
    auto impl = std::make_shared<Impl>(Impl{std::regex(pattern, std::regex::ECMAScript)});
    return std::shared_ptr<const WatchRegex>(new WatchRegex(std::move(impl)));
  } catch (const std::regex_error& e) {
    return make_error("invalid watch regex '" + pattern + "': " + e.what());
  }
}

bool WatchRegex::search(std::string_view line) const {
  try {
    return std::regex_search(line.begin(), line.end(), impl_->regex);
  } catch (const std::regex_error&) {
    return false;  // too complex for this line
  }
}

}  // namespace meanwhile

#pragma GCC diagnostic pop
