// File reading and writing helpers shared by the file tools.
#include "tools/file_io.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "tools/open_beneath.h"
#include "tools/tools_internal.h"

namespace meanwhile {

std::string errno_text(int err) {
  return std::strerror(err);
}

// Why a file's first bytes look binary, or "" if they look like text.
std::string binary_reason(std::string_view head) {
  if (head.find('\0') != std::string_view::npos) return "it contains NUL bytes";
  std::size_t odd = 0;
  std::string fixed = valid_utf8(head);
  // Replacement characters (invalid UTF-8) and control characters other than common whitespace
  // and ESC (colour codes in logs) make binary data.
  for (std::size_t pos = 0; (pos = fixed.find("\xEF\xBF\xBD", pos)) != std::string::npos; pos += 3)
    ++odd;
  for (unsigned char c : head)
    if (c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f' && c != '\v' && c != 0x1B)
      ++odd;
  if (head.size() >= 32 && odd * 10 > head.size()) return "much of it is not text";
  return "";
}

std::string binary_refusal(const std::string& path, std::uint64_t size, const std::string& reason,
                           const char* tool) {
  return fmt::format(
      "{} looks like a binary file ({}, {}); {} works on text only. Inspect it with bash, e.g. "
      "`file {}` or `xxd {} | head`.",
      path, format_bytes(size), reason, tool, path, path);
}

namespace {

// A handle on the workspace, which open_beneath() resolves below.
Result<UniqueFd> open_root(const WorkspacePath& wp) {
  UniqueFd root(::open(wp.root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return make_error("workspace " + wp.root + ": " + errno_text(errno));
  return root;
}

}  // namespace

// Opens an existing regular file for reading, with errors that name `shown`.
Result<UniqueFd> open_for_reading(const WorkspacePath& wp, const std::string& shown,
                                  struct stat& st) {
  if (!wp.exists) return make_error(shown + ": no such file");
  auto root = open_root(wp);
  if (!root) return make_error(root.error());
  UniqueFd fd = open_beneath(root->get(), wp.relative, O_RDONLY | O_NOCTTY | O_NONBLOCK);
  if (!fd && errno == ENOENT) return make_error(shown + ": no such file");
  if (!fd) return make_error(shown + ": cannot open: " + beneath_error_text(errno));
  if (::fstat(fd.get(), &st) != 0) return make_error(shown + ": " + errno_text(errno));
  if (S_ISDIR(st.st_mode))
    return make_error(shown + " is a directory, not a file; list it with bash, e.g. `ls " + shown +
                      "`");
  if (!S_ISREG(st.st_mode))
    return make_error(
        shown + " is not a regular file (a device, pipe or socket); it cannot be read as text");
  return fd;
}

Status check_writable(const WorkspacePath& wp, const std::string& shown, const ToolContext& ctx) {
  const std::string& configured = ctx.lane.options().data_dir;
  if (configured.empty()) return Ok{};
  std::unique_ptr<char, decltype(&free)> real(::realpath(configured.c_str(), nullptr), &free);
  const std::string data_dir = real ? std::string(real.get()) : configured;
  const std::string& path = wp.absolute;
  if (path == data_dir ||
      (path.size() > data_dir.size() && path.compare(0, data_dir.size(), data_dir) == 0 &&
       path[data_dir.size()] == '/'))
    return make_error("path " + shown + " is inside meanwhile's data directory " + data_dir +
                      " (the job store and logs); file tools do not write there");
  return Ok{};
}

Result<std::string> read_all(int fd, const std::string& shown, std::size_t limit) {
  std::string data;
  char buffer[65536];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(shown + ": read failed: " + errno_text(errno));
    if (n == 0) break;
    data.append(buffer, static_cast<std::size_t>(n));
    if (data.size() > limit)
      return make_error(fmt::format("{} is larger than {}; edit it with bash tools instead", shown,
                                    format_bytes(limit)));
  }
  return data;
}

Result<WriteOutcome> write_beneath(const WorkspacePath& wp, const std::string& shown,
                                   std::string_view data, bool create_parents) {
  auto root = open_root(wp);
  if (!root) return make_error(root.error());
  if (wp.relative.empty()) return make_error(shown + " is a directory; give a file path");
  std::string name;
  UniqueFd parent = open_parent_beneath(root->get(), wp.relative, create_parents, name);
  if (!parent)
    return make_error(shown + ": cannot open its directory: " + beneath_error_text(errno));
  WriteOutcome outcome;
  struct stat st {};
  if (::fstatat(parent.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISDIR(st.st_mode)) return make_error(shown + " is a directory; give a file path");
    outcome.existed = true;
    outcome.old_size = static_cast<std::uint64_t>(st.st_size);
  }
  // O_NONBLOCK: a FIFO without a reader fails (ENXIO) instead of hanging the tool.
  UniqueFd fd =
      open_beneath(parent.get(), name, O_WRONLY | O_CREAT | O_TRUNC | O_NOCTTY | O_NONBLOCK, 0666);
  if (!fd) return make_error(shown + ": cannot open for writing: " + beneath_error_text(errno));
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
    return make_error(shown + " is not a regular file (a device, pipe or socket); not written");
  while (!data.empty()) {
    ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(shown + ": write failed: " + errno_text(errno));
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::close(fd.release()) != 0) return make_error(shown + ": write failed: " + errno_text(errno));
  return outcome;
}

// "   12\tline" as cat -n prints it, the line cut when longer than kMaxLineBytes.
// `full_size`: the line's real length when only its start was kept.
void append_numbered(std::string& out, std::size_t number, std::string_view line,
                     std::size_t full_size) {
  full_size = std::max(full_size, line.size());
  if (!line.empty() && line.back() == '\r' && full_size == line.size()) {
    line.remove_suffix(1);
    --full_size;
  }
  out += fmt::format("{:6}\t", number);
  if (full_size > kMaxLineBytes) {
    out += shorten(valid_utf8(line.substr(0, kMaxLineBytes + 3)), kMaxLineBytes);
    out += fmt::format(" [line cut: {} more bytes]", full_size - kMaxLineBytes);
  } else {
    out += valid_utf8(line);
  }
  out += '\n';
}

}  // namespace meanwhile
