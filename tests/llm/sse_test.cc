#include "llm/sse.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace meanwhile::llm {
namespace {

struct Collected {
  std::vector<SseEvent> events;
  SseParser::Sink sink() {
    return [this](SseEvent& event) -> Status {
      events.push_back(event);
      return Ok{};
    };
  }
};

// Feeds `stream` in pieces cut at `cuts` (sorted offsets); returns the events, or the error.
std::vector<SseEvent> parse_cut(const std::string& stream, const std::vector<std::size_t>& cuts,
                                std::string* error = nullptr) {
  SseParser parser;
  Collected collected;
  std::size_t start = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(stream.size());
  for (std::size_t end : ends) {
    Status status =
        parser.feed(std::string_view(stream).substr(start, end - start), collected.sink());
    if (!status.ok()) {
      if (error) *error = status.error();
      return collected.events;
    }
    start = end;
  }
  Status status = parser.finish();
  if (!status.ok() && error) *error = status.error();
  return collected.events;
}

std::string describe(const std::vector<SseEvent>& events) {
  std::string out;
  for (const SseEvent& e : events) out += "[" + e.event + "|" + e.data + "|" + e.id + "]";
  return out;
}

TEST(SseParser, ParsesEventTypeAndData) {
  std::string error;
  auto events = parse_cut("event: message_start\ndata: {\"a\":1}\n\n", {}, &error);
  EXPECT_EQ(error, "");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event, "message_start");
  EXPECT_EQ(events[0].data, "{\"a\":1}");
}

TEST(SseParser, HandlesCrlfAndLoneCr) {
  EXPECT_EQ(describe(parse_cut("event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\r", {})),
            "[a|1|][b|2|]");
}

TEST(SseParser, JoinsMultiLineDataAndSkipsComments) {
  std::string stream = ": keep-alive\ndata: first\n: in between\ndata:second\ndata\nid: 7\n\n";
  EXPECT_EQ(describe(parse_cut(stream, {})), "[|first\nsecond\n|7]");
}

TEST(SseParser, DropsEventsWithoutData) {
  EXPECT_EQ(describe(parse_cut("event: lonely\n\n\n\ndata: x\n\n", {})), "[|x|]");
}

TEST(SseParser, EventTypeDoesNotLeakIntoNextEvent) {
  EXPECT_EQ(describe(parse_cut("event: a\ndata: 1\n\ndata: 2\n\n", {})), "[a|1|][|2|]");
}

TEST(SseParser, StripsLeadingBomEvenWhenSplit) {
  std::string stream =
      "\xEF\xBB\xBF"
      "data: x\n\n";
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    EXPECT_EQ(describe(parse_cut(stream, {cut})), "[|x|]") << "cut at " << cut;
  }
}

TEST(SseParser, SameEventsWhenSplitAtEveryBytePosition) {
  std::string stream =
      "\xEF\xBB\xBF: opening comment\r\n"
      "event: message_start\r\ndata: {\"text\":\"h\xC3\xA9llo \xE2\x9C\x93\"}\r\n\r\n"
      "event: content_block_delta\ndata: line one\ndata: line two\n\n"
      "retry: 100\nid: 42\nevent: x\rdata: cr only\r\r"
      ": ping\n\n"
      "data:no-space\n\n";
  std::string error;
  auto whole = parse_cut(stream, {}, &error);
  ASSERT_EQ(error, "");
  std::string expected = describe(whole);
  ASSERT_EQ(whole.size(), 4u) << expected;
  for (std::size_t i = 0; i <= stream.size(); ++i) {
    EXPECT_EQ(describe(parse_cut(stream, {i})), expected) << "one cut at " << i;
    for (std::size_t j = i; j <= stream.size(); j += 7) {
      EXPECT_EQ(describe(parse_cut(stream, {i, j})), expected) << "cuts at " << i << "," << j;
    }
  }
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < stream.size(); ++i) every.push_back(i);
  EXPECT_EQ(describe(parse_cut(stream, every)), expected) << "byte by byte";
}

TEST(SseParser, NonSseLineIsAnErrorAndStaysOne) {
  SseParser parser;
  Collected collected;
  Status status = parser.feed("<html><body>Bad gateway</body></html>\n", collected.sink());
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().find("malformed event stream"), std::string::npos) << status.error();
  EXPECT_NE(status.error().find("<html>"), std::string::npos) << status.error();
  EXPECT_FALSE(parser.feed("data: fine\n\n", collected.sink()).ok());
  EXPECT_FALSE(parser.finish().ok());
  EXPECT_TRUE(collected.events.empty());
}

TEST(SseParser, ControlCharactersInBadLineAreNotEchoed) {
  SseParser parser;
  Collected collected;
  Status status = parser.feed(std::string("bad\x01\x1b[31mline\n"), collected.sink());
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().find('\x1b'), std::string::npos);
}

TEST(SseParser, EndInTheMiddleOfAnEventIsAnError) {
  std::string error;
  parse_cut("data: {\"partial\":", {}, &error);
  EXPECT_NE(error.find("ended in the middle of an event"), std::string::npos) << error;
  error.clear();
  auto events = parse_cut("data: one\n\ndata: two\n", {}, &error);
  EXPECT_EQ(events.size(), 1u);
  EXPECT_FALSE(error.empty());
  error.clear();
  parse_cut("data: one\n\n: trailing comment\n", {}, &error);
  EXPECT_EQ(error, "");
}

TEST(SseParser, SinkErrorStopsTheParse) {
  SseParser parser;
  int calls = 0;
  Status status = parser.feed("data: 1\n\ndata: 2\n\n", [&](SseEvent&) -> Status {
    ++calls;
    return make_error("decoder says no");
  });
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error(), "decoder says no");
  EXPECT_EQ(calls, 1);
}

TEST(SseParser, OverlongLineIsAnError) {
  SseParser parser;
  Collected collected;
  std::string chunk(1 << 20, 'a');
  chunk.replace(0, 6, "data: ");
  Status status = Ok{};
  for (int i = 0; i < 20 && status.ok(); ++i) status = parser.feed(chunk, collected.sink());
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().find("longer than"), std::string::npos) << status.error();
}

}  // namespace
}  // namespace meanwhile::llm
