// Diagnostics of the MCP server: one line each on stderr (stdout carries only the protocol).
#pragma once

#include <string_view>

#include <fmt/format.h>

namespace meanwhile::mcp {

// Writes "meanwhile mcp: TEXT\n" to stderr in one write; thread-safe.
void log_line(std::string_view text);

template <typename... Args>
void log(fmt::format_string<Args...> format, Args&&... args) {
  log_line(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace meanwhile::mcp
