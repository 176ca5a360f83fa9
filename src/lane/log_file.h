// LogFile: bounded reads of a job's log for read_log: pread of a range, and newline searches
// forward (memchr) and backward (memrchr) in fixed-size blocks. Internal to output_reader.cc.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "lane/unique_fd.h"
#include "meanwhile/result.h"

namespace meanwhile {

class LogFile {
 public:
  static constexpr std::size_t kBlock = 1 << 20;

  LogFile(UniqueFd fd, std::uint64_t size, std::string path)
      : fd_(std::move(fd)), size_(size), path_(std::move(path)) {}
  std::uint64_t size() const { return size_; }

  // Reads [from, to) (clamped to the size seen at open) into `out`.
  Status read(std::uint64_t from, std::uint64_t to, std::string& out) const {
    to = std::min(to, size_);
    out.resize(to > from ? to - from : 0);
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t n =
          ::pread(fd_.get(), out.data() + done, out.size() - done, static_cast<off_t>(from + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return posix_error("cannot read log " + path_, errno);
      if (n == 0) break;  // truncated under us
      done += static_cast<std::size_t>(n);
    }
    out.resize(done);
    return Ok{};
  }

  // Offset just past the count-th '\n' in [from, limit), or nullopt.
  Result<std::optional<std::uint64_t>> find_newlines_forward(std::uint64_t from, std::size_t count,
                                                             std::uint64_t limit) const {
    std::string block;
    std::size_t found = 0;
    limit = std::min(limit, size_);
    for (std::uint64_t pos = from; pos < limit && found < count; pos += kBlock) {
      if (auto s = read(pos, std::min(limit, pos + kBlock), block); !s) return s.error_info();
      const char* p = block.data();
      const char* end = p + block.size();
      while (p < end && (p = static_cast<const char*>(std::memchr(p, '\n', end - p)))) {
        if (++found == count) return std::optional(pos + (p - block.data()) + 1);
        ++p;
      }
    }
    return std::optional<std::uint64_t>();
  }

  // Offset of the count-th '\n' before `to` (searching down to `floor`), or nullopt.
  Result<std::optional<std::uint64_t>> find_newlines_backward(std::uint64_t to, std::size_t count,
                                                              std::uint64_t floor) const {
    std::string block;
    std::size_t found = 0;
    while (to > floor && found < count) {
      const std::uint64_t from = to - std::min<std::uint64_t>(kBlock, to - floor);
      if (auto s = read(from, to, block); !s) return s.error_info();
      std::size_t len = block.size();
      while (len > 0) {
        const void* hit = ::memrchr(block.data(), '\n', len);
        if (!hit) break;
        len = static_cast<const char*>(hit) - block.data();
        if (++found == count) return std::optional(from + len);
      }
      to = from;
    }
    return std::optional<std::uint64_t>();
  }

  Result<std::uint64_t> count_newlines(std::uint64_t from, std::uint64_t to) const {
    std::string block;
    std::uint64_t lines = 0;
    for (std::uint64_t pos = from; pos < to; pos += kBlock) {
      if (auto s = read(pos, std::min(to, pos + kBlock), block); !s) return s.error_info();
      lines += static_cast<std::uint64_t>(std::count(block.begin(), block.end(), '\n'));
    }
    return lines;
  }

 private:
  UniqueFd fd_;
  std::uint64_t size_;
  std::string path_;
};

}  // namespace meanwhile
