// The seed's scenarios end to end: the real `meanwhile -p` against the real fake model server.
// Assertions read the server's request log: what the model was sent, and when.
#include <signal.h>
#include <sys/stat.h>

#include <cctype>
#include <cmath>
#include <sstream>

#include <gtest/gtest.h>

#include "e2e_util.h"

namespace e2e {
namespace {

// "2025-01-02T03:04:05.678Z" (no std::regex: g++ 12 warns inside <regex> under ASan).
bool is_iso_ms(const std::string& s) {
  const std::string shape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (s.size() != shape.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (shape[i] == 'd' ? !std::isdigit(static_cast<unsigned char>(s[i])) : s[i] != shape[i]) {
      return false;
    }
  }
  return true;
}

std::size_t count(const std::string& text, const std::string& word) {
  std::size_t n = 0;
  for (auto at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) ++n;
  return n;
}

// The tool_result blocks of a user turn come first, and the background block (if any) last.
void expect_results_then_background(const json& message) {
  const json& content = message["content"];
  bool seen_other = false;
  for (const json& b : content) {
    if (b["type"] == "tool_result") {
      EXPECT_FALSE(seen_other) << "tool_result after another block: " << message.dump();
    } else {
      seen_other = true;
    }
  }
  ASSERT_FALSE(content.empty());
  EXPECT_EQ(content.back()["text"].get<std::string>().rfind("<background-results>", 0), 0u);
}

TEST(E2eBackground, SlowTestSuiteRunsWhileTheModelWritesAFileAndItsResultIsInjectedLater) {
  TempDir dir;
  FakeServer server(
      dir, {
               turn({text_block("Starting the tests in the background."),
                     tool_use("background_run", {{"command", "sleep 2; echo \"$((2 + 3)) passed\""},
                                                 {"label", "tests"}})}),
               turn({tool_use("write_file", {{"path", "fix.txt"}, {"content", "fixed\n"}})}),
               turn({tool_use("bash", {{"command", "sleep 3"}})}),
               turn({text_block("Tests passed and the fix is written.")}),
           });
  RunResult r = run_meanwhile({"-p", "run the tests and fix the lint"}, dir.path(),
                              anthropic_env(dir, server));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Tests passed and the fix is written."), std::string::npos) << r.out;
  EXPECT_EQ(read_file(dir.file("fix.txt")), "fixed\n");
  auto log = server.answered();
  ASSERT_EQ(log.size(), 4u);
  // The file was written while the suite ran: its output had not reached the model yet.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(all_text(log[i]["request"]["messages"]).find("5 passed"), std::string::npos) << i;
  }
  const json& request = log[3]["request"];
  const json& user = last_message(request);
  EXPECT_EQ(user["role"], "user");
  ASSERT_EQ(blocks_of(user, "tool_result").size(), 1u);
  expect_results_then_background(user);
  std::string block = background_block(request);
  EXPECT_NE(block.find("5 passed"), std::string::npos) << block;
  EXPECT_NE(block.find("task 1"), std::string::npos) << block;
}

TEST(E2eBackground, ALongBuildCheckedHalfwayShowsRunningAndPartialOutput) {
  TempDir dir;
  FakeServer server(
      dir, {
               turn({tool_use(
                   "background_run",
                   {{"command",
                     "echo compiling; sleep 1; echo linking; sleep 3; echo \"build $((1 - 1))k\""},
                    {"label", "build"}})}),
               turn({tool_use("bash", {{"command", "sleep 1.6"}})}),
               turn({tool_use("check_background", {{"task_id", "1"}}),
                     tool_use("background_output", {{"task_id", "1"}})}),
               turn({text_block("The build is halfway; I'll be woken when it ends.")}),
               turn({text_block("Build finished.")}),
           });
  RunResult r = run_meanwhile({"-p", "build it"}, dir.path(), anthropic_env(dir, server));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto log = server.answered();
  ASSERT_EQ(log.size(), 5u);
  auto results = blocks_of(last_message(log[3]["request"]), "tool_result");
  ASSERT_EQ(results.size(), 2u);
  std::string status = all_text(results[0]["content"]);
  std::string output = all_text(results[1]["content"]);
  EXPECT_NE(status.find("running"), std::string::npos) << status;
  EXPECT_NE(output.find("compiling"), std::string::npos) << output;
  EXPECT_NE(output.find("linking"), std::string::npos) << output;
  EXPECT_EQ(output.find("build 0k"), std::string::npos) << output;
  // The build's end woke the model: a user turn holding only the background block.
  const json& wake = last_message(log[4]["request"]);
  ASSERT_EQ(wake["content"].size(), 1u);
  EXPECT_NE(background_block(log[4]["request"]).find("build 0k"), std::string::npos);
}

TEST(E2eBackground, ThreeJobsOfOneTwoAndThreeSecondsAreListedWhileRunning) {
  TempDir dir;
  FakeServer server(
      dir,
      {
          turn({tool_use("background_run", {{"command", "sleep 1; echo out-A"}, {"label", "one"}}),
                tool_use("background_run", {{"command", "sleep 2; echo out-B"}, {"label", "two"}}),
                tool_use("background_run",
                         {{"command", "sleep 3; echo out-C"}, {"label", "three"}})}),
          turn({tool_use("check_background", json::object())}),
          turn({tool_use("background_wait", {{"task_ids", {"3"}}, {"timeout", 20}})}),
          turn({text_block("All three are done.")}),
      });
  RunResult r = run_meanwhile({"-p", "three jobs"}, dir.path(), anthropic_env(dir, server));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto log = server.answered();
  ASSERT_EQ(log.size(), 4u);
  std::string listing = all_text(blocks_of(last_message(log[2]["request"]), "tool_result"));
  for (const char* label : {"one", "two", "three"}) {
    EXPECT_NE(listing.find(label), std::string::npos) << listing;
  }
  EXPECT_GE(count(listing, "running"), 3u) << listing;
  // The wait returned C's result; A and B arrived by themselves in the same request.
  const json& request = log[3]["request"];
  EXPECT_NE(all_text(blocks_of(last_message(request), "tool_result")).find("out-C"),
            std::string::npos);
  std::string block = background_block(request);
  EXPECT_NE(block.find("out-A"), std::string::npos) << block;
  EXPECT_NE(block.find("out-B"), std::string::npos) << block;
}

TEST(E2eBackground, PrintModeWakesOnAFinishedJobAndReportsTheLatency) {
  TempDir dir;
  FakeServer server(
      dir, {
               turn({tool_use("background_run",
                              {{"command", "sleep 2; echo wake-result; date +%s%N > exit_ns"}}),
                     text_block("Started.")}),
               turn({text_block("Nothing else to do; waiting.")}),
               turn({text_block("Got it: wake-result.")}),
           });
  RunResult r = run_meanwhile({"-p", "wake me"}, dir.path(), anthropic_env(dir, server));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Got it: wake-result."), std::string::npos);
  auto log = server.answered();
  ASSERT_EQ(log.size(), 3u);
  const json& wake = log[2]["request"];
  EXPECT_EQ(wake["messages"][wake["messages"].size() - 2]["role"], "assistant");
  EXPECT_NE(background_block(wake).find("wake-result"), std::string::npos);
  double exit_ms = std::stod(read_file(dir.file("exit_ns"))) / 1e6;
  double request_ms = log[2]["t_ms"].get<double>();
  double latency = request_ms - exit_ms;
  std::printf("[ measure ] job exit -> wake-up request at the server: %.2f ms\n", latency);
  EXPECT_GT(latency, -50.0);  // clocks are the same machine's; a little slack for rounding
  EXPECT_LT(latency, 1000.0);
}

TEST(E2eBackground, BashStillRunningAtItsTimeoutMovesToTheBackground) {
  TempDir dir;
  FakeServer server(
      dir, {
               turn({tool_use("bash", {{"command", "sleep 3; echo late-output"}, {"timeout", 1}})}),
               turn({text_block("It went to the background; waiting for it.")}),
               turn({text_block("Done.")}),
           });
  RunResult r = run_meanwhile({"-p", "slow bash"}, dir.path(), anthropic_env(dir, server));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto log = server.answered();
  ASSERT_EQ(log.size(), 3u);
  auto results = blocks_of(last_message(log[1]["request"]), "tool_result");
  ASSERT_EQ(results.size(), 1u);
  std::string text = all_text(results[0]["content"]);
  EXPECT_NE(text.find("background"), std::string::npos) << text;
  EXPECT_NE(text.find("task 1"), std::string::npos) << text;
  EXPECT_EQ(text.find("late-output"), std::string::npos) << text;
  EXPECT_NE(background_block(log[2]["request"]).find("late-output"), std::string::npos);
}

TEST(E2eBackground, BadToolInputGivesErrorResultsAndTheRunGoesOn) {
  TempDir dir;
  FakeServer server(
      dir, {
               turn({tool_use("frobnicate", {{"x", 1}}), tool_use("read_file", json::object()),
                     tool_use("write_file", {{"path", 5}, {"content", "x"}}),
                     tool_use("read_file", {{"path", "../../etc/passwd"}})}),
               turn({text_block("Recovered from bad calls.")}),
           });
  RunResult r = run_meanwhile({"-p", "bad input"}, dir.path(), anthropic_env(dir, server));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto log = server.answered();
  ASSERT_EQ(log.size(), 2u);
  auto results = blocks_of(last_message(log[1]["request"]), "tool_result");
  ASSERT_EQ(results.size(), 4u);
  for (const json& result : results) EXPECT_TRUE(result.value("is_error", false)) << result;
  EXPECT_NE(all_text(results[0]).find("frobnicate"), std::string::npos);
  EXPECT_NE(all_text(results[1]).find("path"), std::string::npos);
  EXPECT_NE(r.out.find("Recovered from bad calls."), std::string::npos);
}

TEST(E2eBackground, OpenAiCompatibleProviderRunsTheSameScenario) {
  TempDir dir;
  FakeServer server(
      dir,
      {
          turn({tool_use("background_run", {{"command", "sleep 1; echo \"$((2 + 3)) passed\""}})}),
          turn({tool_use("bash", {{"command", "sleep 2"}})}),
          turn({text_block("OpenAI path works.")}),
      });
  Env env = base_env(dir.path());
  env["OPENAI_BASE_URL"] = server.base_url() + "/v1";
  env["OPENAI_API_KEY"] = "sk-openai-e2e-dummy";
  env["MODEL_ID"] = "local-model";
  RunResult r = run_meanwhile({"--provider", "openai", "-p", "tests"}, dir.path(), env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("OpenAI path works."), std::string::npos);
  auto log = server.answered();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0]["path"], "/v1/chat/completions");
  EXPECT_EQ(log[0]["request"]["model"], "local-model");
  const json& messages = log[2]["request"]["messages"];
  // OpenAI format: the tool message answering the call, then the user text with the results.
  ASSERT_GE(messages.size(), 2u);
  const json& last = messages.back();
  EXPECT_EQ(last["role"], "user");
  EXPECT_NE(all_text(last).find("<background-results>"), std::string::npos) << last;
  EXPECT_NE(all_text(last).find("5 passed"), std::string::npos) << last;
  EXPECT_EQ(messages[messages.size() - 2]["role"], "tool");
}

TEST(E2eBackground, StreamJsonIsOneTimestampedEventPerLine) {
  TempDir dir;
  FakeServer server(dir, {
                             turn({tool_use("background_run", {{"command", "sleep 1; echo sj-done"},
                                                               {"label", "sj"}})}),
                             turn({text_block("Waiting for sj.")}),
                             turn({text_block("sj finished.")}),
                         });
  RunResult r = run_meanwhile({"-p", "go", "--output-format", "stream-json"}, dir.path(),
                              anthropic_env(dir, server));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<json> events;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    json e = json::parse(line, nullptr, false);
    ASSERT_FALSE(e.is_discarded()) << "not JSON: " << line;
    ASSERT_TRUE(e.contains("type")) << line;
    ASSERT_TRUE(is_iso_ms(e.value("timestamp", ""))) << line;
    events.push_back(e);
  }
  ASSERT_GE(events.size(), 6u);
  EXPECT_EQ(events.front()["type"], "system");
  EXPECT_EQ(events.front()["subtype"], "init");
  const json& result = events.back();
  EXPECT_EQ(result["type"], "result");
  EXPECT_EQ(result["is_error"], false);
  EXPECT_EQ(result["num_turns"], 3);
  EXPECT_EQ(result["result"], "sj finished.");
  EXPECT_TRUE(result["duration_ms"].is_number());
  std::map<std::string, int> count;
  std::vector<std::string> job_statuses;
  for (const json& e : events) {
    ++count[e["type"].get<std::string>()];
    if (e["type"] == "job") job_statuses.push_back(e["status"]);
  }
  EXPECT_EQ(count["assistant"], 3);
  EXPECT_EQ(count["tool_use"], 1);
  EXPECT_EQ(count["tool_result"], 1);
  EXPECT_EQ(count["waiting"], 1);
  EXPECT_EQ(count["background_results"], 1);
  EXPECT_NE(std::find(job_statuses.begin(), job_statuses.end(), "running"), job_statuses.end());
  EXPECT_NE(std::find(job_statuses.begin(), job_statuses.end(), "exited"), job_statuses.end());
}

TEST(E2eBackground, TheKeyAppearsNowhere) {
  TempDir dir;
  const std::string key = "sk-ant-e2e-SECRET-9f3a7c";
  FakeServer server(dir, {
                             turn({tool_use("bash", {{"command", "env > env.txt; echo checked"}}),
                                   tool_use("background_run", {{"command", "sleep 1.5; env"}})}),
                             turn({text_block("Done looking around.")}),
                             {{"status", 401}, {"error_message", "invalid x-api-key"}},
                         });
  RunResult r = run_meanwhile({"-p", "look"}, dir.path(), anthropic_env(dir, server, key));
  // The job's end wakes the model once more; that request gets the 401.
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.out.find(key), std::string::npos);
  EXPECT_EQ(r.err.find(key), std::string::npos);
  std::string tree = read_tree(dir.path() + "/.meanwhile");
  EXPECT_NE(tree.find("Done looking around."), std::string::npos);  // the transcript is there
  EXPECT_EQ(tree.find(key), std::string::npos);
  EXPECT_EQ(read_file(dir.file("env.txt")).find(key), std::string::npos);
}

// Ctrl+C (SIGINT) or SIGTERM while print mode waits for a job: meanwhile exits and the job's
// processes end with it.
void interrupt_while_waiting(int sig, const std::string& marker) {
  TempDir dir;
  FakeServer server(dir, {
                             turn({tool_use("background_run", {{"command", "sleep " + marker}})}),
                             turn({text_block("Waiting for the long job.")}),
                         });
  bool sent = false;
  RunResult r =
      run_meanwhile({"-p", "long"}, dir.path(), anthropic_env(dir, server),
                    std::chrono::seconds(60), "", [&](pid_t pid) {
                      if (!sent && server.log().size() >= 2 && process_alive("sleep " + marker)) {
                        ::kill(pid, sig);
                        sent = true;
                      }
                    });
  ASSERT_TRUE(sent);
  EXPECT_LT(r.seconds, 20.0);
  if (sig == SIGINT) {
    EXPECT_EQ(r.exit_code, 130) << r.err;
    EXPECT_NE(r.err.find("interrupted"), std::string::npos) << r.err;
  } else {
    EXPECT_EQ(r.term_signal, sig) << r.err;
  }
  EXPECT_TRUE(
      wait_until([&] { return !process_alive("sleep " + marker); }, std::chrono::seconds(5)));
}

TEST(E2eBackground, CtrlCWhilePrintModeWaitsExitsAndEndsTheJobs) {
  interrupt_while_waiting(SIGINT, "41.25");
}

TEST(E2eBackground, SigtermWhilePrintModeWaitsEndsTheJobs) {
  interrupt_while_waiting(SIGTERM, "42.75");
}

// MEANWHILE_EXECUTOR=slurm sends a call that names no executor to sbatch. A stand-in sbatch
// (first on PATH) records its arguments and refuses as Slurm does: the model reads Slurm's words.
TEST(E2eBackground, MeanwhileExecutorSlurmSubmitsWithSbatchAndReportsItsRefusal) {
  TempDir dir;
  ::mkdir(dir.file("bin").c_str(), 0755);
  write_file(dir.file("bin/sbatch"),
             "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"" + dir.file("sbatch.args") +
                 "\"\necho 'sbatch: error: Batch job submission failed: Invalid partition name "
                 "specified' >&2\nexit 1\n");
  ::chmod(dir.file("bin/sbatch").c_str(), 0755);
  FakeServer server(dir, {
                             turn({tool_use("background_run", {{"command", "make test"}})}),
                             turn({text_block("Slurm refused it.")}),
                         });
  Env env = anthropic_env(dir, server);
  env["PATH"] = dir.file("bin") + ":" + env["PATH"];
  env["MEANWHILE_EXECUTOR"] = "slurm";
  RunResult r = run_meanwhile({"-p", "run the tests on the cluster"}, dir.path(), env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto log = server.answered();
  ASSERT_EQ(log.size(), 2u);
  auto results = blocks_of(last_message(log[1]["request"]), "tool_result");
  ASSERT_EQ(results.size(), 1u);
  const std::string text = all_text(results[0]);
  EXPECT_TRUE(results[0].value("is_error", false)) << text;
  EXPECT_NE(text.find("failed to start"), std::string::npos) << text;
  EXPECT_NE(text.find("Invalid partition name specified"), std::string::npos) << text;
  const std::string args = read_file(dir.file("sbatch.args"));
  EXPECT_NE(args.find("--job-name=meanwhile-1\n"), std::string::npos) << args;
  EXPECT_NE(args.find("--parsable\n"), std::string::npos) << args;
}

}  // namespace
}  // namespace e2e
