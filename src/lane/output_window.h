// OutputWindow: collects cleaned text in order and keeps only what a cut to max_bytes will show
// (a bounded head and a bounded tail), counting what it leaves out. Used by read_log so that
// memory stays bounded whatever the size of the log or of a filter's result.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lane/text.h"

namespace meanwhile {

class OutputWindow {
 public:
  OutputWindow(std::size_t max_bytes, std::string log_path);

  std::size_t max_bytes() const { return max_bytes_; }
  // Appends cleaned text (whole lines, except possibly at the very end).
  void add(std::string_view cleaned);
  // Records an unread stretch of the log between what was added before and what comes after;
  // `lines` is nullopt when it was too long to count.
  void omit(std::optional<std::uint64_t> lines, std::uint64_t bytes);
  // Records that a filter did not scan `bytes` of the log (at its start or its end).
  void note_skipped(std::uint64_t bytes, bool at_start);
  // The text to hand out: everything added when it fits, else head + marker + tail.
  text::Cut finish();

 private:
  void switch_to_window();
  void trim_tail(std::size_t keep);
  std::size_t half() const;

  std::size_t max_bytes_;
  std::string log_path_;
  bool windowed_ = false;  // false: all_ holds everything added so far
  std::string all_;        // before the switch
  std::string head_;       // after the switch: the first lines, at most half()
  std::string tail_;       // after the switch: the latest lines
  std::uint64_t omitted_lines_ = 0;
  std::uint64_t omitted_bytes_ = 0;
  bool lines_uncounted_ = false;
  std::string skipped_note_;  // prepended or appended: the filter's unscanned part
  bool skipped_at_start_ = true;
};

}  // namespace meanwhile
