// Text cleaning for job output. clean() runs on every read, so it is one pass over the bytes
// with a table-driven fast path for runs of printable ASCII; no regex, no per-byte allocation.
//
// Choices worth knowing:
// - '\r' behaves like a terminal: the text after it overwrites the line from column 0, so
//   "abcdef\rXY\n" becomes "XYcdef\n" and "10%\r20%\r100%\n" becomes "100%\n". Columns are
//   counted in code points (a wide character counts as one).
// - An OSC/DCS string that is never terminated ends at the next '\n' (a terminal would swallow
//   the rest of the output; a log reader should not).
// - UTF-8 C1 controls (U+0080..U+009F) are removed; U+009B and U+009D start a CSI and an OSC.
// - Invalid UTF-8 becomes U+FFFD, one per maximal ill-formed subpart (Unicode's recommended
//   practice): overlongs, surrogates and code points above U+10FFFF are invalid.
#include "lane/text.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace meanwhile::text {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Bytes copied through unchanged by the fast path: printable ASCII and '\t'.
constexpr std::array<bool, 256> make_plain_table() {
  std::array<bool, 256> table{};
  for (int c = 0x20; c < 0x7F; ++c) table[c] = true;
  table['\t'] = true;
  return table;
}
constexpr std::array<bool, 256> kPlain = make_plain_table();

bool is_continuation(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

// Valid range of the second byte of a sequence led by `lead` (Unicode table 3-7).
void second_byte_range(unsigned char lead, unsigned char& lo, unsigned char& hi) {
  lo = 0x80;
  hi = 0xBF;
  if (lead == 0xE0)
    lo = 0xA0;  // overlong 3-byte
  else if (lead == 0xED)
    hi = 0x9F;  // surrogates
  else if (lead == 0xF0)
    lo = 0x90;  // overlong 4-byte
  else if (lead == 0xF4)
    hi = 0x8F;  // above U+10FFFF
}

// Total length of a sequence led by `lead`, or 0 when `lead` can never start one.
int sequence_length(unsigned char lead) {
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

using Byte = unsigned char;

// After ESC '[' (or U+009B): parameter and intermediate bytes, then a final byte. A byte that
// cannot belong to the sequence aborts it and is processed as ordinary input.
const Byte* skip_csi(const Byte* p, const Byte* end) {
  for (; p < end; ++p) {
    if (*p >= 0x40 && *p <= 0x7E) return p + 1;
    if (*p < 0x20 || *p > 0x3F) return p;
  }
  return end;
}

// After ESC ']' (or P, X, ^, _, or U+009D): a string ended by BEL or ESC '\'. It also ends
// before '\n' or before an ESC that starts something else, so a stray opener cannot swallow
// the rest of the log.
const Byte* skip_string(const Byte* p, const Byte* end) {
  for (; p < end; ++p) {
    if (*p == 0x07) return p + 1;
    if (*p == '\n') return p;
    if (*p == 0x1B) return (p + 1 < end && p[1] == '\\') ? p + 2 : p;
  }
  return end;
}

// `p` points just past an ESC.
const Byte* skip_escape(const Byte* p, const Byte* end) {
  if (p == end) return end;
  const Byte c = *p;
  if (c == '[') return skip_csi(p + 1, end);
  if (c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_') return skip_string(p + 1, end);
  if (c >= 0x20 && c <= 0x2F) {  // intermediates, then a final byte: ESC ( B, ESC # 8, ...
    while (p < end && *p >= 0x20 && *p <= 0x2F) ++p;
    return (p < end && *p >= 0x30 && *p <= 0x7E) ? p + 1 : p;
  }
  if (c >= 0x30 && c <= 0x7E) return p + 1;  // two-byte sequence: ESC 7, ESC =, ESC M, ...
  return p;                                  // lone ESC: drop it only
}

// Length of the valid, non-C1 UTF-8 sequence at `p` (a byte >= 0x80), or 0: such sequences
// pass through unchanged; everything else goes to Cleaner::multibyte.
int passing_sequence(const Byte* p, const Byte* end) {
  const int len = sequence_length(*p);
  if (len == 0 || end - p < len) return 0;
  Byte lo, hi;
  second_byte_range(*p, lo, hi);
  if (p[1] < lo || p[1] > hi) return 0;
  for (int i = 2; i < len; ++i) {
    if (!is_continuation(p[i])) return 0;
  }
  if (*p == 0xC2 && p[1] <= 0x9F) return 0;  // C1 control
  return len;
}

constexpr std::array<bool, 256> make_plain_or_newline_table() {
  std::array<bool, 256> table = make_plain_table();
  table['\n'] = true;
  return table;
}
constexpr std::array<bool, 256> kPlainOrNewline = make_plain_or_newline_table();

class Cleaner {
 public:
  explicit Cleaner(std::size_t size_hint) { out_.reserve(size_hint); }

  std::string run(std::string_view raw) {
    const Byte* p = reinterpret_cast<const Byte*>(raw.data());
    const Byte* const end = p + raw.size();
    while (p < end) {
      // Bytes that pass unchanged are copied in runs; '\n' is one of them unless a '\r' is
      // pending on the current line.
      const Byte* run_start = p;
      p = skip_passing(p, end, overwrite_ ? kPlain : kPlainOrNewline);
      if (p > run_start) sink().append(reinterpret_cast<const char*>(run_start), p - run_start);
      if (p == end) break;
      const Byte c = *p;
      if (c == '\n') {
        newline();
        ++p;
      } else if (c == '\r') {
        carriage_return();
        ++p;
      } else if (c == 0x1B) {
        p = skip_escape(p + 1, end);
      } else if (c < 0x80) {
        ++p;  // other C0 controls and DEL
      } else {
        p = multibyte(p, end);
      }
    }
    if (overwrite_) merge();
    return std::move(out_);
  }

  // The first byte at or after `p` that does not pass unchanged (a '\n' passes).
  static const Byte* first_change(const Byte* p, const Byte* end) {
    return skip_passing(p, end, kPlainOrNewline);
  }

 private:
  static const Byte* skip_passing(const Byte* p, const Byte* end,
                                  const std::array<bool, 256>& table) {
    for (;;) {
      while (p < end && table[*p]) ++p;
      if (p == end || *p < 0x80) return p;
      const int len = passing_sequence(p, end);
      if (len == 0) return p;
      p += len;
    }
  }

  std::string& sink() { return overwrite_ ? segment_ : out_; }

  // Only reached while a '\r' is pending (otherwise '\n' is copied with its run).
  void newline() {
    if (overwrite_) merge();
    overwrite_ = false;
    out_.push_back('\n');
  }

  void carriage_return() {
    if (overwrite_) {
      merge();
    } else {  // the line starts after the last '\n' written
      const std::size_t nl = out_.rfind('\n');
      line_start_ = nl == std::string::npos ? 0 : nl + 1;
      overwrite_ = true;
    }
  }

  // Writes segment_ over the start of the current line, character for character.
  void merge() {
    if (segment_.empty()) return;
    std::size_t chars = 0;
    for (unsigned char c : segment_) chars += !is_continuation(c);
    std::size_t covered = line_start_;  // end of the `chars` characters being replaced
    while (covered < out_.size() && chars > 0) {
      ++covered;
      while (covered < out_.size() && is_continuation(static_cast<Byte>(out_[covered]))) ++covered;
      --chars;
    }
    const std::size_t old_len = covered - line_start_;
    if (old_len == segment_.size()) {
      std::memcpy(out_.data() + line_start_, segment_.data(), old_len);
    } else {
      out_.replace(line_start_, old_len, segment_);
    }
    segment_.clear();
  }

  // Decodes one UTF-8 sequence at `p` (a byte >= 0x80); returns where the next one starts.
  const Byte* multibyte(const Byte* p, const Byte* end) {
    const int len = sequence_length(*p);
    if (len == 0) return replace(p + 1);
    Byte lo, hi;
    second_byte_range(*p, lo, hi);
    if (p + 1 >= end || p[1] < lo || p[1] > hi) return replace(p + 1);
    for (int i = 2; i < len; ++i) {
      if (p + i >= end || !is_continuation(p[i])) return replace(p + i);
    }
    if (len == 2 && *p == 0xC2 && p[1] <= 0x9F) {  // C1 control
      if (p[1] == 0x9B) return skip_csi(p + 2, end);
      if (p[1] == 0x9D) return skip_string(p + 2, end);
      return p + 2;
    }
    sink().append(reinterpret_cast<const char*>(p), len);
    return p + len;
  }

  const Byte* replace(const Byte* next) {
    sink().append(kReplacement);
    return next;
  }

  std::string out_;
  std::size_t line_start_ = 0;  // where the current line begins in out_
  bool overwrite_ = false;      // a '\r' was seen on this line: segment_ overwrites it
  std::string segment_;         // text since the last '\r'
};

std::size_t count_newlines(std::string_view s) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

std::string make_marker(std::size_t lines, std::size_t bytes, std::string_view log_path) {
  std::string marker = "[... " + std::to_string(lines) + (lines == 1 ? " line (" : " lines (") +
                       std::to_string(bytes) + (bytes == 1 ? " byte) omitted" : " bytes) omitted");
  if (!log_path.empty()) {
    marker += "; full log: ";
    marker += log_path;
  }
  marker += " ...]\n";
  return marker;
}

// Largest character boundary <= pos.
std::size_t floor_boundary(std::string_view s, std::size_t pos) {
  while (pos > 0 && pos < s.size() && is_continuation(static_cast<Byte>(s[pos]))) --pos;
  return pos;
}

// Smallest character boundary >= pos.
std::size_t ceil_boundary(std::string_view s, std::size_t pos) {
  while (pos < s.size() && is_continuation(static_cast<Byte>(s[pos]))) ++pos;
  return pos;
}

}  // namespace

namespace {

// Length of the well-formed sequence at raw[i] (a byte >= 0x80), or, negated, how many bytes
// form the maximal ill-formed subpart to replace with one U+FFFD (at least 1).
int sequence_at(std::string_view raw, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<Byte>(raw[k]); };
  const int len = sequence_length(byte(i));
  if (len == 0) return -1;
  Byte lo, hi;
  second_byte_range(byte(i), lo, hi);
  if (i + 1 >= raw.size() || byte(i + 1) < lo || byte(i + 1) > hi) return -1;
  for (int k = 2; k < len; ++k) {
    if (i + k >= raw.size() || !is_continuation(byte(i + k))) return -k;
  }
  return len;
}

}  // namespace

std::string repair_utf8(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size();) {
    if (static_cast<Byte>(raw[i]) < 0x80) {
      out += raw[i++];
      continue;
    }
    const int n = sequence_at(raw, i);
    if (n > 0) {
      out.append(raw.substr(i, static_cast<std::size_t>(n)));
      i += static_cast<std::size_t>(n);
    } else {
      out += kReplacement;
      i += static_cast<std::size_t>(-n);
    }
  }
  return out;
}

std::size_t utf8_length(std::string_view raw) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < raw.size(); ++count) {
    if (static_cast<Byte>(raw[i]) < 0x80) {
      ++i;
      continue;
    }
    const int n = sequence_at(raw, i);
    i += static_cast<std::size_t>(n > 0 ? n : -n);
  }
  return count;
}

std::string clean(std::string_view raw) {
  return Cleaner(raw.size()).run(raw);
}

bool is_clean(std::string_view raw) {
  const Byte* p = reinterpret_cast<const Byte*>(raw.data());
  const Byte* const end = p + raw.size();
  return Cleaner::first_change(p, end) == end;
}

std::size_t incomplete_utf8_suffix(std::string_view raw) {
  const std::size_t n = raw.size();
  for (std::size_t k = 1; k <= 3 && k <= n; ++k) {
    const Byte b = static_cast<Byte>(raw[n - k]);
    if (is_continuation(b)) continue;
    const int len = sequence_length(b);
    if (len == 0 || k >= static_cast<std::size_t>(len)) return 0;  // ASCII, invalid, complete
    if (k >= 2) {
      Byte lo, hi;
      second_byte_range(b, lo, hi);
      const Byte second = static_cast<Byte>(raw[n - k + 1]);
      if (second < lo || second > hi) return 0;  // already invalid: more bytes cannot help
    }
    return k;
  }
  return 0;
}

Cut cut_middle(std::string_view text, std::size_t max_bytes, std::string_view log_path) {
  Cut cut;
  if (text.size() <= max_bytes) {
    cut.text = std::string(text);
    return cut;
  }
  // Counts never exceed text.size(), so this marker is at least as long as the real one; +1
  // for the newline added when the head ends inside a line.
  const std::size_t reserve = make_marker(text.size(), text.size(), log_path).size() + 1;
  const std::size_t budget = max_bytes > reserve ? max_bytes - reserve : 0;
  const std::size_t head_budget = budget / 2;
  const std::size_t tail_budget = budget - head_budget;

  std::size_t head_end = 0;
  if (head_budget > 0) {
    const std::size_t nl = text.rfind('\n', head_budget - 1);
    head_end = nl != std::string_view::npos ? nl + 1 : floor_boundary(text, head_budget);
  }
  std::size_t tail_start = text.size();
  if (tail_budget > 0) {
    const std::size_t from = text.size() - tail_budget;  // >= 1 since text.size() > budget
    const std::size_t nl = text.find('\n', from - 1);
    tail_start =
        (nl != std::string_view::npos && nl + 1 < text.size()) ? nl + 1 : ceil_boundary(text, from);
  }
  tail_start = std::max(tail_start, head_end);

  const std::string_view middle = text.substr(head_end, tail_start - head_end);
  cut.bytes_omitted = middle.size();
  cut.lines_omitted = count_newlines(middle) + (!middle.empty() && middle.back() != '\n');
  cut.text.reserve(max_bytes);
  cut.text.append(text.substr(0, head_end));
  if (head_end > 0 && text[head_end - 1] != '\n') cut.text.push_back('\n');
  cut.text += make_marker(cut.lines_omitted, cut.bytes_omitted, log_path);
  cut.text.append(text.substr(tail_start));
  return cut;
}

std::string last_nonempty_line(std::string_view cleaned) {
  std::size_t end = cleaned.size();
  while (end > 0) {
    const std::size_t nl = end > 0 ? cleaned.rfind('\n', end - 1) : std::string_view::npos;
    const std::size_t start = nl == std::string_view::npos ? 0 : nl + 1;
    const std::string_view line = cleaned.substr(start, end - start);
    if (line.find_first_not_of(" \t\r\v\f") != std::string_view::npos) return std::string(line);
    if (nl == std::string_view::npos) break;
    end = nl;
  }
  return {};
}

}  // namespace meanwhile::text
