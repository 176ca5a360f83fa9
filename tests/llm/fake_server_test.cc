// fake_model_server itself: its validation (each rule the real API enforces), its HTTP handling,
// its log and its command line. Raw requests through libcurl, so nothing of src/llm is trusted.
#include <curl/curl.h>
#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "fake_server_process.h"

namespace meanwhile::llm::testing {
namespace {

using nlohmann::json;

struct RawResponse {
  long status = 0;
  std::string body;
  std::string message;  // error.message of an error body
};

size_t collect(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

const std::vector<std::string> kAnthropicHeaders = {"x-api-key: k", "anthropic-version: 2023-06-01",
                                                    "content-type: application/json"};

RawResponse raw_request(const std::string& url, const std::string& body,
                        const std::vector<std::string>& headers = kAnthropicHeaders,
                        const char* method = "POST", bool expect_answer = true) {
  RawResponse response;
  CURL* curl = curl_easy_init();
  curl_slist* list = nullptr;
  for (const std::string& header : headers) list = curl_slist_append(list, header.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
  if (std::string(method) == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");  // 127.0.0.1 only, whatever the environment says
  CURLcode code = curl_easy_perform(curl);
  if (expect_answer) {
    EXPECT_EQ(code, CURLE_OK) << curl_easy_strerror(code);
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  json parsed = json::parse(response.body, nullptr, false);
  if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_object()) {
    response.message = parsed["error"].value("message", "");
  }
  return response;
}

json user(json content) {
  return {{"role", "user"}, {"content", std::move(content)}};
}
json assistant(json content) {
  return {{"role", "assistant"}, {"content", std::move(content)}};
}
json text(const std::string& t) {
  return {{"type", "text"}, {"text", t}};
}
json tool_use(const std::string& id) {
  return {{"type", "tool_use"}, {"id", id}, {"name", "bash"}, {"input", {{"command", "ls"}}}};
}
json tool_result(const std::string& id) {
  return {{"type", "tool_result"}, {"tool_use_id", id}, {"content", "ok"}};
}
json anthropic_body(json messages) {
  return {{"model", "m"}, {"max_tokens", 64}, {"messages", std::move(messages)}};
}

class FakeServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = FakeServerProcess::start(
        "[{\"type\":\"text\",\"text\":\"first\"}]\n"
        "[{\"type\":\"text\",\"text\":\"second\"}]\n");
    ASSERT_TRUE(server_);
  }
  std::string messages_url() const { return server_->base_url() + "/v1/messages"; }
  std::string chat_url() const { return server_->base_url() + "/v1/chat/completions"; }
  std::unique_ptr<FakeServerProcess> server_;
};

TEST_F(FakeServerTest, RejectsWhatTheAnthropicApiRejects) {
  struct Case {
    const char* name;
    json body;
    std::string expected;
  };
  json pair = json::array({user("run it"), assistant({tool_use("toolu_1")})});
  std::vector<Case> cases = {
      {"no messages", anthropic_body(json::array()), "messages: at least one message is required"},
      {"empty string content", anthropic_body({user("")}),
       "messages.0: all messages must have non-empty content"},
      {"empty array content", anthropic_body({user(json::array())}),
       "messages.0: all messages must have non-empty content"},
      {"empty text block", anthropic_body({user({text("")})}),
       "messages.0.content.0: text content blocks must be non-empty"},
      {"starts with assistant", anthropic_body({assistant("hi")}),
       "the first message must use the \"user\" role"},
      {"same role twice", anthropic_body({user("a"), user("b")}),
       "messages.1: roles must alternate"},
      {"tool_use without tool_result",
       anthropic_body({user("run it"), assistant({tool_use("toolu_1")}), user("what happened?")}),
       "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: "
       "toolu_1"},
      {"tool_use answered by a different id",
       anthropic_body(
           {user("run it"), assistant({tool_use("toolu_1")}), user({tool_result("toolu_9")})}),
       "`tool_use` ids were found without `tool_result` blocks immediately after: toolu_1"},
      {"tool_use as the last message", anthropic_body(pair),
       "messages.1: `tool_use` ids were found"},
      {"tool_result not first",
       anthropic_body({user("run it"), assistant({tool_use("toolu_1")}),
                       user({text("note"), tool_result("toolu_1")})}),
       "messages.2.content.1: `tool_result` blocks must come first"},
      {"tool_result without tool_use",
       anthropic_body({user("a"), assistant("b"), user({tool_result("toolu_7")})}),
       "messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_7"},
      {"duplicate tool_use ids",
       anthropic_body(
           {user("a"), assistant({tool_use("t1"), tool_use("t1")}), user({tool_result("t1")})}),
       "`tool_use` ids must be unique"},
      {"missing model", {{"max_tokens", 5}, {"messages", {user("hi")}}}, "model: Field required"},
      {"missing max_tokens",
       {{"model", "m"}, {"messages", {user("hi")}}},
       "max_tokens: Field required"},
      {"bad role", anthropic_body({{{"role", "system"}, {"content", "x"}}}), "messages.0.role"},
      {"tool without schema",
       [] {
         json b = anthropic_body({user("hi")});
         b["tools"] = {{{"name", "bash"}}};
         return b;
       }(),
       "tools.0.input_schema: Field required"},
  };
  for (const Case& c : cases) {
    RawResponse response = raw_request(messages_url(), c.body.dump());
    EXPECT_EQ(response.status, 400) << c.name;
    EXPECT_NE(response.message.find(c.expected), std::string::npos)
        << c.name << ": got \"" << response.message << "\"";
    json parsed = json::parse(response.body, nullptr, false);
    EXPECT_EQ(parsed.value("type", ""), "error") << c.name;
    EXPECT_EQ(parsed["error"].value("type", ""), "invalid_request_error") << c.name;
  }
  // None of them used up a script entry: a valid request still gets the first one.
  json good = anthropic_body({user("run it"), assistant({text("ok"), tool_use("toolu_1")}),
                              user({tool_result("toolu_1"), text("<background-results/>")})});
  RawResponse response = raw_request(messages_url(), good.dump());
  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_NE(response.body.find("\"first\""), std::string::npos) << response.body;
  EXPECT_EQ(server_->requests().back()["entry"], 1);
}

TEST_F(FakeServerTest, RejectsInvalidUtf8AndInvalidJson) {
  std::string bad_utf8 = R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"caf)"
                         "\xC3\x28"
                         R"("}]})";
  RawResponse response = raw_request(messages_url(), bad_utf8);
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.message, "The request body is not valid UTF-8");
  response = raw_request(messages_url(), "{\"model\": ");
  EXPECT_EQ(response.status, 400);
  EXPECT_TRUE(response.message.starts_with("The request body is not valid JSON"))
      << response.message;
  response = raw_request(messages_url(), "[1,2]");
  EXPECT_EQ(response.status, 400);
  // The log still records the request, with the body as text.
  auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0]["status"], 400);
  EXPECT_TRUE(requests[0]["request"].is_string());
}

TEST_F(FakeServerTest, RequiresKeyAndVersionHeaders) {
  std::string body = anthropic_body({user("hi")}).dump();
  RawResponse response = raw_request(messages_url(), body, {"anthropic-version: 2023-06-01"});
  EXPECT_EQ(response.status, 401);
  EXPECT_EQ(response.message, "x-api-key header is required");
  response = raw_request(messages_url(), body, {"x-api-key: k"});
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.message, "anthropic-version: header is required");
  response =
      raw_request(chat_url(), R"({"model":"m","messages":[{"role":"user","content":"x"}]})", {});
  EXPECT_EQ(response.status, 401);
}

TEST_F(FakeServerTest, RejectsWhatTheOpenAiApiRejects) {
  auto call = [](const std::string& id) {
    return json{
        {"id", id}, {"type", "function"}, {"function", {{"name", "bash"}, {"arguments", "{}"}}}};
  };
  struct Case {
    const char* name;
    json messages;
    std::string expected;
  };
  std::vector<Case> cases = {
      {"empty", json::array(), "messages: must be a non-empty array"},
      {"empty user content",
       {{{"role", "user"}, {"content", ""}}},
       "messages[0].content: must not be empty"},
      {"tool without call",
       {{{"role", "user"}, {"content", "x"}},
        {{"role", "tool"}, {"tool_call_id", "c1"}, {"content", "r"}}},
       "messages with role 'tool' must be a response to a preceding message with 'tool_calls'"},
      {"call without tool message",
       {{{"role", "user"}, {"content", "x"}},
        {{"role", "assistant"}, {"content", nullptr}, {"tool_calls", {call("c1"), call("c2")}}},
        {{"role", "tool"}, {"tool_call_id", "c1"}, {"content", "r"}},
        {{"role", "user"}, {"content", "next"}}},
       "did not have response messages: c2"},
      {"assistant with nothing",
       {{{"role", "user"}, {"content", "x"}}, {{"role", "assistant"}, {"content", nullptr}}},
       "needs content or tool_calls"},
      {"arguments not JSON",
       {{{"role", "user"}, {"content", "x"}},
        {{"role", "assistant"},
         {"tool_calls",
          {{{"id", "c"},
            {"type", "function"},
            {"function", {{"name", "f"}, {"arguments", "{oops"}}}}}}}},
       "arguments: is not valid JSON"},
  };
  std::vector<std::string> headers = {"authorization: Bearer k", "content-type: application/json"};
  for (const Case& c : cases) {
    json body = {{"model", "m"}, {"messages", c.messages}};
    RawResponse response = raw_request(chat_url(), body.dump(), headers);
    EXPECT_EQ(response.status, 400) << c.name;
    EXPECT_NE(response.message.find(c.expected), std::string::npos)
        << c.name << ": got \"" << response.message << "\"";
  }
  json good = {{"model", "m"},
               {"messages",
                {{{"role", "system"}, {"content", "s"}},
                 {{"role", "user"}, {"content", "x"}},
                 {{"role", "assistant"}, {"content", "calling"}, {"tool_calls", {call("c1")}}},
                 {{"role", "tool"}, {"tool_call_id", "c1"}, {"content", "r"}},
                 {{"role", "user"}, {"content", "and?"}}}}};
  RawResponse response =
      raw_request(server_->base_url() + "/chat/completions", good.dump(), headers);
  EXPECT_EQ(response.status, 200) << response.body;
  json completion = json::parse(response.body, nullptr, false);
  EXPECT_EQ(completion["choices"][0]["message"]["content"], "first");
}

TEST_F(FakeServerTest, AcceptsChunkedRequestBodiesAndAnswersWithoutStreaming) {
  std::vector<std::string> headers = kAnthropicHeaders;
  headers.push_back("Transfer-Encoding: chunked");
  RawResponse response = raw_request(messages_url(), anthropic_body({user("hi")}).dump(), headers);
  ASSERT_EQ(response.status, 200) << response.body;
  json message = json::parse(response.body, nullptr, false);
  EXPECT_EQ(message["type"], "message");
  EXPECT_EQ(message["content"], json::array({text("first")}));
  EXPECT_EQ(server_->requests().back()["headers"]["transfer-encoding"], "chunked");
}

TEST_F(FakeServerTest, UnknownRoutesAndMethods) {
  EXPECT_EQ(raw_request(server_->base_url() + "/v2/other", "{}").status, 404);
  EXPECT_EQ(raw_request(messages_url(), "", kAnthropicHeaders, "GET").status, 405);
}

TEST_F(FakeServerTest, AnswersPastTheEndOfTheScriptWith500) {
  std::string body = anthropic_body({user("hi")}).dump();
  EXPECT_EQ(raw_request(messages_url(), body).status, 200);
  EXPECT_EQ(raw_request(messages_url(), body).status, 200);
  RawResponse response = raw_request(messages_url(), body);
  EXPECT_EQ(response.status, 500);
  EXPECT_NE(response.message.find("script exhausted"), std::string::npos) << response.message;
}

TEST_F(FakeServerTest, LogsArrivalTimeAndHidesTheKey) {
  double before =
      std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  std::vector<std::string> headers = {"x-api-key: sk-very-secret", "anthropic-version: 2023-06-01",
                                      "content-type: application/json"};
  RawResponse response = raw_request(messages_url(), anthropic_body({user("hi")}).dump(), headers);
  double after =
      std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  EXPECT_EQ(response.status, 200);
  auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 1u);
  double t = requests[0]["t_ms"].get<double>();
  EXPECT_GE(t, before - 1);
  EXPECT_LE(t, after + 1);
  EXPECT_EQ(requests[0]["path"], "/v1/messages");
  EXPECT_EQ(requests[0]["status"], 200);
  EXPECT_EQ(requests[0]["entry"], 1);
  EXPECT_EQ(requests[0]["headers"]["x-api-key"], json({{"present", true}}));
  std::ifstream log(server_->log_path());
  std::string all((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_EQ(all.find("sk-very-secret"), std::string::npos);
}

TEST(FakeServerCli, StopsPromptlyOnSigtermEvenWithARequestInFlight) {
  auto server = FakeServerProcess::start("{\"delay_ms\":60000,\"content\":\"slow\"}");
  ASSERT_TRUE(server);
  std::thread client([&] {
    raw_request(server->base_url() + "/v1/messages", anthropic_body({user("hi")}).dump(),
                kAnthropicHeaders, "POST", /*expect_answer=*/false);
  });
  for (int i = 0; i < 2000 && server->requests().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto start = std::chrono::steady_clock::now();
  int status = server->terminate(5000);
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  client.join();
  ASSERT_EQ(server->requests().size(), 1u) << "the request should have been logged on arrival";
  ASSERT_NE(status, -1) << "did not exit within 5 s";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_LT(elapsed, 5.0);
}

TEST(FakeServerCli, WritesThePortFile) {
  meanwhile::test::TempDir dir("llm-portfile");
  std::string port_file = dir.file("port");
  auto server =
      FakeServerProcess::start("[{\"type\":\"text\",\"text\":\"x\"}]", {"--port-file", port_file});
  ASSERT_TRUE(server);
  std::ifstream in(port_file);
  int port = 0;
  in >> port;
  EXPECT_EQ(port, server->port());
}

TEST(FakeServerCli, RejectsBadScriptsAndArguments) {
  meanwhile::test::TempDir temp("llm-cli");
  const std::string& dir = temp.path();
  struct Case {
    std::string script;
    std::string expected;
  };
  for (const Case& c : std::vector<Case>{
           {"[{\"type\":\"text\",\"text\":\"ok\"}]\n{\"content\":[}\n", "line 2"},
           {"{\"status\":429,\"retry-after\":1}\n", "line 1: unknown field \"retry-after\""},
           {"{\"delay_ms\":-5,\"content\":\"x\"}\n", "\"delay_ms\" must be a non-negative integer"},
           {"{\"stop_reason\":\"end_turn\"}\n", "no \"content\""},
       }) {
    write_file(dir + "/s.jsonl", c.script);
    RunResult result = run_fake_server({"--script", dir + "/s.jsonl"});
    EXPECT_EQ(result.exit_code, 2) << c.script;
    EXPECT_NE(result.stderr_text.find(c.expected), std::string::npos) << result.stderr_text;
  }
  RunResult usage = run_fake_server({"--port", "x"});
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_NE(usage.stderr_text.find("usage: fake_model_server"), std::string::npos);
}

}  // namespace
}  // namespace meanwhile::llm::testing
