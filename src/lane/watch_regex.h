// A job's watch pattern and background_output's filter: RE2, compiled once. RE2 matches in time
// linear in the line and in bounded memory, so a pattern chosen by a model or a user can never
// recurse per character (std::regex overflowed the lane thread's stack on one 40 KB line) nor
// backtrack without end (`(a+)+b`). RE2 syntax: no backreferences, no lookaround.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "meanwhile/result.h"

namespace meanwhile {

class WatchRegex {
 public:
  // Bytes of one line that are matched; a longer line is matched on its first part.
  static constexpr std::size_t kMaxMatchBytes = 64 * 1024;

  // `what` names the pattern in errors ("watch", "filter"): "invalid watch regex '(x': missing
  // ): (x". A pattern RE2 cannot compile, or whose program is too large, is refused here.
  static Result<std::shared_ptr<const WatchRegex>> compile(const std::string& pattern,
                                                           std::string_view what = "watch");
  // Whether the pattern matches somewhere in (the first kMaxMatchBytes of) `line`.
  bool search(std::string_view line) const;

  struct Impl;

 private:
  explicit WatchRegex(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace meanwhile
