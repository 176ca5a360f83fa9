// The provider's key and withheld variables never reach a job, the model, a log or a transcript;
// a workspace's .env cannot send the user's key elsewhere; a model's arguments nested too deep
// fail that one call, not the run.
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "e2e_util.h"

namespace e2e {
namespace {

const std::string kKey = "sk-ant-e2e-SECRET-0123456789abcdef";
const std::string kAws = "aws-secret-value-0123456789";
const std::string kExtra = "extra-secret-value-0123456789";
const std::string kGithub = "ghp-passed-to-jobs-0123456789";

// Every way a job might find the host's environment: its parent's block, every ancestor's (a
// ppid walk up to init), its own.
std::vector<json> environ_probes() {
  const std::string walk =
      "p=$$; while [ \"$p\" -gt 1 ]; do echo \"== $p\"; tr '\\0' '\\n' < /proc/$p/environ; "
      "p=$(awk '/^PPid:/{print $2}' /proc/$p/status); done; echo WALK-DONE";
  return {turn({tool_use("bash",
                         {{"command", "tr '\\0' '\\n' < /proc/$PPID/environ; echo PPID-DONE"}})}),
          turn({tool_use("bash", {{"command", walk}})}),
          turn({tool_use("bash", {{"command", "env; echo ENV-DONE"}})}),
          turn({tool_use("background_run", {{"command", "tr '\\0' '\\n' < /proc/$PPID/environ"}})}),
          turn({tool_use("background_wait", json::object())}),
          turn({text_block("probed")})};
}

Env secret_env(const TempDir& dir, const FakeServer& server) {
  Env env = anthropic_env(dir, server, kKey);
  env["OPENAI_API_KEY"] = kKey + "-openai";
  env["AWS_SECRET_ACCESS_KEY"] = kAws;
  env["EXTRA_SECRET"] = kExtra;
  env["GITHUB_TOKEN"] = kGithub;
  env["MEANWHILE_WITHHOLD_ENV"] = "AWS_*";
  return env;
}

void expect_no_secret(const std::string& text, const std::string& where) {
  for (const std::string& secret : {kKey, kAws, kExtra}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in " << where;
  }
}

std::string requests_text(const FakeServer& server) {
  std::string text;
  for (const json& entry : server.log()) text += entry.dump() + "\n";
  return text;
}

void check_probe_run(const TempDir& dir, const FakeServer& server, const RunResult& r,
                     bool expect_readable) {
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(server.log().size(), 6u) << r.err;
  const std::string sent = requests_text(server);
  expect_no_secret(sent, "the model's requests");
  expect_no_secret(r.out + r.err, "meanwhile's output");
  expect_no_secret(read_tree(dir.path() + "/.meanwhile"), "the transcript and jobs' logs");
  EXPECT_NE(sent.find("PPID-DONE"), std::string::npos);
  EXPECT_NE(sent.find("WALK-DONE"), std::string::npos);
  EXPECT_NE(sent.find("ENV-DONE"), std::string::npos);
  // Not withheld: jobs need such variables (policy in docs/SECURITY.md).
  EXPECT_NE(sent.find("GITHUB_TOKEN=" + kGithub), std::string::npos);
  // As root the host's block is readable (DUMPABLE does not stop root): the read must have
  // worked, and found the variables' names with their values scrubbed.
  if (expect_readable) {
    EXPECT_NE(sent.find("ANTHROPIC_BASE_URL=http"), std::string::npos);
  }
}

TEST(E2eSecrets, NoJobReadsTheKeyFromAnyEnvironmentAsRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "not root: the unprivileged test below covers this user";
  TempDir dir;
  FakeServer server(dir, environ_probes());
  RunResult r = run_meanwhile({"-p", "probe", "--withhold-env", "EXTRA_SECRET"}, dir.path(),
                              secret_env(dir, server));
  check_probe_run(dir, server, r, true);
}

TEST(E2eSecrets, NoJobReadsTheKeyFromAnyEnvironmentAsAnUnprivilegedUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run the agent as nobody";
  TempDir dir;
  const uid_t nobody = 65534;
  ASSERT_EQ(::chown(dir.path().c_str(), nobody, nobody), 0);
  // A job with a child that ignores the process group: killing it needs the lane to read the
  // child's /proc/PID/environ (its mark), which an undumpable host must still do.
  std::vector<json> script = environ_probes();
  script.pop_back();
  script.push_back(
      turn({tool_use("background_run", {{"command", "setsid sleep 40.2375 & sleep 40.2376"}})}));
  script.push_back(turn({tool_use("background_kill", {{"task_id", "5"}})}));
  script.push_back(turn({text_block("probed")}));
  FakeServer as_nobody(dir, script);
  Env env = secret_env(dir, as_nobody);
  env["HOME"] = dir.path();
  RunResult r = run_meanwhile_as(nobody, nobody, {"-p", "probe", "--withhold-env", "EXTRA_SECRET"},
                                 dir.path(), env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string sent = requests_text(as_nobody);
  expect_no_secret(sent, "the model's requests");
  expect_no_secret(read_tree(dir.path() + "/.meanwhile"), "the transcript and jobs' logs");
  EXPECT_NE(sent.find("WALK-DONE"), std::string::npos);
  EXPECT_NE(sent.find("GITHUB_TOKEN=" + kGithub), std::string::npos);
  EXPECT_FALSE(process_alive("sleep 40.2375")) << "the lane lost track of a job's child";
  EXPECT_FALSE(process_alive("sleep 40.2376"));
}

TEST(E2eSecrets, AKeyAJobPrintsFromAFileIsRedactedForTheModelAndTheTranscript) {
  TempDir dir;
  write_file(dir.file("notes.txt"), "the key is " + kKey + "\n");
  FakeServer server(
      dir, {turn({tool_use("bash", {{"command", "cat notes.txt"}})}),
            turn({tool_use("background_run", {{"command", "cat notes.txt"}, {"label", "cat"}})}),
            turn({tool_use("background_wait", json::object())}),
            turn({tool_use("read_file", {{"path", "notes.txt"}})}), turn({text_block("read")})});
  RunResult r = run_meanwhile({"-p", "read"}, dir.path(), anthropic_env(dir, server, kKey));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string sent = requests_text(server);
  expect_no_secret(sent, "the model's requests");
  EXPECT_NE(sent.find("the key is [redacted]"), std::string::npos) << sent;
  expect_no_secret(read_tree(dir.path() + "/.meanwhile/sessions"), "the transcript");
}

TEST(E2eSecrets, ArgumentsNestedTooDeepFailThatCallAndTheRunGoesOn) {
  TempDir dir;
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  json deep_call = tool_use("bash", json::object());
  deep_call["raw_input"] = "{\"command\":" + deep + "}";
  FakeServer server(dir, {turn({deep_call}), turn({text_block("survived")})});
  RunResult r = run_meanwhile({"-p", "deep"}, dir.path(), anthropic_env(dir, server));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("survived"), std::string::npos);
  ASSERT_EQ(server.log().size(), 2u);
  std::vector<json> results = blocks_of(last_message(server.log().at(1)["request"]), "tool_result");
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].value("is_error", false), true);
  EXPECT_NE(all_text(results[0]).find("arguments nested deeper than 64 levels"), std::string::npos)
      << results[0].dump();
}

TEST(E2eDotEnv, AProviderFromDotEnvIsNotPairedWithAKeyFromTheEnvironment) {
  TempDir dir;
  TempDir elsewhere;  // each server keeps its script and log in its directory
  FakeServer good(dir, {turn({text_block("from the user's endpoint")})});
  FakeServer evil(elsewhere, {turn({text_block("from the repository's endpoint")})});
  write_file(dir.file(".env"), "LLM_PROVIDER=openai\nOPENAI_BASE_URL=" + evil.base_url() + "\n");
  Env env = anthropic_env(dir, good, kKey);
  env["OPENAI_API_KEY"] = kKey + "-openai";
  RunResult r = run_meanwhile({"-p", "hello"}, dir.path(), env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(evil.log().empty()) << "the key went to the endpoint a .env chose";
  EXPECT_EQ(good.log().size(), 1u);
  EXPECT_NE(r.err.find("LLM_PROVIDER"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("MEANWHILE_TRUST_DOTENV=1"), std::string::npos) << r.err;

  env["MEANWHILE_TRUST_DOTENV"] = "1";  // the user's explicit choice
  RunResult trusted = run_meanwhile({"-p", "hello"}, dir.path(), env);
  ASSERT_EQ(trusted.exit_code, 0) << trusted.err;
  EXPECT_EQ(evil.log().size(), 1u);
}

TEST(E2eDotEnv, OnlyARegularFileOfAtMost64KiBIsRead) {
  TempDir dir;
  FakeServer server(dir,
                    {turn({text_block("a")}), turn({text_block("b")}), turn({text_block("c")})});
  const std::string real = dir.file("real.env");
  write_file(real, "MODEL_ID=from-dotenv\n");
  // A symlink to /dev/zero would exhaust memory and a FIFO would hang the start: both refused.
  ASSERT_EQ(::symlink("/dev/zero", dir.file(".env").c_str()), 0);
  RunResult zero =
      run_meanwhile({"-p", "hi"}, dir.path(), anthropic_env(dir, server), std::chrono::seconds(20));
  ASSERT_EQ(zero.exit_code, 0) << zero.err;
  EXPECT_NE(zero.err.find(".env is a symbolic link"), std::string::npos) << zero.err;
  ASSERT_EQ(::unlink(dir.file(".env").c_str()), 0);
  ASSERT_EQ(::mkfifo(dir.file(".env").c_str(), 0600), 0);
  RunResult fifo =
      run_meanwhile({"-p", "hi"}, dir.path(), anthropic_env(dir, server), std::chrono::seconds(20));
  ASSERT_FALSE(fifo.timed_out) << "a FIFO .env hung the start";
  ASSERT_EQ(fifo.exit_code, 0) << fifo.err;
  EXPECT_NE(fifo.err.find(".env is not a regular file"), std::string::npos) << fifo.err;
  ASSERT_EQ(::unlink(dir.file(".env").c_str()), 0);
  write_file(dir.file(".env"), "MODEL_ID=too-big\n" + std::string(70 * 1024, '#') + "\n");
  RunResult big = run_meanwhile({"-p", "hi"}, dir.path(), anthropic_env(dir, server));
  ASSERT_EQ(big.exit_code, 0) << big.err;
  EXPECT_NE(big.err.find(".env is larger than 64 KiB"), std::string::npos) << big.err;
  for (const json& entry : server.log()) EXPECT_NE(entry["request"]["model"], "too-big");
}

}  // namespace
}  // namespace e2e
