#include "lane/output_window.h"

#include <algorithm>

namespace meanwhile {
namespace {

bool is_continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

std::size_t floor_boundary(std::string_view s, std::size_t pos) {
  while (pos > 0 && pos < s.size() && is_continuation(s[pos])) --pos;
  return pos;
}

std::size_t ceil_boundary(std::string_view s, std::size_t pos) {
  while (pos < s.size() && is_continuation(s[pos])) ++pos;
  return pos;
}

std::uint64_t count_newlines(std::string_view s) {
  return static_cast<std::uint64_t>(std::count(s.begin(), s.end(), '\n'));
}

// The same marker as text::cut_middle's, plus a form for a middle too long to count lines in.
std::string make_marker(std::uint64_t lines, std::uint64_t bytes, bool lines_counted,
                        const std::string& log_path) {
  std::string marker = "[... ";
  if (lines_counted) {
    marker += std::to_string(lines) + (lines == 1 ? " line (" : " lines (") +
              std::to_string(bytes) + (bytes == 1 ? " byte) omitted" : " bytes) omitted");
  } else {
    marker += std::to_string(bytes) + " bytes omitted (too many to count lines)";
  }
  if (!log_path.empty()) marker += "; full log: " + log_path;
  marker += " ...]\n";
  return marker;
}

constexpr std::size_t kSlack = 1 << 20;  // text kept beyond the window before trimming

}  // namespace

OutputWindow::OutputWindow(std::size_t max_bytes, std::string log_path)
    : max_bytes_(max_bytes), log_path_(std::move(log_path)) {}

// Room for head and tail each, after the marker (up to 20 digits per count) and a newline.
std::size_t OutputWindow::half() const {
  const std::size_t reserve = 128 + log_path_.size();
  return (max_bytes_ > reserve ? max_bytes_ - reserve : 0) / 2;
}

void OutputWindow::add(std::string_view cleaned) {
  if (!windowed_) {
    all_.append(cleaned);
    if (all_.size() > 2 * max_bytes_ + kSlack) switch_to_window();
    return;
  }
  tail_.append(cleaned);
  if (tail_.size() > 2 * half() + kSlack) trim_tail(half());
}

void OutputWindow::omit(std::optional<std::uint64_t> lines, std::uint64_t bytes) {
  if (!windowed_) switch_to_window();
  trim_tail(0);  // what came before the gap cannot be part of the tail
  omitted_lines_ += lines.value_or(0);
  omitted_bytes_ += bytes;
  if (!lines) lines_uncounted_ = true;
}

void OutputWindow::note_skipped(std::uint64_t bytes, bool at_start) {
  if (bytes == 0) return;
  skipped_at_start_ = at_start;
  skipped_note_ = "[... the filter did not search the " +
                  std::string(at_start ? "first " : "last ") + std::to_string(bytes) +
                  " bytes of the log" + (log_path_.empty() ? "" : "; full log: " + log_path_) +
                  " ...]\n";
}

void OutputWindow::switch_to_window() {
  windowed_ = true;
  head_ = std::move(all_);
  all_.clear();
  const std::size_t h = half();
  if (head_.size() > h) {
    const std::size_t nl = h > 0 ? head_.rfind('\n', h - 1) : std::string::npos;
    const std::size_t cut = nl == std::string::npos ? floor_boundary(head_, h) : nl + 1;
    tail_.insert(0, head_, cut);  // contiguous with what follows: may still be shown
    head_.resize(cut);
  }
  if (tail_.size() > 2 * h + kSlack) trim_tail(h);
}

// Keeps at most `keep` bytes at the end of tail_, starting at a line start when one fits.
void OutputWindow::trim_tail(std::size_t keep) {
  if (tail_.size() <= keep) return;
  std::size_t start = tail_.size();
  if (keep > 0) {
    const std::size_t from = tail_.size() - keep;  // >= 1
    const std::size_t nl = tail_.find('\n', from - 1);
    start =
        (nl != std::string::npos && nl + 1 < tail_.size()) ? nl + 1 : ceil_boundary(tail_, from);
  }
  omitted_bytes_ += start;
  omitted_lines_ += count_newlines(std::string_view(tail_).substr(0, start));
  tail_.erase(0, start);
}

text::Cut OutputWindow::finish() {
  text::Cut cut;
  if (!windowed_) {
    cut = text::cut_middle(all_, max_bytes_, log_path_);
  } else {
    trim_tail(half());
    cut.text = std::move(head_);
    if (omitted_bytes_ > 0) {
      if (!cut.text.empty() && cut.text.back() != '\n') cut.text.push_back('\n');
      cut.text += make_marker(omitted_lines_, omitted_bytes_, !lines_uncounted_, log_path_);
    }
    cut.text += tail_;
    cut.lines_omitted = lines_uncounted_ ? 0 : static_cast<std::size_t>(omitted_lines_);
    cut.bytes_omitted = static_cast<std::size_t>(omitted_bytes_);
  }
  if (!skipped_note_.empty()) {
    if (skipped_at_start_) {
      cut.text.insert(0, skipped_note_);
    } else {
      if (!cut.text.empty() && cut.text.back() != '\n') cut.text.push_back('\n');
      cut.text += skipped_note_;
    }
  }
  return cut;
}

}  // namespace meanwhile
