// read_log: picks the byte range a mode asks for with bounded reads (memchr forward, memrchr
// backward, in 1 MiB blocks), cleans it, filters it, and keeps only what the cut will show.
#include "lane/output_reader.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "lane/log_file.h"
#include "lane/output_window.h"
#include "lane/text.h"
#include "lane/watch_regex.h"

namespace meanwhile {
namespace {

constexpr std::size_t kBlock = LogFile::kBlock;
constexpr std::uint64_t kMaxCountedMiddle = 256ull << 20;  // newline counting stops here
constexpr std::uint64_t kMaxFilterScan = 256ull << 20;     // the filter reads at most this
constexpr std::size_t kMaxCarry = 4 << 20;                 // a longer line is filtered in pieces
constexpr std::size_t kNewlineSearch = 1 << 20;       // since_last looks this far back for '\n'
constexpr std::uint64_t kMaxLineScan = 256ull << 20;  // head/tail look this far for N lines

class LineFilter {
 public:
  explicit LineFilter(std::shared_ptr<const WatchRegex> regex) : regex_(std::move(regex)) {}
  bool matches(std::string_view line) const { return regex_->search(line); }
  // Appends the lines of `cleaned` that match to `out`.
  void keep_matching(std::string_view cleaned, std::string& out) const {
    for_each_line(cleaned, [&](std::string_view line, bool has_newline) {
      if (!matches(line)) return;
      out.append(line);
      if (has_newline) out.push_back('\n');
    });
  }
  template <typename Fn>
  static void for_each_line(std::string_view text, Fn&& fn) {
    std::size_t start = 0;
    while (start < text.size()) {
      const std::size_t nl = text.find('\n', start);
      if (nl == std::string_view::npos) {
        fn(text.substr(start), false);
        return;
      }
      fn(text.substr(start, nl - start), true);
      start = nl + 1;
    }
  }

 private:
  std::shared_ptr<const WatchRegex> regex_;
};

struct Range {
  std::uint64_t from = 0;
  std::uint64_t to = 0;
};

class Reader {
 public:
  Reader(const LogFile& file, const ReadRequest& request, const std::optional<LineFilter>& filter,
         bool running, std::size_t max_bytes, const std::string& path)
      : file_(file),
        request_(request),
        filter_(filter),
        running_(running),
        window_(max_bytes, path) {}

  Result<OutputChunk> read(std::uint64_t* cursor) {
    Range range;
    Status status = Ok{};
    switch (request_.mode) {
      case ReadMode::since_last:
        status = since_last(cursor, range);
        break;
      case ReadMode::all:
        range = {0, complete_end(file_.size())};
        break;
      case ReadMode::head:
        status = filter_ ? head_filtered(range) : head(range);
        break;
      case ReadMode::tail:
        status = filter_ ? tail_filtered(range) : tail(range);
        break;
    }
    if (!status) return status.error_info();
    const bool scanned = request_.mode == ReadMode::head || request_.mode == ReadMode::tail;
    if (!(scanned && filter_)) {
      status = filter_ ? stream_filtered(range) : render(range);
      if (!status) return status.error_info();
    }
    OutputChunk chunk;
    Cut cut = window_.finish();
    chunk.text = std::move(cut.text);
    chunk.lines_omitted = cut.lines_omitted;
    chunk.bytes_omitted = cut.bytes_omitted;
    chunk.from_offset = range.from;
    chunk.to_offset = range.to;
    return chunk;
  }

 private:
  using Cut = text::Cut;

  // End of the readable text before `end`: a running job may still complete a character.
  std::uint64_t complete_end(std::uint64_t end) const {
    if (!running_ || end == 0) return end;
    std::string last;
    const std::uint64_t from = end - std::min<std::uint64_t>(end, 3);
    if (!file_.read(from, end, last)) return end;
    return end - text::incomplete_utf8_suffix(last);
  }

  Status since_last(std::uint64_t* cursor, Range& range) {
    const std::uint64_t size = file_.size();
    range.from = std::min(cursor ? *cursor : 0, size);
    range.to = size;
    if (running_ && range.to > range.from) {
      // Stop after the last complete line; a partial line alone is handed out as it is.
      const std::uint64_t floor =
          std::max(range.from, size - std::min<std::uint64_t>(size, kNewlineSearch));
      auto nl = file_.find_newlines_backward(size, 1, floor);
      if (!nl) return nl.error_info();
      range.to = std::max(range.from, nl.value() ? *nl.value() + 1 : complete_end(size));
    }
    if (cursor) *cursor = range.to;
    return Ok{};
  }

  Status head(Range& range) {
    range = {0, 0};
    if (request_.lines == 0) return Ok{};
    // Bounded: past kMaxLineScan the answer is cut in the middle anyway.
    auto end = file_.find_newlines_forward(0, request_.lines, kMaxLineScan);
    if (!end) return end.error_info();
    if (end.value())
      range.to = *end.value();
    else if (file_.size() > kMaxLineScan)
      range.to = kMaxLineScan;
    else
      range.to = complete_end(file_.size());
    return Ok{};
  }

  Status tail(Range& range) {
    const std::uint64_t end = complete_end(file_.size());
    range = {end, end};
    if (request_.lines == 0 || end == 0) return Ok{};
    // A final '\n' ends the last line; it does not start another one.
    std::string last;
    if (auto s = file_.read(end - 1, end, last); !s) return s;
    const std::size_t needed = request_.lines + (last == "\n" ? 1 : 0);
    // Bounded: past kMaxLineScan the answer is cut in the middle anyway.
    const std::uint64_t floor = end > kMaxLineScan ? end - kMaxLineScan : 0;
    auto nl = file_.find_newlines_backward(end, needed, floor);
    if (!nl) return nl.error_info();
    range.from = nl.value() ? *nl.value() + 1 : floor;
    return Ok{};
  }

  // Reads [from, to) whole when small, otherwise only the head and tail the cut keeps.
  Status render(Range range) {
    const std::uint64_t len = range.to - range.from;
    const std::size_t window = window_.max_bytes() + 4096;
    std::string raw;
    if (len <= 2 * window + (1 << 20)) {
      if (auto s = file_.read(range.from, range.to, raw); !s) return s;
      window_.add(text::clean(raw));
      return Ok{};
    }
    std::string head_raw, tail_raw;
    if (auto s = file_.read(range.from, range.from + window, head_raw); !s) return s;
    if (auto s = file_.read(range.to - window, range.to, tail_raw); !s) return s;
    // Cut both windows at line starts (or, for one huge line, at a character boundary).
    std::size_t head_len = head_raw.rfind('\n');
    head_len = head_len == std::string::npos
                   ? head_raw.size() - text::incomplete_utf8_suffix(head_raw)
                   : head_len + 1;
    std::size_t tail_skip = tail_raw.find('\n');
    if (tail_skip == std::string::npos || tail_skip + 1 == tail_raw.size()) {
      tail_skip = 0;
      while (tail_skip < tail_raw.size() && tail_skip < 3 &&
             (static_cast<unsigned char>(tail_raw[tail_skip]) & 0xC0) == 0x80) {
        ++tail_skip;
      }
    } else {
      ++tail_skip;
    }
    const std::uint64_t middle_from = range.from + head_len;
    const std::uint64_t middle_to = range.to - (tail_raw.size() - tail_skip);
    std::optional<std::uint64_t> middle_lines;
    if (middle_to - middle_from <= kMaxCountedMiddle) {
      auto counted = file_.count_newlines(middle_from, middle_to);
      if (!counted) return counted.error_info();
      middle_lines = counted.value();
    }
    window_.add(text::clean(std::string_view(head_raw).substr(0, head_len)));
    window_.omit(middle_lines, middle_to - middle_from);
    window_.add(text::clean(std::string_view(tail_raw).substr(tail_skip)));
    return Ok{};
  }

  // Streams [from, to) forward in line-aligned blocks through clean; on_cleaned returns false
  // to stop early.
  template <typename OnCleaned>
  Status stream_lines(Range range, OnCleaned&& on_cleaned) {
    std::string block, carry;
    for (std::uint64_t pos = range.from; pos < range.to; pos += kBlock) {
      if (auto s = file_.read(pos, std::min(range.to, pos + kBlock), block); !s) return s;
      carry += block;
      const bool last = pos + kBlock >= range.to;
      std::size_t take = carry.size();
      if (!last) {
        const std::size_t nl = carry.rfind('\n');
        if (nl != std::string::npos)
          take = nl + 1;
        else if (carry.size() < kMaxCarry)
          take = 0;
        else
          take = carry.size() - text::incomplete_utf8_suffix(carry);
      }
      if (take == 0) continue;
      if (!on_cleaned(text::clean(std::string_view(carry).substr(0, take)))) return Ok{};
      carry.erase(0, take);
    }
    return Ok{};
  }

  Status stream_filtered(Range range) {
    if (range.to - range.from > kMaxFilterScan) {
      window_.note_skipped(range.to - kMaxFilterScan - range.from, /*at_start=*/true);
      range.from = range.to - kMaxFilterScan;
    }
    std::string kept;
    return stream_lines(range, [&](const std::string& cleaned) {
      kept.clear();
      filter_->keep_matching(cleaned, kept);
      window_.add(kept);
      return true;
    });
  }

  Status head_filtered(Range& range) {
    range = {0, complete_end(file_.size())};
    if (request_.lines == 0) return Ok{};
    const bool limited = range.to > kMaxFilterScan;
    if (limited) range.to = kMaxFilterScan;
    std::string kept;
    std::size_t found = 0;
    auto status = stream_lines(range, [&](const std::string& cleaned) {
      LineFilter::for_each_line(cleaned, [&](std::string_view line, bool has_newline) {
        if (found == request_.lines || !filter_->matches(line)) return;
        ++found;
        kept.append(line);
        if (has_newline) kept.push_back('\n');
      });
      return found < request_.lines;
    });
    if (limited && found < request_.lines) window_.note_skipped(file_.size() - range.to, false);
    window_.add(kept);
    return status;
  }

  // Reads backward in blocks, collecting the last `lines` matching lines.
  Status tail_filtered(Range& range) {
    const std::uint64_t end = complete_end(file_.size());
    range = {end, end};
    if (request_.lines == 0) return Ok{};
    const std::uint64_t floor = end > kMaxFilterScan ? end - kMaxFilterScan : 0;
    std::vector<std::string> matches;  // newest first
    std::string block, carry;          // carry: the start of a line whose rest came earlier
    std::uint64_t pos = end;
    while (pos > floor && matches.size() < request_.lines) {
      const std::uint64_t from = pos - std::min<std::uint64_t>(kBlock, pos - floor);
      if (auto s = file_.read(from, pos, block); !s) return s;
      block += carry;
      carry.clear();
      std::size_t skip = 0;  // bytes of a line that began before `from`
      if (from > floor) {
        const std::size_t nl = block.find('\n');
        if (nl == std::string::npos || nl + 1 == block.size()) {
          skip = block.size() < kMaxCarry ? block.size() : 0;
        } else {
          skip = nl + 1;
        }
      }
      carry.assign(block, 0, skip);
      const std::string cleaned = text::clean(std::string_view(block).substr(skip));
      std::vector<std::string_view> lines;
      LineFilter::for_each_line(cleaned,
                                [&](std::string_view line, bool) { lines.push_back(line); });
      const bool ends_with_newline = !cleaned.empty() && cleaned.back() == '\n';
      for (std::size_t i = lines.size(); i-- > 0 && matches.size() < request_.lines;) {
        if (!filter_->matches(lines[i])) continue;
        std::string line(lines[i]);
        if (i + 1 < lines.size() || ends_with_newline) line.push_back('\n');
        matches.push_back(std::move(line));
      }
      pos = from;
      range.from = from;
    }
    if (floor > 0 && matches.size() < request_.lines) window_.note_skipped(floor, true);
    std::string kept;
    for (auto it = matches.rbegin(); it != matches.rend(); ++it) kept += *it;
    window_.add(kept);
    return Ok{};
  }

  const LogFile& file_;
  const ReadRequest& request_;
  const std::optional<LineFilter>& filter_;
  bool running_;
  OutputWindow window_;
};

}  // namespace

Result<OutputChunk> read_log(const std::string& log_path, const ReadRequest& request,
                             std::uint64_t* cursor, bool job_running) {
  try {
    std::optional<LineFilter> filter;
    if (!request.filter.empty()) {
      auto compiled = WatchRegex::compile(request.filter, "filter");
      if (!compiled) return compiled.error_info();
      filter.emplace(std::move(*compiled));
    }
    OutputChunk empty;
    empty.job_running = job_running;
    empty.log_path = log_path;
    UniqueFd fd(::open(log_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!fd) {
      if (errno == ENOENT) {  // the job has printed nothing yet
        empty.from_offset = empty.to_offset = cursor ? *cursor : 0;
        return empty;
      }
      return posix_error("cannot open log " + log_path, errno);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
      return posix_error("cannot stat log " + log_path, errno);
    }
    if (!S_ISREG(st.st_mode)) return make_error("log " + log_path + " is not a regular file");
    LogFile file(std::move(fd), static_cast<std::uint64_t>(st.st_size), log_path);
    const std::size_t max_bytes = request.max_bytes == 0 ? 30000 : request.max_bytes;
    Reader reader(file, request, filter, job_running, max_bytes, log_path);
    auto chunk = reader.read(cursor);
    if (!chunk) return chunk;
    chunk->job_running = job_running;
    chunk->log_path = log_path;
    return chunk;
  } catch (const std::exception& e) {  // bad_alloc and the like: never out of the lane
    return make_error("cannot read log " + log_path + ": " + e.what());
  }
}

}  // namespace meanwhile
