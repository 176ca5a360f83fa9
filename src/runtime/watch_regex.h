// A job's watch regex, compiled once at submit. Kept behind this small interface so that one
// file instantiates <regex> (GCC 12 warns falsely in it under -fsanitize=address).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "meanwhile/result.h"

namespace meanwhile {

class WatchRegex {
 public:
  // ECMAScript syntax; an error names the pattern and what is wrong with it.
  static Result<std::shared_ptr<const WatchRegex>> compile(const std::string& pattern);
  // Whether the pattern matches somewhere in `line` (false when the line is too complex).
  bool search(std::string_view line) const;

  struct Impl;

 private:
  explicit WatchRegex(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace meanwhile
