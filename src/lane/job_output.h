// What the lane keeps of a job's output: the log file on disk (created with the first byte and
// written as each chunk is read, up to the job's cap; past it bytes are counted and dropped;
// a job that prints nothing has no file), counters, the first bytes and a
// bounded tail in memory (for last_line and the finished note's preview), and a line splitter
// for watch regexes. The memory per job is bounded by tail_bytes + 1 KiB + 64 KiB (a line being
// matched), whatever the job prints.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "lane/unique_fd.h"
#include "meanwhile/result.h"

namespace meanwhile {

// Number of '\n' in `data` (vectorized).
std::uint64_t count_newlines(std::string_view data);

// The last `capacity` bytes appended; memory grows with the output, up to `capacity`.
class TailBuffer {
 public:
  explicit TailBuffer(std::size_t capacity) : capacity_(capacity) {}
  void append(std::string_view data);
  std::size_t size() const { return ring_.size(); }
  std::string last(std::size_t n) const;  // the last n bytes (fewer if not there)
  void release();                         // frees the memory; size() becomes 0

 private:
  std::size_t capacity_;
  std::string ring_;
  std::size_t start_ = 0;  // oldest byte once the ring is full
};

class JobOutput {
 public:
  static constexpr std::size_t kHeadBytes = 1024;
  static constexpr std::size_t kPreviewBytes = 2000;

  JobOutput(std::uint64_t log_cap, std::size_t tail_bytes) : log_cap_(log_cap), tail_(tail_bytes) {}

  // Where the log goes; it is created (or truncated) by the first write_log().
  void set_log_path(std::string path) { log_path_ = std::move(path); }
  void close_log() { log_.reset(); }

  // Lane thread, no lock: appends what fits under the cap to the log; returns the bytes written.
  std::size_t write_log(std::string_view chunk);
  // Once, after the log could not be created or written: why (later bytes count as dropped).
  std::string take_log_error() {
    if (!log_error_.empty()) failure_ = log_error_;
    return std::exchange(log_error_, std::string());
  }
  // Under the lane's snapshot lock: counters, head and tail.
  void record(std::string_view chunk, std::size_t written);
  // A job followed again after a restart: its output so far (on disk, not in head or tail).
  void resume_counts(std::uint64_t bytes, std::uint64_t lines) {
    bytes_seen_ = bytes_logged_ = log_written_ = bytes;
    lines_ = lines;
  }

  std::uint64_t bytes_seen() const { return bytes_seen_; }
  std::uint64_t bytes_logged() const { return bytes_logged_; }
  std::uint64_t bytes_dropped() const { return bytes_seen_ - bytes_logged_; }
  std::uint64_t lines() const { return lines_; }

  // The last non-blank line, cleaned (text::clean).
  std::string last_line() const;
  // Head and tail of the output, cleaned, at most about kPreviewBytes.
  std::string preview(std::string_view log_path) const;
  // Keeps the counters, frees head and tail (the job is done; its log stays on disk).
  void release_memory();

 private:
  std::uint64_t log_cap_;
  std::string log_path_;
  UniqueFd log_;
  std::string log_error_;
  std::string failure_;            // after take_log_error(): why bytes were dropped (not the cap)
  std::uint64_t log_written_ = 0;  // lane thread: what write_log() put in the file
  bool log_failed_ = false;        // a write error (disk full): later bytes count as dropped
  std::uint64_t bytes_seen_ = 0;
  std::uint64_t bytes_logged_ = 0;
  std::uint64_t lines_ = 0;
  std::string head_;
  TailBuffer tail_;
};

// Splits output into lines for watch matching; a line longer than kMaxLine is cut there.
class LineSplitter {
 public:
  static constexpr std::size_t kMaxLine = 64 * 1024;

  template <typename OnLine>
  void feed(std::string_view chunk, OnLine&& on_line) {
    while (!chunk.empty()) {
      auto nl = chunk.find('\n');
      std::string_view piece = chunk.substr(0, nl);
      if (partial_.size() < kMaxLine) {
        partial_.append(piece.substr(0, kMaxLine - partial_.size()));
      }
      if (nl == std::string_view::npos) return;
      on_line(std::string_view(partial_));
      partial_.clear();
      chunk.remove_prefix(nl + 1);
    }
  }
  // End of output: the last line without a newline.
  template <typename OnLine>
  void finish(OnLine&& on_line) {
    if (!partial_.empty()) on_line(std::string_view(partial_));
    partial_.clear();
    partial_.shrink_to_fit();
  }

 private:
  std::string partial_;
};

}  // namespace meanwhile
