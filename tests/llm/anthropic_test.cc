// The Anthropic provider against the real fake_model_server over HTTP on 127.0.0.1.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <atomic>
#include <thread>

#include "llm_test_util.h"
#include "meanwhile/llm.h"

namespace meanwhile::llm::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

std::unique_ptr<Provider> anthropic(const FakeServerProcess& server, int max_tries = 5,
                                    const std::string& key = "test-key") {
  ProviderConfig config = network_config("anthropic", server, key);
  config.max_tries = max_tries;
  auto provider = make_provider(config);
  EXPECT_TRUE(provider.ok()) << provider.error();
  return provider.ok() ? std::move(*provider) : nullptr;
}

TEST(AnthropicProvider, StreamsTextDeltasInOrder) {
  auto server = FakeServerProcess::start(
      R"({"content":[{"type":"text","text":"Hello there, this is a streamed reply ✓"}]})");
  ASSERT_TRUE(server);
  auto provider = anthropic(*server);
  ASSERT_TRUE(provider);
  EXPECT_EQ(provider->name(), "anthropic");
  Recorder recorder;
  Request request = user_says("hi");
  request.system = "You are terse.";
  request.tools = json::array({{{"name", "bash"},
                                {"description", "run a command"},
                                {"input_schema", {{"type", "object"}}}}});
  auto response = provider->send(request, recorder.handler(), nullptr);
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_GE(recorder.deltas.size(), 2u);
  EXPECT_EQ(recorder.text(), "Hello there, this is a streamed reply ✓");
  ASSERT_EQ(response->content.size(), 1u);
  EXPECT_EQ(response->content[0], json({{"type", "text"}, {"text", recorder.text()}}));
  EXPECT_EQ(response->stop_reason, "end_turn");
  EXPECT_GT(response->usage.value("input_tokens", 0), 0);
  EXPECT_GT(response->usage.value("output_tokens", 0), 0);
  EXPECT_TRUE(recorder.retries.empty());

  auto requests = server->requests();
  ASSERT_EQ(requests.size(), 1u);
  const json& sent = requests[0]["request"];
  EXPECT_EQ(requests[0]["path"], "/v1/messages");
  EXPECT_EQ(sent["model"], "fake-model");
  EXPECT_EQ(sent["max_tokens"], 256);
  EXPECT_EQ(sent["system"], "You are terse.");
  EXPECT_EQ(sent["stream"], true);
  EXPECT_EQ(sent["tools"], request.tools);
  EXPECT_EQ(sent["messages"], request.messages);
  EXPECT_EQ(requests[0]["headers"]["anthropic-version"], "2023-06-01");
  EXPECT_EQ(requests[0]["headers"]["x-api-key"], json({{"present", true}}));
}

TEST(AnthropicProvider, AssemblesToolUseFromSplitJson) {
  json input = {{"command", "pytest -x \"tests/\" && echo 'done' ✓"},
                {"timeout", 120},
                {"nested", {{"list", {1, 2, 3}}, {"flag", true}}}};
  json line = {{"content",
                {{{"type", "text"}, {"text", "Running the tests."}},
                 {{"type", "tool_use"}, {"id", "toolu_01A"}, {"name", "bash"}, {"input", input}},
                 {{"type", "tool_use"},
                  {"id", "toolu_01B"},
                  {"name", "check"},
                  {"input", json::object()}}}}};
  auto server = FakeServerProcess::start(line.dump());
  ASSERT_TRUE(server);
  auto provider = anthropic(*server);
  Recorder recorder;
  auto response = provider->send(user_says("run tests"), recorder.handler(), nullptr);
  ASSERT_TRUE(response.ok()) << response.error();
  ASSERT_EQ(response->content.size(), 3u);
  EXPECT_EQ(response->content[1],
            json({{"type", "tool_use"}, {"id", "toolu_01A"}, {"name", "bash"}, {"input", input}}));
  EXPECT_EQ(response->content[2]["input"], json::object());
  EXPECT_EQ(response->stop_reason, "tool_use");
  EXPECT_EQ(recorder.text(), "Running the tests.");
}

TEST(AnthropicProvider, AcceptsBaseUrlWithOrWithoutV1) {
  auto server = FakeServerProcess::start(
      "[{\"type\":\"text\",\"text\":\"one\"}]\n"
      "[{\"type\":\"text\",\"text\":\"two\"}]\n");
  ASSERT_TRUE(server);
  for (std::string suffix : {"/v1/", ""}) {
    ProviderConfig config = network_config("anthropic", *server);
    config.base_url = server->base_url() + suffix;
    auto provider = make_provider(config);
    ASSERT_TRUE(provider.ok());
    auto response = (*provider)->send(user_says("hi"), {}, nullptr);
    EXPECT_TRUE(response.ok()) << suffix << ": " << response.error();
  }
  EXPECT_EQ(server->requests().size(), 2u);
}

TEST(AnthropicProvider, KeepsTheConnectionAlive) {
  auto server = FakeServerProcess::start(
      "[{\"type\":\"text\",\"text\":\"one\"}]\n"
      "[{\"type\":\"text\",\"text\":\"two\"}]\n");
  ASSERT_TRUE(server);
  auto provider = anthropic(*server);
  ASSERT_TRUE(provider->send(user_says("a"), {}, nullptr).ok());
  ASSERT_TRUE(provider->send(user_says("b"), {}, nullptr).ok());
  auto requests = server->requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0]["connection"], requests[1]["connection"]);
}

TEST(AnthropicProvider, HonoursRetryAfterOn429ThenSucceeds) {
  auto server = FakeServerProcess::start(
      "{\"status\":429,\"retry_after\":1}\n"
      "{\"content\":[{\"type\":\"text\",\"text\":\"after the wait\"}]}\n");
  ASSERT_TRUE(server);
  auto provider = anthropic(*server);
  Recorder recorder;
  auto start = std::chrono::steady_clock::now();
  auto response = provider->send(user_says("hi"), recorder.handler(), nullptr);
  double elapsed = seconds_since(start);
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(recorder.text(), "after the wait");
  EXPECT_GE(elapsed, 0.9);
  ASSERT_EQ(recorder.retries.size(), 1u);
  EXPECT_EQ(recorder.retries[0].attempt, 1);
  EXPECT_EQ(recorder.retries[0].wait, milliseconds(1000));
  EXPECT_NE(recorder.retries[0].reason.find("429"), std::string::npos)
      << recorder.retries[0].reason;
  auto requests = server->requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_GE(requests[1]["t_ms"].get<double>() - requests[0]["t_ms"].get<double>(), 900.0);
}

TEST(AnthropicProvider, RetriesOverloaded529) {
  auto server = FakeServerProcess::start(
      "{\"status\":529}\n{\"content\":[{\"type\":\"text\",\"text\":\"ok\"}]}\n");
  ASSERT_TRUE(server);
  Recorder recorder;
  auto response = anthropic(*server)->send(user_says("hi"), recorder.handler(), nullptr);
  ASSERT_TRUE(response.ok()) << response.error();
  ASSERT_EQ(recorder.retries.size(), 1u);
  EXPECT_EQ(recorder.retries[0].reason, "529 Overloaded");
  EXPECT_EQ(server->requests().size(), 2u);
}

TEST(AnthropicProvider, RetriesOverloadedErrorEventInsideTheStream) {
  auto server = FakeServerProcess::start(
      "{\"stream_error\":\"overloaded_error\",\"error_message\":\"Overloaded\"}\n"
      "{\"content\":[{\"type\":\"text\",\"text\":\"ok\"}]}\n");
  ASSERT_TRUE(server);
  Recorder recorder;
  auto response = anthropic(*server)->send(user_says("hi"), recorder.handler(), nullptr);
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(recorder.text(), "ok");
  ASSERT_EQ(recorder.retries.size(), 1u);
  EXPECT_EQ(recorder.retries[0].reason, "529 Overloaded");
}

TEST(AnthropicProvider, RestartsTheTurnAfterTheConnectionDropsMidStream) {
  auto server = FakeServerProcess::start(
      "{\"content\":[{\"type\":\"text\",\"text\":\"partial reply that gets cut\"}],"
      "\"disconnect_after_events\":4}\n"
      "{\"content\":[{\"type\":\"text\",\"text\":\"the full reply\"}]}\n");
  ASSERT_TRUE(server);
  Recorder recorder;
  auto response = anthropic(*server)->send(user_says("hi"), recorder.handler(), nullptr);
  ASSERT_TRUE(response.ok()) << response.error();
  ASSERT_EQ(recorder.retries.size(), 1u);
  // The first try streamed some text before the cut; the retry streams the turn again.
  EXPECT_TRUE(recorder.text().starts_with("partial")) << recorder.text();
  EXPECT_TRUE(recorder.text().ends_with("the full reply")) << recorder.text();
  EXPECT_EQ(response->content[0]["text"], "the full reply");
  EXPECT_EQ(server->requests().size(), 2u);
}

TEST(AnthropicProvider, RetriesMalformedEventStream) {
  auto server = FakeServerProcess::start(
      "{\"malformed_sse\":true}\n{\"content\":[{\"type\":\"text\",\"text\":\"ok\"}]}\n");
  ASSERT_TRUE(server);
  Recorder recorder;
  auto response = anthropic(*server)->send(user_says("hi"), recorder.handler(), nullptr);
  ASSERT_TRUE(response.ok()) << response.error();
  ASSERT_EQ(recorder.retries.size(), 1u);
  EXPECT_NE(recorder.retries[0].reason.find("malformed event stream"), std::string::npos)
      << recorder.retries[0].reason;
}

TEST(AnthropicProvider, Unauthorized401IsNotRetried) {
  auto server = FakeServerProcess::start(
      "{\"status\":401,\"error_message\":\"invalid x-api-key\"}\n"
      "{\"content\":[{\"type\":\"text\",\"text\":\"never\"}]}\n");
  ASSERT_TRUE(server);
  Recorder recorder;
  auto response = anthropic(*server)->send(user_says("hi"), recorder.handler(), nullptr);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error(),
            "401 invalid x-api-key: the API key was refused; check ANTHROPIC_API_KEY (in the "
            "environment or .env)");
  EXPECT_EQ(response.error_info().code, ErrorCode::permission_denied);
  EXPECT_TRUE(recorder.retries.empty());
  EXPECT_EQ(server->requests().size(), 1u);
}

TEST(AnthropicProvider, InvalidRequestReturnsTheApiMessage) {
  auto server = FakeServerProcess::start("[{\"type\":\"text\",\"text\":\"unused\"}]");
  ASSERT_TRUE(server);
  Request request = user_says("hi");
  request.messages.push_back({{"role", "assistant"}, {"content", json::array()}});
  request.messages.push_back({{"role", "user"}, {"content", "more"}});
  auto response = anthropic(*server)->send(request, {}, nullptr);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error(), "400 messages.1: all messages must have non-empty content");
  EXPECT_EQ(server->requests().size(), 1u);
}

TEST(AnthropicProvider, GivesUpAfterMaxTries) {
  std::string script;
  for (int i = 0; i < 5; ++i) script += "{\"status\":500}\n";
  script += "{\"content\":[{\"type\":\"text\",\"text\":\"too late\"}]}\n";
  auto server = FakeServerProcess::start(script);
  ASSERT_TRUE(server);
  Recorder recorder;
  auto response = anthropic(*server)->send(user_says("hi"), recorder.handler(), nullptr);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error(), "500 Internal server error (after 5 tries)");
  EXPECT_EQ(recorder.retries.size(), 4u);
  EXPECT_EQ(server->requests().size(), 5u);
}

TEST(AnthropicProvider, ConnectionRefusedIsRetriedThenReported) {
  auto server = FakeServerProcess::start("[{\"type\":\"text\",\"text\":\"x\"}]");
  ASSERT_TRUE(server);
  ProviderConfig config = network_config("anthropic", *server);
  ASSERT_NE(server->terminate(), -1);  // nothing listens on that port any more
  config.max_tries = 2;
  auto provider = make_provider(config);
  ASSERT_TRUE(provider.ok());
  auto response = (*provider)->send(user_says("hi"), {}, nullptr);
  ASSERT_FALSE(response.ok());
  EXPECT_TRUE(response.error().starts_with("connection error: ")) << response.error();
  EXPECT_TRUE(response.error().ends_with("(after 2 tries)")) << response.error();
}

TEST(AnthropicProvider, TheKeyNeverAppearsInErrors) {
  const std::string key = "sk-ant-api03-SECRET-do-not-leak-0123456789";
  auto server =
      FakeServerProcess::start("{\"status\":429,\"error_message\":\"rate limited for key " + key +
                               "\"}\n"
                               "{\"status\":401,\"error_message\":\"invalid x-api-key: " +
                               key + "\"}\n");
  ASSERT_TRUE(server);
  Recorder recorder;
  auto response = anthropic(*server, 5, key)->send(user_says("hi"), recorder.handler(), nullptr);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().find(key), std::string::npos) << response.error();
  EXPECT_NE(response.error().find("<redacted>"), std::string::npos) << response.error();
  ASSERT_EQ(recorder.retries.size(), 1u);
  EXPECT_EQ(recorder.retries[0].reason.find(key), std::string::npos) << recorder.retries[0].reason;
  // And the key went only where it belongs: the server saw a key header, and its log (which
  // records headers as {"present":true}) holds no copy.
  auto requests = server->requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0]["headers"]["x-api-key"], json({{"present", true}}));
  for (const json& request : requests) EXPECT_EQ(request.dump().find(key), std::string::npos);
}

TEST(AnthropicProvider, CancelAbortsAWaitingRequestPromptly) {
  auto server = FakeServerProcess::start(
      "{\"delay_ms\":10000,\"content\":[{\"type\":\"text\",\"text\":\"too slow\"}]}");
  ASSERT_TRUE(server);
  auto provider = anthropic(*server);
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(100));
    cancel = true;
  });
  auto start = std::chrono::steady_clock::now();
  auto response = provider->send(user_says("hi"), {}, &cancel);
  double elapsed = seconds_since(start);
  canceller.join();
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error(), "interrupted");
  EXPECT_LT(elapsed, 1.0);
}

TEST(AnthropicProvider, CancelAbortsAStreamInProgress) {
  auto server = FakeServerProcess::start(
      "{\"chunk_delay_ms\":2000,\"content\":[{\"type\":\"text\",\"text\":\"slow stream\"}]}");
  ASSERT_TRUE(server);
  auto provider = anthropic(*server);
  std::atomic<bool> cancel{false};
  StreamHandler handler;
  auto start = std::chrono::steady_clock::now();
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(300));
    cancel = true;
  });
  auto response = provider->send(user_says("hi"), handler, &cancel);
  double elapsed = seconds_since(start);
  canceller.join();
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error(), "interrupted");
  EXPECT_LT(elapsed, 1.5);
}

TEST(AnthropicProvider, LoopbackBypassesAProxyFromTheEnvironment) {
  auto server = FakeServerProcess::start("[{\"type\":\"text\",\"text\":\"direct\"}]");
  ASSERT_TRUE(server);
  // A proxy nobody listens on: a request that used it would fail to connect.
  ::setenv("http_proxy", "http://127.0.0.1:9", 1);
  ::setenv("HTTPS_PROXY", "http://127.0.0.1:9", 1);
  ::unsetenv("no_proxy");
  ::unsetenv("NO_PROXY");
  auto response = anthropic(*server, 1)->send(user_says("hi"), {}, nullptr);
  ::unsetenv("http_proxy");
  ::unsetenv("HTTPS_PROXY");
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->content[0]["text"], "direct");
}

TEST(AnthropicProvider, NoModelIsAClearError) {
  auto server = FakeServerProcess::start("[{\"type\":\"text\",\"text\":\"x\"}]");
  ASSERT_TRUE(server);
  ProviderConfig config = network_config("anthropic", *server);
  config.model.clear();
  auto provider = make_provider(config);
  ASSERT_TRUE(provider.ok());
  auto response = (*provider)->send(user_says("hi"), {}, nullptr);
  ASSERT_FALSE(response.ok());
  EXPECT_NE(response.error().find("MODEL_ID"), std::string::npos);
  EXPECT_TRUE(server->requests().empty());
}

}  // namespace
}  // namespace meanwhile::llm::testing
