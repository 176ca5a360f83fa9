// Fuzz target: the SSE decoder (src/llm/sse.h), the first parser a model endpoint's bytes meet.
// The input is an event stream; it is fed whole, in pieces chosen by the input's hash (empty
// pieces included) and one byte at a time, and the decoder must see the same events and the same
// outcome every time: a chunk boundary (inside a CRLF, the BOM, a field name) changes nothing.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "llm/sse.h"

namespace {

using meanwhile::llm::SseEvent;
using meanwhile::llm::SseParser;

struct Outcome {
  std::vector<SseEvent> events;
  bool ok = true;  // no error from feed() or finish()
};

bool same_events(const std::vector<SseEvent>& a, const std::vector<SseEvent>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].event != b[i].event || a[i].data != b[i].data || a[i].id != b[i].id) return false;
  }
  return true;
}

Outcome decode(const std::vector<std::string_view>& chunks) {
  Outcome out;
  SseParser parser;
  // Every few events the sink refuses one, as a stream decoder does on a bad event: the parser
  // must then stay failed.
  auto sink = [&](SseEvent& event) -> meanwhile::Status {
    FUZZ_CHECK(event.event.find_first_of("\r\n") == std::string::npos, event.event);
    FUZZ_CHECK(event.id.find_first_of("\r\n") == std::string::npos, event.id);
    FUZZ_CHECK(event.data.find('\r') == std::string::npos, event.data);
    out.events.push_back(event);
    if (event.data == "refuse") return meanwhile::make_error("the sink refused the event");
    return meanwhile::Ok{};
  };
  for (std::string_view chunk : chunks) {
    if (!parser.feed(chunk, sink).ok()) {
      out.ok = false;
      FUZZ_CHECK(!parser.feed("data: x\n\n", sink).ok(), "a failed parser accepted more input");
      FUZZ_CHECK(!parser.finish().ok(), "a failed parser finished cleanly");
      return out;
    }
  }
  out.ok = parser.finish().ok();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = meanwhile::fuzz::as_text(data, size);
  const Outcome whole = decode({input});
  std::vector<std::vector<std::string_view>> chunkings = {
      meanwhile::fuzz::random_chunks(input, input.size())};
  if (size <= 64 * 1024) chunkings.push_back(meanwhile::fuzz::fixed_chunks(input, 1));
  for (const auto& chunks : chunkings) {
    const Outcome split = decode(chunks);
    FUZZ_CHECK(split.ok == whole.ok, "the outcome depends on the chunking");
    FUZZ_CHECK(same_events(split.events, whole.events), "the events depend on the chunking");
  }
  return 0;
}
