// Conversation repair (for --continue), transcripts on disk, and configuration from .env and
// the environment.
#include <fstream>

#include <gtest/gtest.h>

#include "agent/config.h"
#include "agent/conversation.h"
#include "agent/transcript.h"
#include "loop_test_util.h"

namespace meanwhile::agent {
namespace {

using namespace testing;

json user(json content) {
  return {{"role", "user"}, {"content", std::move(content)}};
}
json assistant(json content) {
  return {{"role", "assistant"}, {"content", std::move(content)}};
}

TEST(LoopRepair, ATrailingToolUseIsAnsweredWithErrorResults) {
  json messages = {user("hi"),
                   assistant({text("on it"), tool_use("t1", "bash", {{"command", "ls"}})})};
  std::vector<std::string> warnings;
  json fixed = repair_conversation(messages, &warnings);
  ASSERT_EQ(fixed.size(), 3u);
  EXPECT_EQ(fixed[0]["content"][0]["text"], "hi");  // string content became a block
  const json& answer = fixed[2];
  EXPECT_EQ(answer["role"], "user");
  ASSERT_EQ(answer["content"].size(), 1u);
  EXPECT_EQ(answer["content"][0]["tool_use_id"], "t1");
  EXPECT_TRUE(answer["content"][0]["is_error"].get<bool>());
  EXPECT_FALSE(warnings.empty());
}

TEST(LoopRepair, ResultsAreMovedFirstMissingOnesAddedStrayOnesDropped) {
  json messages = {
      user({text("a")}),
      assistant({tool_use("t1", "x", json::object()), tool_use("t2", "x", json::object())}),
      user({text("note"), tool_result_block("t2", "ok", false),
            tool_result_block("zz", "stray", false)}),
      assistant({text("done")})};
  json fixed = repair_conversation(messages, nullptr);
  ASSERT_EQ(fixed.size(), 4u);
  const json& c = fixed[2]["content"];
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0]["tool_use_id"], "t2");
  EXPECT_EQ(c[1]["tool_use_id"], "t1");
  EXPECT_TRUE(c[1]["is_error"].get<bool>());
  EXPECT_EQ(c[2]["text"], "note");
}

TEST(LoopRepair, MalformedMessagesEmptyBlocksAndRoleRunsAreFixed) {
  json messages = {assistant({text("orphan")}),
                   42,
                   {{"role", "user"}},
                   user({text("one")}),
                   user({text(""), text("two")}),
                   assistant({text("reply")})};
  json fixed = repair_conversation(messages, nullptr);
  ASSERT_EQ(fixed.size(), 2u);
  EXPECT_EQ(fixed[0]["role"], "user");
  ASSERT_EQ(fixed[0]["content"].size(), 2u);
  EXPECT_EQ(fixed[0]["content"][1]["text"], "two");
}

TEST(LoopInjection, NotesGoInOneBlockAndUserTurnsMerge) {
  json messages = json::array();
  add_user_blocks(messages, json::array({tool_result_block("t", "", false)}));
  add_user_blocks(messages, json::array({text("more")}));
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]["content"][0]["content"], "(no output)");  // never empty content
  EXPECT_EQ(messages[0]["content"][1]["text"], "more");
  EXPECT_EQ(background_results_text({}), "<background-results>\n</background-results>");
}

TEST(LoopTranscript, MessagesRoundTripAndContinueRepairs) {
  TempDir dir;
  std::string sessions = dir.path() + "/sessions";
  auto t = Transcript::create(sessions);
  ASSERT_TRUE(t.ok()) << t.error();
  ASSERT_TRUE(t->append(user({text("héllo")})).ok());
  ASSERT_TRUE(t->append(assistant({tool_use("t9", "bash", {{"command", "make"}})})).ok());
  std::string path = t->path();
  EXPECT_NE(path.find("/sessions/"), std::string::npos);
  {
    std::ofstream(path, std::ios::app) << "{\"role\": \"user\", \"content\": [tru\n";
  }  // torn line

  json messages;
  std::vector<std::string> warnings;
  auto resumed = Transcript::open_latest(sessions, &messages, &warnings);
  ASSERT_TRUE(resumed.ok()) << resumed.error();
  EXPECT_EQ(resumed->path(), path);
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[0]["content"][0]["text"], "héllo");
  EXPECT_EQ(messages[2]["content"][0]["tool_use_id"], "t9");
  EXPECT_GE(warnings.size(), 2u);  // the torn line, the unanswered tool_use
  ASSERT_TRUE(resumed->append(assistant({text("appended")})).ok());
  auto again = read_transcript(path, nullptr);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->back()["content"][0]["text"], "appended");
}

TEST(LoopTranscript, SessionsStartedInTheSameSecondGetTheirOwnFiles) {
  TempDir dir;
  auto a = Transcript::create(dir.path());
  auto b = Transcript::create(dir.path());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->path(), b->path());
}

TEST(LoopTranscript, ContinueWithoutSessionsIsAnError) {
  TempDir dir;
  json messages;
  auto t = Transcript::open_latest(dir.path() + "/none", &messages, nullptr);
  EXPECT_FALSE(t.ok());
}

EnvLookup env_of(EnvMap values) {
  return [values](const std::string& k) -> std::optional<std::string> {
    auto it = values.find(k);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

TEST(LoopConfig, DotEnvParsing) {
  DotEnv env = parse_dotenv(
      "# comment\nexport ANTHROPIC_API_KEY=sk-abc # trailing\nMODEL_ID=\"claude \\\"x\\\"\"\n"
      "OPENAI_BASE_URL='http://h/v1#frag'\nnot a line\nBAD='open\n\nEMPTY=\n");
  EXPECT_EQ(env.values["ANTHROPIC_API_KEY"], "sk-abc");
  EXPECT_EQ(env.values["MODEL_ID"], "claude \"x\"");
  EXPECT_EQ(env.values["OPENAI_BASE_URL"], "http://h/v1#frag");
  EXPECT_EQ(env.values["EMPTY"], "");
  EXPECT_EQ(env.values.count("BAD"), 0u);
  ASSERT_EQ(env.warnings.size(), 2u);
  for (const std::string& w : env.warnings) EXPECT_EQ(w.find("open"), std::string::npos) << w;
}

TEST(LoopConfig, EnvironmentWinsOverDotEnvAndCommandLineWinsOverBoth) {
  EnvMap dotenv = {{"ANTHROPIC_API_KEY", "from-file"},
                   {"MODEL_ID", "file-model"},
                   {"ANTHROPIC_BASE_URL", "http://file"}};
  auto c = resolve_provider_config({}, env_of({{"ANTHROPIC_API_KEY", "from-env"}}), dotenv);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->kind, "anthropic");
  EXPECT_EQ(c->api_key, "from-env");
  EXPECT_EQ(c->model, "file-model");
  EXPECT_EQ(c->base_url, "");  // never the environment's key with .env's endpoint (config_test)
  auto d = resolve_provider_config({"", "cli-model", ""}, env_of({}), dotenv);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->model, "cli-model");
  EXPECT_EQ(d->api_key, "from-file");
  EXPECT_EQ(d->base_url, "http://file");
}

TEST(LoopConfig, OpenAiAndScriptAndErrors) {
  auto o = resolve_provider_config(
      {}, env_of({{"LLM_PROVIDER", "openai"}, {"OPENAI_API_KEY", "k"}}), {});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->kind, "openai");
  EXPECT_EQ(o->api_key, "k");

  auto none = resolve_provider_config({}, env_of({}), {});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().find("ANTHROPIC_API_KEY"), std::string::npos);
  auto openai_none =
      resolve_provider_config({"openai", "", ""}, env_of({{"ANTHROPIC_API_KEY", "x"}}), {});
  ASSERT_FALSE(openai_none.ok());
  EXPECT_NE(openai_none.error().find("OPENAI_API_KEY"), std::string::npos);

  auto script = resolve_provider_config({"", "", "/tmp/s.jsonl"}, env_of({}), {});
  ASSERT_TRUE(script.ok());
  EXPECT_EQ(script->kind, "script");
  EXPECT_TRUE(script->api_key.empty());
  EXPECT_FALSE(resolve_provider_config({"script", "", ""}, env_of({}), {}).ok());
  auto bad = resolve_provider_config({}, env_of({{"LLM_PROVIDER", "gemini"}}), {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("gemini"), std::string::npos);
}

}  // namespace
}  // namespace meanwhile::agent
