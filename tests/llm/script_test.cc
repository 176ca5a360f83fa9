// The script provider and make_provider()'s checks.
#include <gtest/gtest.h>

#include <atomic>

#include "fake_server_process.h"
#include "llm/script.h"
#include "llm_test_util.h"

namespace meanwhile::llm::testing {
namespace {

using nlohmann::json;

class ScriptTest : public ::testing::Test {
 protected:
  Result<std::unique_ptr<Provider>> load(const std::string& text) {
    std::string path = dir_.file("script.jsonl");
    write_file(path, text);
    ProviderConfig config;
    config.kind = "script";
    config.script_path = path;
    return make_provider(config);
  }
  meanwhile::test::TempDir dir_{"llm-script"};
};

TEST_F(ScriptTest, ReplaysEachFormInOrder) {
  auto provider = load(
      "// the demo\n"
      "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Starting.\"},"
      "{\"type\":\"tool_use\",\"name\":\"background_run\",\"input\":{\"command\":\"sleep 1\"}}]}\n"
      "\n"
      "   \n"
      "{\"content\":[{\"type\":\"tool_use\",\"id\":\"mine\",\"name\":\"x\"}],\"stop_reason\":\"max_"
      "tokens\"}\r\n"
      "[{\"type\":\"text\",\"text\":\"Done.\"},{\"type\":\"tool_use\",\"name\":\"y\",\"input\":{}}]"
      "\n"
      "{\"content\":\"just text\"}\n");
  ASSERT_TRUE(provider.ok()) << provider.error();
  EXPECT_EQ((*provider)->name(), "script");
  Recorder recorder;
  std::vector<Response> turns;
  for (int i = 0; i < 4; ++i) {
    auto turn = (*provider)->send(user_says("go"), recorder.handler(), nullptr);
    ASSERT_TRUE(turn.ok()) << turn.error();
    turns.push_back(*turn);
  }
  EXPECT_EQ(turns[0].content[1], json({{"type", "tool_use"},
                                       {"name", "background_run"},
                                       {"input", {{"command", "sleep 1"}}},
                                       {"id", "toolu_script_1"}}));
  EXPECT_EQ(turns[0].stop_reason, "tool_use");
  EXPECT_EQ(turns[1].content[0]["id"], "mine");
  EXPECT_EQ(turns[1].content[0]["input"], json::object());
  EXPECT_EQ(turns[1].stop_reason, "max_tokens");
  EXPECT_EQ(turns[2].content[1]["id"], "toolu_script_2");
  EXPECT_EQ(turns[3].content, json::array({{{"type", "text"}, {"text", "just text"}}}));
  EXPECT_EQ(turns[3].stop_reason, "end_turn");
  EXPECT_EQ(recorder.text(), "Starting.Done.just text");
}

TEST_F(ScriptTest, SaysWhenExhausted) {
  auto provider =
      load("[{\"type\":\"text\",\"text\":\"a\"}]\n[{\"type\":\"text\",\"text\":\"b\"}]\n");
  ASSERT_TRUE(provider.ok());
  ASSERT_TRUE((*provider)->send(user_says("1"), {}, nullptr).ok());
  ASSERT_TRUE((*provider)->send(user_says("2"), {}, nullptr).ok());
  auto third = (*provider)->send(user_says("3"), {}, nullptr);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error(), "script exhausted after 2 turns");
}

TEST_F(ScriptTest, HonoursCancel) {
  auto provider = load("[{\"type\":\"text\",\"text\":\"a\"}]\n");
  ASSERT_TRUE(provider.ok());
  std::atomic<bool> cancel{true};
  auto turn = (*provider)->send(user_says("1"), {}, &cancel);
  ASSERT_FALSE(turn.ok());
  EXPECT_EQ(turn.error(), "interrupted");
}

TEST_F(ScriptTest, MalformedLinesAreNamedByNumber) {
  struct Case {
    std::string text;
    std::string expected;
  };
  for (const Case& c : std::vector<Case>{
           {"[{\"type\":\"text\",\"text\":\"ok\"}]\n\n{\"content\": [oops\n", "line 3"},
           {"{\"content\":[]}\n", "line 1: \"content\" is empty"},
           {"// c\n{\"content\":[{\"type\":\"text\",\"text\":\"\"}]}\n",
            "line 2: text block 0 has no text"},
           {"{\"content\":[{\"type\":\"tool_use\",\"input\":{}}]}\n", "has no \"name\""},
           {"{\"content\":[{\"type\":\"tool_use\",\"name\":\"x\",\"input\":[1]}]}\n",
            "\"input\" is not an object"},
           {"{\"role\":\"user\",\"content\":\"hi\"}\n", "\"role\" must be \"assistant\""},
           {"{\"stop_reason\":\"end_turn\"}\n", "no \"content\""},
           {"42\n", "expected an assistant message"},
       }) {
    auto provider = load(c.text);
    ASSERT_FALSE(provider.ok()) << c.text;
    EXPECT_NE(provider.error().find(c.expected), std::string::npos) << provider.error();
    EXPECT_NE(provider.error().find("script.jsonl"), std::string::npos) << provider.error();
  }
}

TEST_F(ScriptTest, MissingFile) {
  ProviderConfig config;
  config.kind = "script";
  config.script_path = dir_.file("nope.jsonl");
  auto provider = make_provider(config);
  ASSERT_FALSE(provider.ok());
  EXPECT_NE(provider.error().find("nope.jsonl"), std::string::npos);
  EXPECT_NE(provider.error().find("No such file"), std::string::npos) << provider.error();
}

// Issue 9 item 1: a script line of 100,000 nested arrays (200 KB) used to parse into a tree
// that the first copy (scripted_response) recursed through until the stack overflowed. It is
// refused while parsing, with the file, the line and the bound named.
TEST_F(ScriptTest, RefusesALineNestedTooDeep) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto provider = load("[{\"type\":\"text\",\"text\":\"ok\"}]\n" + deep + "\n");
  ASSERT_FALSE(provider.ok());
  EXPECT_NE(provider.error().find("script.jsonl line 2: JSON nested deeper than 64 levels"),
            std::string::npos)
      << provider.error();

  auto lines = parse_script_text("// deep\n" + deep, "inline.jsonl");
  ASSERT_FALSE(lines.ok());
  EXPECT_NE(lines.error().find("inline.jsonl line 2: JSON nested deeper than 64 levels"),
            std::string::npos)
      << lines.error();

  // At the bound a line still parses (and is then judged by the script format).
  auto at_limit = parse_script_text(std::string(64, '[') + std::string(64, ']'), "ok.jsonl");
  ASSERT_TRUE(at_limit.ok()) << at_limit.error();
  EXPECT_EQ(at_limit->size(), 1u);
}

TEST(ParseScriptText, SplitsLinesLikeTheFile) {
  auto lines = parse_script_text("// c\r\n\n  \t\n[1]\r\n  // indented comment\n{\"a\":2}", "t");
  ASSERT_TRUE(lines.ok()) << lines.error();
  ASSERT_EQ(lines->size(), 2u);
  EXPECT_EQ((*lines)[0].line_number, 4);
  EXPECT_EQ((*lines)[0].value, json::array({1}));
  EXPECT_EQ((*lines)[1].line_number, 6);
  EXPECT_EQ((*lines)[1].value, json({{"a", 2}}));
  auto bad = parse_script_text("[1]\n[2,\n", "t");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("t line 2: "), std::string::npos) << bad.error();
}

TEST(MakeProvider, ChecksTheConfiguration) {
  ProviderConfig config;
  config.kind = "gemini";
  auto provider = make_provider(config);
  ASSERT_FALSE(provider.ok());
  EXPECT_EQ(provider.error(), "unknown provider \"gemini\" (expected anthropic, openai or script)");

  config.kind = "anthropic";
  provider = make_provider(config);
  ASSERT_FALSE(provider.ok());
  EXPECT_TRUE(provider.error().starts_with("set ANTHROPIC_API_KEY")) << provider.error();

  config.kind = "script";
  provider = make_provider(config);
  ASSERT_FALSE(provider.ok());
  EXPECT_NE(provider.error().find("--script"), std::string::npos);

  config.kind = "openai";
  provider = make_provider(config);
  ASSERT_FALSE(provider.ok());
  EXPECT_NE(provider.error().find("OPENAI_API_KEY"), std::string::npos);
  config.base_url = "http://127.0.0.1:8080/v1";
  EXPECT_TRUE(make_provider(config).ok()) << "a local server needs no key";

  config.base_url = "localhost:8080";
  provider = make_provider(config);
  ASSERT_FALSE(provider.ok());
  EXPECT_NE(provider.error().find("http://"), std::string::npos);

  config.base_url.clear();
  config.kind = "anthropic";
  config.api_key = "k";
  config.max_tries = 0;
  EXPECT_FALSE(make_provider(config).ok());
  config.max_tries = 5;
  auto ok = make_provider(config);
  ASSERT_TRUE(ok.ok()) << ok.error();
  EXPECT_EQ((*ok)->name(), "anthropic");
}

}  // namespace
}  // namespace meanwhile::llm::testing
