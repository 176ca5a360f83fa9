#include "llm/sse.h"

#include <fmt/format.h>

namespace meanwhile::llm {

namespace {

// A short, printable excerpt of a bad line for an error message.
std::string excerpt(std::string_view line) {
  constexpr std::size_t kMax = 60;
  std::string out;
  for (char c : line.substr(0, kMax)) {
    unsigned char u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  if (line.size() > kMax) out += "...";
  return out;
}

}  // namespace

Status SseParser::fail(std::string message) {
  error_ = std::move(message);
  return make_error(error_);
}

Status SseParser::feed(std::string_view bytes, const Sink& sink) {
  if (!error_.empty()) return make_error(error_);
  bytes_seen_ += bytes.size();
  if (at_start_ && !bytes.empty()) {
    // The BOM may itself be split across chunks: wait until 3 bytes are known.
    line_.append(bytes);
    if (line_.size() < 3 && std::string_view("\xEF\xBB\xBF").starts_with(line_)) return Ok{};
    at_start_ = false;
    std::string first = std::move(line_);
    line_.clear();
    std::string_view rest = first;
    if (rest.starts_with("\xEF\xBB\xBF")) rest.remove_prefix(3);
    return feed_lines(rest, sink);
  }
  return feed_lines(bytes, sink);
}

Status SseParser::feed_lines(std::string_view bytes, const Sink& sink) {
  if (skip_lf_ && !bytes.empty()) {
    if (bytes.front() == '\n') bytes.remove_prefix(1);
    skip_lf_ = false;
  }
  while (!bytes.empty()) {
    std::size_t end = bytes.find_first_of("\r\n");
    if (end == std::string_view::npos) {
      if (line_.size() + bytes.size() > kMaxLineBytes) {
        return fail(
            fmt::format("malformed event stream: a line longer than {} bytes", kMaxLineBytes));
      }
      line_.append(bytes);
      break;
    }
    bool is_cr = bytes[end] == '\r';
    Status status = Ok{};
    if (line_.empty()) {
      status = process_line(bytes.substr(0, end), sink);
    } else {
      line_.append(bytes.substr(0, end));
      std::string line = std::move(line_);
      line_.clear();
      status = process_line(line, sink);
    }
    if (!status.ok()) return status;
    bytes.remove_prefix(end + 1);
    if (is_cr) {
      if (bytes.empty()) {
        skip_lf_ = true;  // "\r" at the end of a chunk: a "\n" may follow in the next one
      } else if (bytes.front() == '\n') {
        bytes.remove_prefix(1);
      }
    }
  }
  return Ok{};
}

Status SseParser::process_line(std::string_view line, const Sink& sink) {
  if (line.empty()) {
    if (has_data_) {
      SseEvent event = std::move(pending_);
      pending_ = SseEvent{};
      has_fields_ = has_data_ = false;
      Status status = sink(event);
      if (!status.ok()) return fail(status.error());
    } else {
      pending_ = SseEvent{};
      has_fields_ = false;
    }
    return Ok{};
  }
  if (line.front() == ':') return Ok{};  // comment (keep-alive)

  std::size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (value.starts_with(' ')) value.remove_prefix(1);
  }
  if (field == "data") {
    if (pending_.data.size() + value.size() + 1 > kMaxEventBytes) {
      return fail(
          fmt::format("malformed event stream: an event larger than {} bytes", kMaxEventBytes));
    }
    if (has_data_) pending_.data += '\n';
    pending_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    pending_.event.assign(value);
  } else if (field == "id") {
    pending_.id.assign(value);
  } else if (field == "retry") {
    // A reconnection hint for browsers; meaningless for a one-shot request.
  } else {
    return fail(fmt::format("malformed event stream: unexpected line \"{}\" after {} bytes",
                            excerpt(line), bytes_seen_));
  }
  has_fields_ = true;
  return Ok{};
}

Status SseParser::finish() {
  if (!error_.empty()) return make_error(error_);
  if (!line_.empty() || has_fields_) {
    return fail(
        fmt::format("event stream ended in the middle of an event after {} bytes", bytes_seen_));
  }
  return Ok{};
}

}  // namespace meanwhile::llm
