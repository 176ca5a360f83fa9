// Diagnostics of the MCP server: one line each on stderr (stdout carries only the protocol).
#pragma once

#include <chrono>
#include <string_view>

#include <fmt/format.h>

namespace meanwhile::mcp {

// Writes "meanwhile mcp: TEXT\n" to stderr in one write; thread-safe.
void log_line(std::string_view text);

template <typename... Args>
void log(fmt::format_string<Args...> format, Args&&... args) {
  log_line(fmt::format(format, std::forward<Args>(args)...));
}

// For a condition that can come and go many times a second (a client that reads in bursts): due()
// is true the first time and then at most once per `period`, so stderr (which a client may not
// read either) gets a bounded number of lines. Not thread-safe: one owner, or under its lock.
class LogEvery {
 public:
  explicit LogEvery(std::chrono::steady_clock::duration period) : period_(period) {}
  bool due() {
    const auto now = std::chrono::steady_clock::now();
    if (logged_ && now - last_ < period_) return false;
    logged_ = true;
    last_ = now;
    return true;
  }

 private:
  std::chrono::steady_clock::duration period_;
  std::chrono::steady_clock::time_point last_{};
  bool logged_ = false;
};

}  // namespace meanwhile::mcp
