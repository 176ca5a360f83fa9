// fake_model_server: the script. JSONL, one entry per expected request, consumed in order; the
// reply format is the script provider's (src/llm/script.h), plus fault fields:
//   "status": N            answer HTTP N with an API-style error body instead of a reply
//   "retry_after": S       with "status": send a retry-after: S header (seconds)
//   "body": {...}          with "status": this exact JSON body instead of the generated one
//   "error_message": "..." with "status": the message in the generated error body
//   "error_type": "..."    with "status": the error type (default from the status)
//   "disconnect_after_events": N   stream the reply's first N SSE events, then cut the connection
//   "malformed_sse": true  answer 200 text/event-stream with lines that are not SSE
//   "stream_error": "overloaded_error"   200, message_start, then an `error` event of that type
//                          (with "error_message" as its message), then the end of the stream
//   "delay_ms": N          wait N ms before answering
//   "chunk_delay_ms": N    wait N ms between SSE events
// A tool_use block may carry "raw_input": "TEXT": its arguments are streamed as TEXT verbatim.
// An entry needs "content" unless it has "status" (>= 400), "malformed_sse" or "stream_error".
// Unknown fields are an error (a typo would otherwise silently do nothing).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "meanwhile/llm.h"
#include "meanwhile/result.h"

namespace fake_server {

struct Entry {
  int line_number = 0;
  std::optional<meanwhile::llm::Response> reply;
  int status = 200;
  std::optional<double> retry_after;
  nlohmann::json body;  // null: generate
  std::string error_message;
  std::string error_type;
  int disconnect_after_events = -1;  // -1: never
  bool malformed_sse = false;
  std::string stream_error;
  int delay_ms = 0;
  int chunk_delay_ms = 0;
};

meanwhile::Result<std::vector<Entry>> load_script(const std::string& path);

}  // namespace fake_server
