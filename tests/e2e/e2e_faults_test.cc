// Provider faults, configuration and usage errors, end to end.
#include <gtest/gtest.h>

#include "e2e_util.h"

namespace e2e {
namespace {

std::vector<json> fault_then_answer(json fault) {
  return {std::move(fault), turn({text_block("answer after the fault")})};
}

RunResult run_simple(const TempDir& dir, const FakeServer& server) {
  return run_meanwhile({"-p", "hello"}, dir.path(), anthropic_env(dir, server));
}

TEST(E2eFaults, RateLimitWithRetryAfterIsHonouredThenSucceeds) {
  TempDir dir;
  FakeServer server(dir, fault_then_answer({{"status", 429}, {"retry_after", 1}}));
  RunResult r = run_simple(dir, server);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("answer after the fault"), std::string::npos);
  auto log = server.log();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0]["status"], 429);
  double gap_ms = log[1]["t_ms"].get<double>() - log[0]["t_ms"].get<double>();
  EXPECT_GE(gap_ms, 900.0);  // retry-after: 1 second
  EXPECT_NE(r.err.find("retrying"), std::string::npos) << r.err;
}

TEST(E2eFaults, OverloadedIsRetried) {
  TempDir dir;
  FakeServer server(dir, fault_then_answer({{"status", 529}}));
  RunResult r = run_simple(dir, server);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server.log().size(), 2u);
}

TEST(E2eFaults, ConnectionClosedMidStreamIsRetried) {
  TempDir dir;
  FakeServer server(
      dir, fault_then_answer({{"disconnect_after_events", 2},
                              {"content", json::array({text_block("a reply that is cut off")})}}));
  RunResult r = run_simple(dir, server);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server.log().size(), 2u);
  EXPECT_NE(r.out.find("answer after the fault"), std::string::npos);
}

TEST(E2eFaults, MalformedSseIsRetried) {
  TempDir dir;
  FakeServer server(dir, fault_then_answer({{"malformed_sse", true}}));
  RunResult r = run_simple(dir, server);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(server.log().size(), 2u);
  EXPECT_NE(r.out.find("answer after the fault"), std::string::npos);
}

TEST(E2eFaults, UnauthorizedExitsOneWithTheApiMessageAndNoRetry) {
  TempDir dir;
  FakeServer server(dir, {{{"status", 401}, {"error_message", "invalid x-api-key"}}});
  RunResult r = run_simple(dir, server);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("invalid x-api-key"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the API key was refused; check ANTHROPIC_API_KEY (in the environment or "
                       ".env)"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(server.log().size(), 1u);
}

TEST(E2eFaults, AnUnknownModelSaysHowToChooseAnother) {
  TempDir dir;
  FakeServer server(dir, {{{"status", 404},
                           {"error_type", "not_found_error"},
                           {"error_message", "model: claude-nope"}}});
  Env env = anthropic_env(dir, server);
  env["MODEL_ID"] = "claude-nope";
  RunResult r = run_meanwhile({"-p", "hello"}, dir.path(), env);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("model: claude-nope"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("is the model id \"claude-nope\" right? Set MODEL_ID or --model"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(server.log().size(), 1u) << "a 404 is not retried";
}

TEST(E2eFaults, FiveFailuresGiveUpWithExitOne) {
  TempDir dir;
  std::vector<json> script(5, json{{"status", 503}});
  FakeServer server(dir, script);
  RunResult r = run_simple(dir, server);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(server.log().size(), 5u);
  EXPECT_NE(r.err.find("503"), std::string::npos) << r.err;
}

TEST(E2eConfig, NoKeyIsAOneLineErrorWithExitTwo) {
  TempDir dir;
  RunResult r = run_meanwhile({"-p", "hello"}, dir.path(), base_env(dir.path()));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("ANTHROPIC_API_KEY"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(r.out.empty());
  RunResult openai =
      run_meanwhile({"-p", "hello", "--provider", "openai"}, dir.path(), base_env(dir.path()));
  EXPECT_EQ(openai.exit_code, 2);
  EXPECT_NE(openai.err.find("OPENAI_API_KEY"), std::string::npos) << openai.err;
}

TEST(E2eConfig, DotEnvInTheWorkspaceConfiguresTheProvider) {
  TempDir dir;
  FakeServer server(dir, {turn({text_block("configured from .env")})});
  write_file(dir.file(".env"), "# test\nANTHROPIC_API_KEY=sk-from-dotenv\nANTHROPIC_BASE_URL=" +
                                   server.base_url() + "\nMODEL_ID='claude-from-dotenv'\n");
  RunResult r = run_meanwhile({"-p", "hello"}, dir.path(), base_env(dir.path()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("configured from .env"), std::string::npos);
  EXPECT_EQ(server.log().at(0)["request"]["model"], "claude-from-dotenv");
}

TEST(E2eConfig, MaxTurnsBoundsModelCalls) {
  TempDir dir;
  std::vector<json> script;
  for (int i = 0; i < 4; ++i) script.push_back(turn({tool_use("bash", {{"command", "true"}})}));
  FakeServer server(dir, script);
  RunResult r =
      run_meanwhile({"-p", "loop", "--max-turns", "2"}, dir.path(), anthropic_env(dir, server));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("max-turns"), std::string::npos) << r.err;
  EXPECT_EQ(server.log().size(), 2u);
}

TEST(E2eConfig, UsageErrorsExitTwo) {
  TempDir dir;
  Env env = base_env(dir.path());
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"--output-format", "xml", "-p", "x"},
           {"--no-such-flag"},
           {"--provider", "script", "-p", "x"},
           {"--provider", "script", "--script", dir.file("missing.jsonl"), "-p", "x"},
           {"--max-wait", "-1", "-p", "x"},
           {"-p", ""}}) {
    RunResult r = run_meanwhile(args, dir.path(), env);
    EXPECT_EQ(r.exit_code, 2) << args[0] << ": " << r.err;
    EXPECT_FALSE(r.err.empty());
  }
}

TEST(E2eConfig, PromptFromStdin) {
  TempDir dir;
  FakeServer server(dir, {turn({text_block("read it")})});
  RunResult r = run_meanwhile({"-p", "-"}, dir.path(), anthropic_env(dir, server),
                              std::chrono::seconds(60), "hello from stdin\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(all_text(server.log().at(0)["request"]["messages"]).find("hello from stdin"),
            std::string::npos);
}

TEST(E2eConfig, HelpAndVersion) {
  TempDir dir;
  RunResult help = run_meanwhile({"--help"}, dir.path(), base_env(dir.path()));
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag :
       {"--print", "--output-format", "--max-wait", "--wake", "--continue", "mcp"}) {
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
  }
  RunResult version = run_meanwhile({"--version"}, dir.path(), base_env(dir.path()));
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.out.find("meanwhile " MEANWHILE_VERSION), std::string::npos) << version.out;
}

TEST(E2eConfig, ContinueResumesTheLastSession) {
  TempDir dir;
  FakeServer server(dir, {turn({text_block("first answer")}), turn({text_block("second answer")})});
  ASSERT_EQ(run_meanwhile({"-p", "remember 42"}, dir.path(), anthropic_env(dir, server)).exit_code,
            0);
  RunResult r =
      run_meanwhile({"-p", "what number?", "--continue"}, dir.path(), anthropic_env(dir, server));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto log = server.log();
  ASSERT_EQ(log.size(), 2u);
  const json& messages = log[1]["request"]["messages"];
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_NE(all_text(messages[0]).find("remember 42"), std::string::npos);
  EXPECT_NE(all_text(messages[1]).find("first answer"), std::string::npos);
  EXPECT_NE(all_text(messages[2]).find("what number?"), std::string::npos);
}

TEST(E2eDemo, TheOfflineDemoPlaysTheThreeScenarios) {
  TempDir dir;
  RunResult r = run_meanwhile(
      {"--provider", "script", "--script", DEMO_SCRIPT, "-p", "Run the three Try It scenarios"},
      dir.path(), base_env(dir.path()), std::chrono::seconds(90));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Summary of the three scenarios"), std::string::npos) << r.out;
  // The short jobs' and the build's results, as they were handed to the model.
  EXPECT_NE(r.err.find("job A done"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("build ok"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(dir.file("NOTES.md")).rfind("# Release notes", 0), 0u);
}

}  // namespace
}  // namespace e2e
