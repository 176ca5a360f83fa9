// The OpenAI-compatible provider: conversion at its edge, and streaming against the real
// fake_model_server (which validates the OpenAI message rules).
#include <gtest/gtest.h>

#include "llm/openai_convert.h"
#include "llm_test_util.h"

namespace meanwhile::llm::testing {
namespace {

using nlohmann::json;

std::unique_ptr<Provider> openai(const FakeServerProcess& server,
                                 const std::string& key = "test-key") {
  auto provider = make_provider(network_config("openai", server, key));
  EXPECT_TRUE(provider.ok()) << provider.error();
  return provider.ok() ? std::move(*provider) : nullptr;
}

// A conversation with one finished tool round trip, in the Anthropic format the agent keeps.
Request tool_round_trip() {
  Request request;
  request.system = "Be brief.";
  request.max_tokens = 100;
  request.messages = json::array(
      {{{"role", "user"}, {"content", "list the jobs"}},
       {{"role", "assistant"},
        {"content",
         {{{"type", "text"}, {"text", "Checking."}},
          {{"type", "tool_use"},
           {"id", "toolu_1"},
           {"name", "check_background"},
           {"input", {{"task_id", "j1"}}}},
          {{"type", "tool_use"},
           {"id", "toolu_2"},
           {"name", "bash"},
           {"input", {{"command", "ls"}}}}}}},
       {{"role", "user"},
        {"content",
         {{{"type", "tool_result"}, {"tool_use_id", "toolu_1"}, {"content", "j1 running"}},
          {{"type", "tool_result"},
           {"tool_use_id", "toolu_2"},
           {"content", {{{"type", "text"}, {"text", "no such file"}}}},
           {"is_error", true}},
          {{"type", "text"}, {"text", "<background-results>j2 done</background-results>"}}}}}});
  request.tools =
      json::array({{{"name", "bash"},
                    {"description", "Run a command"},
                    {"input_schema",
                     {{"type", "object"}, {"properties", {{"command", {{"type", "string"}}}}}}}}});
  return request;
}

TEST(OpenAiConvert, MapsMessagesAndTools) {
  Request request = tool_round_trip();
  json messages = to_openai_messages(request.system, request.messages);
  json expected = json::array(
      {{{"role", "system"}, {"content", "Be brief."}},
       {{"role", "user"}, {"content", "list the jobs"}},
       {{"role", "assistant"},
        {"content", "Checking."},
        {"tool_calls",
         {{{"id", "toolu_1"},
           {"type", "function"},
           {"function", {{"name", "check_background"}, {"arguments", "{\"task_id\":\"j1\"}"}}}},
          {{"id", "toolu_2"},
           {"type", "function"},
           {"function", {{"name", "bash"}, {"arguments", "{\"command\":\"ls\"}"}}}}}}},
       {{"role", "tool"}, {"tool_call_id", "toolu_1"}, {"content", "j1 running"}},
       {{"role", "tool"}, {"tool_call_id", "toolu_2"}, {"content", "Error: no such file"}},
       {{"role", "user"}, {"content", "<background-results>j2 done</background-results>"}}});
  EXPECT_EQ(messages, expected) << messages.dump(2);
  EXPECT_EQ(to_openai_tools(request.tools),
            json::array({{{"type", "function"},
                          {"function",
                           {{"name", "bash"},
                            {"description", "Run a command"},
                            {"parameters", request.tools[0]["input_schema"]}}}}}));
}

TEST(OpenAiConvert, ToolUseOnlyAssistantHasNullContentAndImagesBecomeParts) {
  json messages = json::array(
      {{{"role", "user"},
        {"content",
         {{{"type", "text"}, {"text", "what is this?"}},
          {{"type", "image"},
           {"source", {{"type", "base64"}, {"media_type", "image/png"}, {"data", "AAAA"}}}}}}},
       {{"role", "assistant"},
        {"content",
         {{{"type", "tool_use"}, {"id", "t"}, {"name", "n"}, {"input", json::object()}}}}}});
  json out = to_openai_messages("", messages);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]["content"][1],
            json({{"type", "image_url"}, {"image_url", {{"url", "data:image/png;base64,AAAA"}}}}));
  EXPECT_TRUE(out[1]["content"].is_null());
  EXPECT_EQ(out[1]["tool_calls"][0]["function"]["arguments"], "{}");
}

TEST(OpenAiProvider, StreamsTextAndAssemblesToolCalls) {
  json line = {{"content",
                {{{"type", "text"}, {"text", "I'll run both."}},
                 {{"type", "tool_use"},
                  {"id", "call_1"},
                  {"name", "bash"},
                  {"input", {{"command", "make -j2"}}}},
                 {{"type", "tool_use"},
                  {"id", "call_2"},
                  {"name", "read_file"},
                  {"input", {{"path", "a ✓.txt"}, {"limit", 10}}}}}}};
  auto server = FakeServerProcess::start(line.dump());
  ASSERT_TRUE(server);
  auto provider = openai(*server);
  ASSERT_TRUE(provider);
  EXPECT_EQ(provider->name(), "openai");
  Recorder recorder;
  auto response = provider->send(user_says("build"), recorder.handler(), nullptr);
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(recorder.text(), "I'll run both.");
  EXPECT_GE(recorder.deltas.size(), 2u);
  ASSERT_EQ(response->content.size(), 3u);
  EXPECT_EQ(response->content[1], line["content"][1]);
  EXPECT_EQ(response->content[2], line["content"][2]);
  EXPECT_EQ(response->stop_reason, "tool_use");
  EXPECT_GT(response->usage.value("input_tokens", 0), 0);

  auto requests = server->requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0]["path"], "/v1/chat/completions");
  EXPECT_EQ(requests[0]["request"]["stream"], true);
  EXPECT_EQ(requests[0]["request"]["max_tokens"], 256);
  EXPECT_EQ(requests[0]["headers"]["authorization"], json({{"present", true}}));
}

TEST(OpenAiProvider, SendsConvertedConversationTheServerAccepts) {
  auto server = FakeServerProcess::start("[{\"type\":\"text\",\"text\":\"done\"}]");
  ASSERT_TRUE(server);
  Request request = tool_round_trip();
  auto response = openai(*server)->send(request, {}, nullptr);
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->stop_reason, "end_turn");
  auto requests = server->requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0]["request"]["messages"],
            to_openai_messages(request.system, request.messages));
  EXPECT_EQ(requests[0]["request"]["tools"], to_openai_tools(request.tools));
}

TEST(OpenAiProvider, MapsErrorsAndRetries) {
  auto server = FakeServerProcess::start(
      "{\"status\":429,\"retry_after\":0}\n"
      "{\"status\":401,\"error_message\":\"Incorrect API key provided\"}\n");
  ASSERT_TRUE(server);
  Recorder recorder;
  auto response = openai(*server)->send(user_says("hi"), recorder.handler(), nullptr);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error(),
            "401 Incorrect API key provided (after 2 tries): the API key was refused; check "
            "OPENAI_API_KEY (in the environment or .env)");
  EXPECT_EQ(response.error_info().code, ErrorCode::permission_denied);
  ASSERT_EQ(recorder.retries.size(), 1u);
  EXPECT_EQ(recorder.retries[0].reason, "429 rate limited (fake_model_server)");
  EXPECT_EQ(server->requests().size(), 2u);
}

TEST(OpenAiProvider, RetriesADroppedStream) {
  auto server = FakeServerProcess::start(
      "{\"content\":[{\"type\":\"text\",\"text\":\"cut short "
      "here\"}],\"disconnect_after_events\":2}\n"
      "{\"content\":[{\"type\":\"text\",\"text\":\"whole\"}]}\n");
  ASSERT_TRUE(server);
  Recorder recorder;
  auto response = openai(*server)->send(user_says("hi"), recorder.handler(), nullptr);
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->content[0]["text"], "whole");
  EXPECT_EQ(recorder.retries.size(), 1u);
}

TEST(OpenAiProvider, LocalServerNeedsNoKey) {
  auto server = FakeServerProcess::start("[{\"type\":\"text\",\"text\":\"local\"}]", {"--no-auth"});
  ASSERT_TRUE(server);
  auto response = openai(*server, "")->send(user_says("hi"), {}, nullptr);
  ASSERT_TRUE(response.ok()) << response.error();
  auto requests = server->requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_FALSE(requests[0]["headers"].contains("authorization"));
}

TEST(OpenAiProvider, MissingKeyAgainstAServerThatWantsOne) {
  auto server = FakeServerProcess::start("[{\"type\":\"text\",\"text\":\"x\"}]");
  ASSERT_TRUE(server);
  auto response = openai(*server, "")->send(user_says("hi"), {}, nullptr);
  ASSERT_FALSE(response.ok());
  EXPECT_TRUE(response.error().starts_with("401 ")) << response.error();
}

}  // namespace
}  // namespace meanwhile::llm::testing
