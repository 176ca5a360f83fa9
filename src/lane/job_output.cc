#include "lane/job_output.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "lane/text.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace meanwhile {

std::uint64_t count_newlines(std::string_view data) {
  std::uint64_t total = 0;
  std::size_t i = 0;
#if defined(__SSE2__)
  // 16 bytes at a time; per-byte counters are summed every 255 blocks, before they overflow.
  // About ten times faster than std::count at -O2, which matters for a job printing a gigabyte.
  const char* p = data.data();
  const std::size_t n = data.size();
  const __m128i newline = _mm_set1_epi8('\n');
  while (i + 16 <= n) {
    __m128i counters = _mm_setzero_si128();
    const std::size_t blocks = std::min<std::size_t>((n - i) / 16, 255);
    for (std::size_t b = 0; b < blocks; ++b, i += 16) {
      __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      counters = _mm_sub_epi8(counters, _mm_cmpeq_epi8(bytes, newline));  // +1 where '\n'
    }
    __m128i sums = _mm_sad_epu8(counters, _mm_setzero_si128());
    total += static_cast<std::uint64_t>(_mm_cvtsi128_si64(sums)) +
             static_cast<std::uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums)));
  }
#endif
  for (; i < data.size(); ++i) total += data[i] == '\n';
  return total;
}

void TailBuffer::append(std::string_view data) {
  if (capacity_ == 0 || data.empty()) return;
  if (data.size() >= capacity_) {
    ring_.assign(data.substr(data.size() - capacity_));
    start_ = 0;
    return;
  }
  if (ring_.size() < capacity_) {
    std::size_t take = std::min(capacity_ - ring_.size(), data.size());
    if (ring_.size() + take > ring_.capacity()) {
      ring_.reserve(std::min(capacity_, std::max(ring_.capacity() * 2, ring_.size() + take)));
    }
    ring_.append(data.substr(0, take));
    data.remove_prefix(take);
    start_ = 0;
  }
  while (!data.empty()) {  // full: overwrite the oldest bytes
    std::size_t take = std::min(data.size(), capacity_ - start_);
    std::memcpy(ring_.data() + start_, data.data(), take);
    start_ = (start_ + take) % capacity_;
    data.remove_prefix(take);
  }
}

std::string TailBuffer::last(std::size_t n) const {
  n = std::min(n, ring_.size());
  std::string out;
  out.reserve(n);
  // Logical order: ring_[start_..] then ring_[..start_).
  std::size_t logical_from = ring_.size() - n;
  for (std::size_t i = logical_from; i < ring_.size();) {
    std::size_t physical = (start_ + i) % ring_.size();
    std::size_t run = std::min(ring_.size() - i, ring_.size() - physical);
    out.append(ring_, physical, run);
    i += run;
  }
  return out;
}

void TailBuffer::release() {
  std::string().swap(ring_);
  start_ = 0;
}

std::size_t JobOutput::write_log(std::string_view chunk) {
  if (log_failed_ || log_written_ >= log_cap_) return 0;
  if (!log_) {
    log_.reset(::open(log_path_.c_str(),
                      O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!log_) {
      log_failed_ = true;
      log_error_ = "cannot create the log file " + log_path_ + ": " + std::strerror(errno);
      return 0;
    }
  }
  std::size_t want =
      static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), log_cap_ - log_written_));
  std::size_t done = 0;
  while (done < want) {
    ssize_t n = ::write(log_.get(), chunk.data() + done, want - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      log_failed_ = true;
      log_error_ =
          "cannot write the log file " + log_path_ + ": " + std::strerror(n < 0 ? errno : ENOSPC);
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  log_written_ += done;
  return done;
}

void JobOutput::record(std::string_view chunk, std::size_t written) {
  bytes_seen_ += chunk.size();
  bytes_logged_ += written;
  lines_ += count_newlines(chunk);
  if (head_.size() < kHeadBytes) {
    head_.append(chunk.substr(0, kHeadBytes - head_.size()));
  }
  tail_.append(chunk);
}

namespace {

// Drops a partial first line (the cut may have split a character).
std::string_view from_first_line(std::string_view text) {
  auto nl = text.find('\n');
  return nl == std::string_view::npos ? text : text.substr(nl + 1);
}

// Drops a partial first line, where a carriage return also ends one: a progress bar rewrites
// its line with \r for thousands of updates without a \n, and the line after it must stay.
std::string_view from_first_break(std::string_view text) {
  auto at = text.find_first_of("\r\n");
  return at == std::string_view::npos ? text : text.substr(at + 1);
}

// Drops a partial last line.
std::string_view to_last_line(std::string_view text) {
  auto nl = text.rfind('\n');
  return nl == std::string_view::npos ? text : text.substr(0, nl + 1);
}

}  // namespace

std::string JobOutput::last_line() const {
  constexpr std::size_t kWindow = 4096;
  std::string raw = tail_.last(kWindow);
  std::string_view view(raw);
  if (tail_.size() > kWindow || bytes_seen_ > tail_.size()) {
    std::string_view rest = from_first_line(view);
    if (!rest.empty()) view = rest;
  }
  return text::last_nonempty_line(text::clean(view));
}

std::string JobOutput::preview(std::string_view log_path) const {
  std::string out;
  if (bytes_seen_ == tail_.size()) {  // everything is in the tail
    out = text::cut_middle(text::clean(tail_.last(tail_.size())), kPreviewBytes, log_path).text;
  } else {
    const std::size_t half = kPreviewBytes / 2;
    out = text::clean(to_last_line(std::string_view(head_).substr(0, half)));
    std::string tail_raw = tail_.last(half);
    std::uint64_t omitted = bytes_seen_ - std::min<std::uint64_t>(bytes_seen_, half + half);
    if (!out.empty() && out.back() != '\n') out += '\n';
    out += "[... about " + std::to_string(omitted) + " bytes omitted";
    if (!log_path.empty()) out += "; full log: " + std::string(log_path);
    out += " ...]\n";
    out += text::clean(from_first_break(tail_raw));
  }
  if (bytes_dropped() > 0) {
    if (!out.empty() && out.back() != '\n') out += '\n';
    if (!failure_.empty()) {  // a full disk is not the cap
      out += "[" + std::to_string(bytes_dropped()) +
             " bytes were read but not logged: " + failure_ + "]\n";
    } else {
      out += "[" + std::to_string(bytes_dropped()) + " bytes past the log cap of " +
             std::to_string(log_cap_) + " bytes were read but not logged]\n";
    }
  }
  return out;
}

void JobOutput::release_memory() {
  std::string().swap(head_);
  tail_.release();
}

}  // namespace meanwhile
