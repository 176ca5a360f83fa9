// Text cleaning for job output handed to people and models. Pure functions, no state.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace meanwhile::text {

// Cleans raw output bytes: invalid UTF-8 becomes U+FFFD, ANSI escape sequences (CSI, OSC, and
// other ESC sequences) are removed, a line rewritten with '\r' (progress bars) keeps only its
// final state, "\r\n" becomes "\n", other control characters except '\n' and '\t' are removed.
std::string clean(std::string_view raw);
// Only the UTF-8 repair of clean(): every maximal ill-formed subpart becomes one U+FFFD (the
// same rule as clean()); everything else, controls included, is kept. The one repairer of the
// project: tool results, notes and transcripts use it too.
std::string repair_utf8(std::string_view raw);
// Code points in repair_utf8(raw).
std::size_t utf8_length(std::string_view raw);
// True when clean(raw) == raw (printable ASCII, tabs, newlines, valid UTF-8): most lines of
// most logs, which can then be used as they are, without a copy.
bool is_clean(std::string_view raw);

// Number of bytes at the end of `raw` that form an incomplete (possibly valid once more bytes
// arrive) UTF-8 sequence: 0..3. Readers stop before them so a character is never split.
std::size_t incomplete_utf8_suffix(std::string_view raw);

struct Cut {
  std::string text;
  std::size_t lines_omitted = 0;
  std::size_t bytes_omitted = 0;
};

// Returns `text` unchanged when it fits in max_bytes; otherwise keeps whole lines from the
// head and the tail (about half the budget each) and puts one marker line between them:
//   [... 1234 lines (56789 bytes) omitted; full log: PATH ...]
// (", full log: PATH" only when log_path is not empty). The result is valid UTF-8.
Cut cut_middle(std::string_view text, std::size_t max_bytes, std::string_view log_path);

// The last line of `cleaned` that is not blank (whitespace only), without its newline.
std::string last_nonempty_line(std::string_view cleaned);

}  // namespace meanwhile::text
