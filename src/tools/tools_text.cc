// Small text helpers for tool results: UTF-8 repair and cutting, durations, sizes, times.
#include <string.h>

#include <algorithm>
#include <cmath>
#include <ctime>

#include <fmt/format.h>

#include "lane/text.h"
#include "tools/tools_internal.h"

namespace meanwhile {

// The lane's repairer (lane/text.h): one rule for invalid UTF-8 everywhere.
std::string valid_utf8(std::string_view raw) {
  return text::repair_utf8(raw);
}

std::size_t utf8_length(std::string_view text) {
  return text::utf8_length(text);
}

std::string shorten(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  std::size_t end = max_bytes;
  // Back up over continuation bytes so no character is split.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end)) + "…";
}

std::string one_line(std::string_view text, std::size_t max_bytes) {
  std::string flat;
  flat.reserve(std::min(text.size(), max_bytes + 8));
  for (char c : text) {
    if (flat.size() > max_bytes + 4) break;
    flat += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  }
  return shorten(flat, max_bytes);
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  if (seconds < 60) return fmt::format("{:.1f}s", seconds);
  auto whole = static_cast<long long>(seconds);
  if (whole < 3600) return fmt::format("{}m{:02}s", whole / 60, whole % 60);
  return fmt::format("{}h{:02}m", whole / 3600, (whole % 3600) / 60);
}

std::chrono::milliseconds saturating_ms(double seconds, double max_seconds) {
  if (!(seconds > 0)) return std::chrono::milliseconds(0);  // also NaN
  seconds = std::min(seconds, max_seconds);
  return std::chrono::milliseconds(static_cast<long long>(std::llround(seconds * 1000)));
}

std::string format_bytes(std::uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double value = static_cast<double>(bytes) / 1024;
  for (const char* unit : {"KiB", "MiB", "GiB"}) {
    if (value < 1024 || std::string_view(unit) == "GiB")
      return fmt::format("{:.1f} {}", value, unit);
    value /= 1024;
  }
  return fmt::format("{} B", bytes);
}

std::string signal_name(int signal) {
  const char* abbrev = sigabbrev_np(signal);
  if (abbrev == nullptr) return fmt::format("signal {}", signal);
  return std::string("SIG") + abbrev;
}

std::string iso8601(WallClock::time_point time) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  long millis = static_cast<long>(ms % 1000);
  if (millis < 0) {
    millis += 1000;
    secs -= 1;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

}  // namespace meanwhile
