// Incremental parser for Server-Sent Events (text/event-stream), as both model APIs stream them.
//
// Bytes arrive in arbitrary chunks (a line, an event or a UTF-8 character may be split anywhere);
// feed() buffers what is incomplete and hands each complete event to the sink. Lines may end in
// "\n", "\r\n" or a lone "\r". Comment lines (":...") are skipped; several "data:" lines join with
// "\n". Unlike a browser, which ignores unknown fields, this parser treats a line that is not an
// SSE field (event, data, id, retry) as a malformed stream: a model endpoint that sends anything
// else is broken (an HTML error page, a proxy's garbage) and the caller should retry, not guess.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "meanwhile/result.h"

namespace meanwhile::llm {

struct SseEvent {
  std::string event;  // the "event:" field; empty when the event had none
  std::string data;   // the "data:" lines joined with "\n"
  std::string id;     // the "id:" field, if any
};

class SseParser {
 public:
  // Called for each complete event; an Error stops the parse and feed() returns it.
  using Sink = std::function<Status(SseEvent&)>;

  static constexpr std::size_t kMaxLineBytes = 16u << 20;   // one line
  static constexpr std::size_t kMaxEventBytes = 64u << 20;  // one event's data

  // Parses `bytes`, calling `sink` for every event they complete. After an Error the parser
  // stays failed: every later call returns the same Error.
  Status feed(std::string_view bytes, const Sink& sink);

  // The stream ended. An Error when it ended inside an event (fields seen, no blank line yet):
  // the connection was cut mid-event.
  Status finish();

  // Bytes fed so far (for error messages).
  std::size_t bytes_seen() const { return bytes_seen_; }

 private:
  Status feed_lines(std::string_view bytes, const Sink& sink);
  Status process_line(std::string_view line, const Sink& sink);
  Status fail(std::string message);

  std::string line_;         // the incomplete line carried over from the previous chunk
  SseEvent pending_;         // fields of the event being built
  bool has_fields_ = false;  // pending_ holds at least one field (a blank line will dispatch)
  bool has_data_ = false;    // at least one data line (spec: events without data are dropped)
  bool skip_lf_ = false;     // the previous chunk ended with '\r': a leading '\n' belongs to it
  bool at_start_ = true;     // a UTF-8 BOM may open the stream
  std::size_t bytes_seen_ = 0;
  std::string error_;  // non-empty once failed
};

}  // namespace meanwhile::llm
