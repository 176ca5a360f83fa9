// The stream decoders fed events directly: the cases a well-behaved server rarely sends.
#include <gtest/gtest.h>

#include "llm/anthropic_stream.h"
#include "llm/openai_stream.h"

namespace meanwhile::llm {
namespace {

using nlohmann::json;

std::optional<AttemptError> feed(StreamDecoder& decoder, const json& data, std::string type = "") {
  SseEvent event;
  event.event = type.empty() && data.is_object() ? data.value("type", "") : type;
  event.data = data.is_string() ? data.get<std::string>() : data.dump();
  return decoder.on_event(event);
}

json start_message() {
  return {{"type", "message_start"}, {"message", {{"usage", {{"input_tokens", 5}}}}}};
}

TEST(AnthropicDecoder, ErrorEventsMapToStatusAndRetryability) {
  struct Case {
    const char* type;
    const char* expected;
    bool retryable;
  };
  for (Case c :
       {Case{"overloaded_error", "529 Overloaded", true}, Case{"api_error", "500 Overloaded", true},
        Case{"rate_limit_error", "429 Overloaded", true},
        Case{"invalid_request_error", "400 Overloaded", false}}) {
    StreamHandler handler;
    AnthropicDecoder decoder(handler);
    ASSERT_FALSE(feed(decoder, start_message()));
    auto error = feed(
        decoder, {{"type", "error"}, {"error", {{"type", c.type}, {"message", "Overloaded"}}}});
    ASSERT_TRUE(error) << c.type;
    EXPECT_EQ(error->message, c.expected);
    EXPECT_EQ(error->retryable, c.retryable) << c.type;
  }
}

TEST(AnthropicDecoder, IgnoresPingAndUnknownEventsAndDeltas) {
  StreamHandler handler;
  AnthropicDecoder decoder(handler);
  EXPECT_FALSE(feed(decoder, start_message()));
  EXPECT_FALSE(feed(decoder, {{"type", "ping"}}));
  EXPECT_FALSE(feed(decoder, {{"type", "some_future_event"}, {"x", 1}}));
  EXPECT_FALSE(feed(decoder, {{"type", "content_block_start"},
                              {"index", 0},
                              {"content_block", {{"type", "text"}, {"text", ""}}}}));
  EXPECT_FALSE(feed(decoder, {{"type", "content_block_delta"},
                              {"index", 0},
                              {"delta", {{"type", "citations_delta"}, {"citation", {}}}}}));
  EXPECT_FALSE(feed(decoder, {{"type", "content_block_delta"},
                              {"index", 0},
                              {"delta", {{"type", "text_delta"}, {"text", "hi"}}}}));
  EXPECT_FALSE(feed(decoder, {{"type", "content_block_stop"}, {"index", 0}}));
  EXPECT_FALSE(feed(decoder, {{"type", "message_delta"},
                              {"delta", {{"stop_reason", "max_tokens"}}},
                              {"usage", {{"output_tokens", 9}}}}));
  EXPECT_FALSE(feed(decoder, {{"type", "message_stop"}}));
  EXPECT_FALSE(decoder.on_end());
  Response response = decoder.take_response();
  EXPECT_EQ(response.content, json::array({{{"type", "text"}, {"text", "hi"}}}));
  EXPECT_EQ(response.stop_reason, "max_tokens");
  EXPECT_EQ(response.usage, json({{"input_tokens", 5}, {"output_tokens", 9}}));
}

TEST(AnthropicDecoder, EmptyToolInputBecomesEmptyObjectAndEmptyTextIsDropped) {
  StreamHandler handler;
  AnthropicDecoder decoder(handler);
  feed(decoder, start_message());
  feed(decoder, {{"type", "content_block_start"},
                 {"index", 0},
                 {"content_block", {{"type", "text"}, {"text", ""}}}});
  feed(decoder, {{"type", "content_block_stop"}, {"index", 0}});
  feed(decoder,
       {{"type", "content_block_start"},
        {"index", 1},
        {"content_block",
         {{"type", "tool_use"}, {"id", "t1"}, {"name", "jobs"}, {"input", json::object()}}}});
  feed(decoder, {{"type", "content_block_delta"},
                 {"index", 1},
                 {"delta", {{"type", "input_json_delta"}, {"partial_json", ""}}}});
  EXPECT_FALSE(feed(decoder, {{"type", "content_block_stop"}, {"index", 1}}));
  feed(decoder, {{"type", "message_stop"}});
  Response response = decoder.take_response();
  ASSERT_EQ(response.content.size(), 1u);
  EXPECT_EQ(response.content[0]["input"], json::object());
}

TEST(AnthropicDecoder, MalformedStreamsAreRetryableErrors) {
  StreamHandler handler;
  {
    AnthropicDecoder decoder(handler);
    auto error = feed(decoder, json("{not json"), "message_start");
    ASSERT_TRUE(error);
    EXPECT_TRUE(error->retryable);
  }
  {
    AnthropicDecoder decoder(handler);
    feed(decoder, start_message());
    auto error = feed(decoder, {{"type", "content_block_delta"},
                                {"index", 3},
                                {"delta", {{"type", "text_delta"}, {"text", "x"}}}});
    ASSERT_TRUE(error);
    EXPECT_NE(error->message.find("not open"), std::string::npos);
  }
  {
    AnthropicDecoder decoder(handler);
    feed(decoder, start_message());
    feed(decoder, {{"type", "content_block_start"},
                   {"index", 0},
                   {"content_block", {{"type", "tool_use"}, {"id", "t"}, {"name", "n"}}}});
    feed(decoder, {{"type", "content_block_delta"},
                   {"index", 0},
                   {"delta", {{"type", "input_json_delta"}, {"partial_json", "{\"a\":"}}}});
    auto error = feed(decoder, {{"type", "content_block_stop"}, {"index", 0}});
    ASSERT_TRUE(error);
    EXPECT_TRUE(error->retryable);
  }
  {
    AnthropicDecoder decoder(handler);
    feed(decoder, start_message());
    auto error = decoder.on_end();
    ASSERT_TRUE(error);
    EXPECT_NE(error->message.find("message_stop"), std::string::npos);
    EXPECT_TRUE(error->retryable);
  }
  {
    AnthropicDecoder decoder(handler);
    auto error = feed(decoder, {{"type", "content_block_delta"}, {"index", "zero"}, {"delta", 5}});
    ASSERT_TRUE(error);  // wrong types inside an event: an error, not an exception
  }
}

json chunk(json delta, json finish = nullptr) {
  return {{"choices",
           json::array({{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", finish}}})}};
}

TEST(OpenAiDecoder, AssemblesToolCallsByIndexAndMapsFinishReason) {
  std::string streamed;
  StreamHandler handler;
  handler.on_text = [&](std::string_view text) { streamed += text; };
  OpenAiDecoder decoder(handler);
  feed(decoder, chunk({{"role", "assistant"}, {"content", "Let me "}}));
  feed(decoder, chunk({{"content", "check."}}));
  feed(decoder, chunk({{"tool_calls",
                        {{{"index", 1},
                          {"id", "call_b"},
                          {"function", {{"name", "b"}, {"arguments", ""}}}}}}}));
  feed(decoder, chunk({{"tool_calls",
                        {{{"index", 0},
                          {"id", "call_a"},
                          {"function", {{"name", "a"}, {"arguments", "{\"x\""}}}}}}}));
  feed(decoder, chunk({{"tool_calls", {{{"index", 0}, {"function", {{"arguments", ":1}"}}}}}}}));
  feed(decoder,
       chunk({{"tool_calls", {{{"index", 1}, {"function", {{"arguments", "not json"}}}}}}}));
  feed(decoder, chunk(json::object(), "tool_calls"));
  feed(decoder,
       {{"choices", json::array()}, {"usage", {{"prompt_tokens", 11}, {"completion_tokens", 7}}}});
  EXPECT_FALSE(feed(decoder, json("[DONE]")));
  EXPECT_FALSE(decoder.on_end());
  Response response = decoder.take_response();
  EXPECT_EQ(streamed, "Let me check.");
  ASSERT_EQ(response.content.size(), 3u);
  EXPECT_EQ(response.content[0], json({{"type", "text"}, {"text", "Let me check."}}));
  EXPECT_EQ(response.content[1],
            json({{"type", "tool_use"}, {"id", "call_a"}, {"name", "a"}, {"input", {{"x", 1}}}}));
  EXPECT_EQ(response.content[2]["input"], json({{"_invalid_arguments", "not json"}}));
  EXPECT_EQ(response.stop_reason, "tool_use");
  EXPECT_EQ(response.usage, json({{"input_tokens", 11}, {"output_tokens", 7}}));
}

TEST(OpenAiDecoder, StopReasonsAndGeneratedIds) {
  StreamHandler handler;
  for (auto [finish, expected] : {std::pair{"stop", "end_turn"}, std::pair{"length", "max_tokens"},
                                  std::pair{"content_filter", "refusal"}}) {
    OpenAiDecoder decoder(handler);
    feed(decoder, chunk({{"content", "x"}}, finish));
    EXPECT_FALSE(decoder.on_end());  // a finish_reason without [DONE] is accepted
    EXPECT_EQ(decoder.take_response().stop_reason, expected);
  }
  OpenAiDecoder decoder(handler);
  // Some local servers send no id and say "stop" even after a tool call.
  feed(decoder,
       chunk({{"tool_calls", {{{"function", {{"name", "ls"}, {"arguments", "{}"}}}}}}}, "stop"));
  Response response = decoder.take_response();
  ASSERT_EQ(response.content.size(), 1u);
  EXPECT_TRUE(response.content[0]["id"].get<std::string>().starts_with("call_"));
  EXPECT_EQ(response.stop_reason, "tool_use");
}

TEST(OpenAiDecoder, TruncatedAndErrorStreams) {
  StreamHandler handler;
  OpenAiDecoder truncated(handler);
  feed(truncated, chunk({{"content", "half"}}));
  auto error = truncated.on_end();
  ASSERT_TRUE(error);
  EXPECT_TRUE(error->retryable);

  OpenAiDecoder failed(handler);
  error = feed(failed, {{"error", {{"message", "model crashed"}, {"type", "server_error"}}}});
  ASSERT_TRUE(error);
  EXPECT_EQ(error->message, "stream error: model crashed");

  OpenAiDecoder garbage(handler);
  error = feed(garbage, json("<html>"));
  ASSERT_TRUE(error);
  EXPECT_TRUE(error->retryable);
}

}  // namespace
}  // namespace meanwhile::llm
