#include "lane/watch_regex.h"

#include <re2/re2.h>

namespace meanwhile {

namespace {
// RE2's default is 8 MiB per pattern; a few MiB keeps a thousand watched jobs small while any
// pattern a person writes fits.
constexpr int64_t kMaxPatternMemory = 4 << 20;
}  // namespace

struct WatchRegex::Impl {
  explicit Impl(const std::string& pattern, const RE2::Options& options) : re(pattern, options) {}
  RE2 re;
};

Result<std::shared_ptr<const WatchRegex>> WatchRegex::compile(const std::string& pattern,
                                                              std::string_view what) {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(kMaxPatternMemory);
  auto impl = std::make_shared<const Impl>(pattern, options);
  if (!impl->re.ok()) {
    return make_error(
        ErrorCode::invalid_argument,
        "invalid " + std::string(what) + " regex '" + pattern + "': " + impl->re.error(),
        std::string(what));
  }
  return std::shared_ptr<const WatchRegex>(new WatchRegex(std::move(impl)));
}

bool WatchRegex::search(std::string_view line) const {
  line = line.substr(0, kMaxMatchBytes);
  return RE2::PartialMatch(re2::StringPiece(line.data(), line.size()), impl_->re);
}

}  // namespace meanwhile
