// File reading and writing helpers shared by the file tools.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "lane/unique_fd.h"
#include "meanwhile/result.h"
#include "meanwhile/tools.h"
#include "tools/workspace_path.h"

namespace meanwhile {

constexpr std::size_t kMaxLineBytes = 2000;  // longer lines are cut when shown
constexpr std::size_t kSniffBytes = 8192;    // looked at to tell text from binary

std::string errno_text(int err);
// Why a file's first bytes look binary, or "" if they look like text.
std::string binary_reason(std::string_view head);
// The error for a binary file, with a hint on how to look at it instead.
std::string binary_refusal(const std::string& path, std::uint64_t size, const std::string& reason,
                           const char* tool);
// Opens an existing regular file for reading beneath the workspace without following any
// symlink (open_beneath.h), with errors that name `shown`.
Result<UniqueFd> open_for_reading(const WorkspacePath& wp, const std::string& shown,
                                  struct stat& st);
// The rest of the file, refused when larger than `limit`.
Result<std::string> read_all(int fd, const std::string& shown, std::size_t limit);
// Refuses writes into the lane's data directory (the job store and logs live there); reading
// the logs stays allowed.
Status check_writable(const WorkspacePath& wp, const std::string& shown, const ToolContext& ctx);
struct WriteOutcome {
  bool existed = false;        // the file was there before (and was replaced)
  std::uint64_t old_size = 0;  // its size then
};
// Creates or truncates the file and writes `data`, opening it beneath the workspace without
// following any symlink (open_beneath.h); with `create_parents`, missing directories are made.
Result<WriteOutcome> write_beneath(const WorkspacePath& wp, const std::string& shown,
                                   std::string_view data, bool create_parents);
// "   12\tline\n" as cat -n prints it, the line cut when longer than kMaxLineBytes.
// `full_size`: the line's real length when only its start was kept.
void append_numbered(std::string& out, std::size_t number, std::string_view line,
                     std::size_t full_size = 0);

}  // namespace meanwhile
