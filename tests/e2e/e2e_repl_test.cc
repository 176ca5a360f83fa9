// The REPL driven through a pseudo-terminal: the real `meanwhile` with libedit, typing like a
// person, against the fake model server.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "e2e_util.h"

namespace e2e {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

class Terminal {
 public:
  // `args` follow `meanwhile`; the tests that are not about permissions run with
  // --permission-mode auto (kAuto), as the REPL's default asks before every command.
  Terminal(const std::string& cwd, Env env, std::vector<std::string> args = {}) {
    env["TERM"] = "xterm";
    std::vector<std::string> env_s;
    for (const auto& [k, v] : env) env_s.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env_s) envp.push_back(s.data());
    envp.push_back(nullptr);
    args.insert(args.begin(), MEANWHILE_BIN);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    winsize size{40, 120, 0, 0};
    pid_ = ::forkpty(&master_, nullptr, nullptr, &size);
    if (pid_ == 0) {
      if (::chdir(cwd.c_str()) != 0) ::_exit(126);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    ::fcntl(master_, F_SETFL, ::fcntl(master_, F_GETFL) | O_NONBLOCK);
  }
  ~Terminal() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) ::close(master_);
  }

  void type(const std::string& keys) {
    ASSERT_EQ(::write(master_, keys.data(), keys.size()), static_cast<ssize_t>(keys.size()));
  }

  // Waits until `text` appears in the output after the current mark; moves the mark past it.
  bool expect(const std::string& text, std::chrono::milliseconds limit = 15s) {
    auto end = Clock::now() + limit;
    while (true) {
      auto at = output_.find(text, mark_);
      if (at != std::string::npos) {
        mark_ = at + text.size();
        return true;
      }
      if (Clock::now() > end) return false;
      pump(50ms);
    }
  }

  int wait_exit(std::chrono::milliseconds limit = 15s) {
    auto end = Clock::now() + limit;
    int status = 0;
    while (Clock::now() < end) {
      pump(20ms);
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
    }
    return -1;
  }

  const std::string& output() const { return output_; }
  std::string since_mark() const { return output_.substr(mark_); }
  void pump(std::chrono::milliseconds wait) {
    pollfd p{master_, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(wait.count()));
    char buf[4096];
    ssize_t n;
    while ((n = ::read(master_, buf, sizeof buf)) > 0) output_.append(buf, n);
  }

 private:
  int master_ = -1;
  pid_t pid_ = -1;
  bool exited_ = false;
  std::string output_;
  std::size_t mark_ = 0;
};

constexpr const char* kPrompt = "meanwhile> ";
const std::vector<std::string> kAuto = {"--permission-mode", "auto"};

TEST(E2eRepl, JobsListAndWakeUpWhileTheUserIsTypingKeepsTheHalfTypedLine) {
  TempDir dir;
  FakeServer server(
      dir, {
               turn({text_block("Starting the job."),
                     tool_use("background_run", {{"command", "sleep 3; echo repl-job-done"},
                                                 {"label", "repl job"}})}),
               turn({text_block("Started; I will hear about it.")}),
               turn({text_block("The job reported repl-job-done.")}),
               turn({text_block("Answer to the second question.")}),
           });
  Terminal term(dir.path(), anthropic_env(dir, server), kAuto);
  ASSERT_TRUE(term.expect(kPrompt, 30s)) << term.output();
  term.type("start a job\r");
  ASSERT_TRUE(term.expect("Started; I will hear about it.")) << term.output();
  ASSERT_TRUE(term.expect(std::string("[1 running] ") + kPrompt)) << term.output();
  term.type("/jobs\r");
  ASSERT_TRUE(term.expect("repl job")) << term.output();
  EXPECT_NE(term.since_mark().find("running"), std::string::npos);
  ASSERT_TRUE(term.expect(kPrompt)) << term.output();
  term.type("second que");
  ASSERT_TRUE(term.expect("second que")) << term.output();  // echoed

  // Nothing typed from here on: the job's end starts a turn by itself.
  ASSERT_TRUE(wait_until([&] { return server.log().size() >= 3; }, 15s)) << term.output();
  json wake = server.log()[2]["request"];
  ASSERT_TRUE(wake.is_object()) << server.log()[2].dump();
  EXPECT_EQ(last_message(wake)["content"].size(), 1u);
  EXPECT_NE(background_block(wake).find("repl-job-done"), std::string::npos);
  ASSERT_TRUE(term.expect("── background: task 1")) << term.output();
  ASSERT_TRUE(term.expect("The job reported repl-job-done.")) << term.output();
  ASSERT_TRUE(term.expect("second que")) << term.output();  // the half-typed line, restored

  term.type("stion\r");
  ASSERT_TRUE(wait_until([&] { return server.log().size() >= 4; }, 15s)) << term.output();
  json asked = last_message(server.log()[3]["request"]);  // a copy: log() is a temporary
  ASSERT_EQ(asked["content"].size(), 1u) << asked;
  EXPECT_EQ(asked["content"][0]["text"], "second question");
  ASSERT_TRUE(term.expect("Answer to the second question.")) << term.output();
  ASSERT_TRUE(term.expect(kPrompt)) << term.output();
  term.type("\x04");  // Ctrl+D: no jobs left, exits at once
  EXPECT_EQ(term.wait_exit(), 0) << term.output();
}

// The line sent before a wake-up is not put back at the prompt after it (it was, every time:
// libedit keeps the sent line in its buffer, and Enter sent it again).
TEST(E2eRepl, AWakeUpAtAnEmptyPromptDoesNotBringBackTheLineSentBefore) {
  TempDir dir;
  FakeServer server(dir,
                    {
                        turn({text_block("Starting the job."),
                              tool_use("background_run", {{"command", "sleep 1; echo woke"}})}),
                        turn({text_block("Started.")}),
                        turn({text_block("The job said woke.")}),
                        turn({text_block("Answer to next.")}),
                    });
  Terminal term(dir.path(), anthropic_env(dir, server), kAuto);
  ASSERT_TRUE(term.expect(kPrompt, 30s)) << term.output();
  term.type("start a job\r");
  ASSERT_TRUE(term.expect("Started.")) << term.output();
  ASSERT_TRUE(wait_until([&] { return server.log().size() >= 3; }, 15s)) << term.output();
  ASSERT_TRUE(term.expect("The job said woke.")) << term.output();
  ASSERT_TRUE(term.expect(kPrompt)) << term.output();
  term.type("next\r");
  ASSERT_TRUE(wait_until([&] { return server.log().size() >= 4; }, 15s)) << term.output();
  json asked = last_message(server.log()[3]["request"]);
  ASSERT_EQ(asked["content"].size(), 1u) << asked;
  EXPECT_EQ(asked["content"][0]["text"], "next");
  ASSERT_TRUE(term.expect("Answer to next.")) << term.output();
  term.type("\x04");
  EXPECT_EQ(term.wait_exit(), 0) << term.output();
}

// The REPL's default mode asks before each command: n refuses (the model reads it), y runs, a
// runs and stops asking for that command prefix, saved in the user's configuration.
TEST(E2eRepl, AskModeWaitsForAKeyBeforeEachCommandAndAlwaysIsRemembered) {
  TempDir dir;
  FakeServer server(dir, {
                             turn({tool_use("bash", {{"command", "touch refused"}})}),
                             turn({tool_use("bash", {{"command", "mkdir allowed"}})}),
                             turn({tool_use("bash", {{"command", "touch always-1"}})}),
                             turn({tool_use("bash", {{"command", "touch always-2"}})}),
                             turn({text_block("All done.")}),
                         });
  Env env = anthropic_env(dir, server);
  env["XDG_CONFIG_HOME"] = dir.file("config");
  Terminal term(dir.path(), env);
  ASSERT_TRUE(term.expect(kPrompt, 30s)) << term.output();
  term.type("make some files\r");
  // (Between escape codes: "? run `touch refused`  [y]es  [n]o  [a]lways for `touch` …".)
  ASSERT_TRUE(term.expect("? run `touch refused`")) << term.output();
  ASSERT_TRUE(term.expect("lways for `touch`")) << term.output();
  term.type("\r");  // Enter decides nothing
  term.type("n");
  ASSERT_TRUE(term.expect("? run `mkdir allowed`")) << term.output();
  term.type("y");
  ASSERT_TRUE(term.expect("? run `touch always-1`")) << term.output();
  term.type("a");
  ASSERT_TRUE(term.expect("All done.")) << term.output();
  EXPECT_EQ(term.output().find("? run `touch always-2`"), std::string::npos) << term.output();
  ASSERT_TRUE(term.expect(kPrompt)) << term.output();

  EXPECT_FALSE(std::filesystem::exists(dir.file("refused")));
  EXPECT_TRUE(std::filesystem::is_directory(dir.file("allowed")));
  EXPECT_TRUE(std::filesystem::exists(dir.file("always-1")));
  EXPECT_TRUE(std::filesystem::exists(dir.file("always-2")));
  auto log = server.answered();
  ASSERT_EQ(log.size(), 5u);
  auto refused = blocks_of(last_message(log[1]["request"]), "tool_result");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0]["is_error"], true);
  EXPECT_NE(all_text(refused[0]).find("the user declined"), std::string::npos) << refused[0];
  const std::string rules = read_file(dir.file("config/meanwhile/permissions.json"));
  EXPECT_NE(rules.find("\"pattern\": \"touch\""), std::string::npos) << rules;
  EXPECT_NE(rules.find(dir.path()), std::string::npos) << rules;
  term.type("\x04");
  EXPECT_EQ(term.wait_exit(), 0) << term.output();
}

// A failed job's note is marked as one (red on a terminal, and "✗" for NO_COLOR, which turns
// every colour off).
TEST(E2eRepl, AFailureNoteStandsOutAndNoColorIsHonoured) {
  TempDir dir;
  FakeServer server(dir, {
                             turn({tool_use("background_run", {{"command", "sleep 0.5; exit 3"}})}),
                             turn({text_block("Started.")}),
                             turn({text_block("It failed.")}),
                         });
  Env env = anthropic_env(dir, server);
  env["NO_COLOR"] = "1";
  Terminal term(dir.path(), env, kAuto);
  ASSERT_TRUE(term.expect(kPrompt, 30s)) << term.output();
  term.type("run it\r");
  ASSERT_TRUE(term.expect("✗ background: task 1")) << term.output();
  ASSERT_TRUE(term.expect("It failed.")) << term.output();
  EXPECT_EQ(term.output().find("\033[1;"), std::string::npos) << "no colour with NO_COLOR";
  EXPECT_EQ(term.output().find("\033[2m"), std::string::npos) << "no dimming with NO_COLOR";
  ASSERT_TRUE(term.expect(kPrompt)) << term.output();
  term.type("\x04");
  EXPECT_EQ(term.wait_exit(), 0) << term.output();
}

// /compact on demand: the earlier turns become the model's summary, and the next request carries
// it and the live-jobs block.
TEST(E2eRepl, SlashCompactSummarisesAndTheNextTurnListsTheLiveJobs) {
  TempDir dir;
  FakeServer server(dir, {
                             turn({text_block("one")}),
                             turn({text_block("two")}),
                             turn({text_block("SUMMARY: asked first and second")}),
                             turn({text_block("three")}),
                         });
  Terminal term(dir.path(), anthropic_env(dir, server), kAuto);
  ASSERT_TRUE(term.expect(kPrompt, 30s)) << term.output();
  term.type("first\r");
  ASSERT_TRUE(term.expect("one")) << term.output();
  ASSERT_TRUE(term.expect(kPrompt)) << term.output();
  term.type("second\r");
  ASSERT_TRUE(term.expect("two")) << term.output();
  ASSERT_TRUE(term.expect(kPrompt)) << term.output();
  term.type("/compact\r");
  ASSERT_TRUE(term.expect("(compacted: 2 earlier messages")) << term.output();
  ASSERT_TRUE(term.expect(kPrompt)) << term.output();
  term.type("third\r");
  ASSERT_TRUE(term.expect("three")) << term.output();
  auto log = server.answered();
  ASSERT_EQ(log.size(), 4u);
  const json& sent = log[3]["request"]["messages"];
  ASSERT_EQ(sent.size(), 3u) << sent.dump();  // second (with the summary), two, third
  EXPECT_NE(all_text(sent[0]).find("SUMMARY: asked first and second"), std::string::npos);
  EXPECT_NE(all_text(sent[2]).find("<live-jobs>"), std::string::npos) << sent.dump();
  ASSERT_TRUE(term.expect(kPrompt)) << term.output();
  term.type("\x04");
  EXPECT_EQ(term.wait_exit(), 0) << term.output();
}

// A reply cut mid-stream and retried: the part already shown is not printed again.
TEST(E2eRepl, ARetriedReplyIsNotPrintedTwice) {
  TempDir dir;
  const json reply = turn({text_block("Alpha-one beta-two gamma-three delta-four")});
  json cut = reply;
  cut["disconnect_after_events"] = 4;  // message_start, block start, two of three text pieces
  FakeServer server(dir, {cut, reply});
  Terminal term(dir.path(), anthropic_env(dir, server), kAuto);
  ASSERT_TRUE(term.expect(kPrompt, 30s)) << term.output();
  term.type("hello\r");
  ASSERT_TRUE(term.expect("retrying")) << term.output();
  ASSERT_TRUE(term.expect("delta-four")) << term.output();
  ASSERT_TRUE(term.expect(kPrompt)) << term.output();
  const std::string out = term.output();
  std::size_t shown = 0;
  for (auto at = out.find("Alpha-one"); at != std::string::npos; at = out.find("Alpha-one", at + 1))
    ++shown;
  EXPECT_EQ(shown, 1u) << out;
  EXPECT_EQ(server.log().size(), 2u) << "the cut reply and its retry";
  term.type("\x04");
  EXPECT_EQ(term.wait_exit(), 0) << term.output();
}

// /jobs puts the running job first, however many foreground calls ended after it started.
TEST(E2eRepl, SlashJobsListsRunningJobsFirst) {
  TempDir dir;
  FakeServer server(
      dir, {
               turn({tool_use("background_run", {{"command", "sleep 30"}, {"label", "server"}})}),
               turn({tool_use("bash", {{"command", "echo first-fg"}})}),
               turn({tool_use("bash", {{"command", "echo second-fg"}})}),
               turn({text_block("Both done.")}),
               turn({text_block("Noted the kill.")}),  // the killed job's wake-up
           });
  Terminal term(dir.path(), anthropic_env(dir, server), kAuto);
  ASSERT_TRUE(term.expect(kPrompt, 30s)) << term.output();
  term.type("go\r");
  ASSERT_TRUE(term.expect("Both done.")) << term.output();
  ASSERT_TRUE(term.expect(kPrompt)) << term.output();
  term.type("/jobs\r");
  ASSERT_TRUE(term.expect("`echo second-fg`")) << term.output();
  ASSERT_TRUE(term.expect(kPrompt)) << term.output();
  const std::string out = term.output();
  const auto listed = out.rfind("/jobs");
  const auto server_line = out.find("(server) running", listed);
  const auto first_fg = out.find("`echo first-fg`", listed);
  ASSERT_NE(server_line, std::string::npos) << out;
  ASSERT_NE(first_fg, std::string::npos) << out;
  EXPECT_LT(server_line, first_fg) << out;
  term.type("/kill 1\r");
  ASSERT_TRUE(term.expect("killing task 1")) << term.output();
  ASSERT_TRUE(term.expect("Noted the kill.")) << term.output();
  ASSERT_TRUE(term.expect(kPrompt)) << term.output();
  term.type("\x04");
  EXPECT_EQ(term.wait_exit(), 0) << term.output();
}

TEST(E2eRepl, CtrlCInterruptsAndExitWithARunningJobAsksThenKillsIt) {
  TempDir dir;
  FakeServer server(
      dir, {
               turn({tool_use("background_run", {{"command", "sleep 61.25"}, {"label", "long"}})}),
               turn({text_block("Long job started.")}),
               {{"delay_ms", 8000}, {"content", json::array({text_block("too slow")})}},
           });
  Terminal term(dir.path(), anthropic_env(dir, server), kAuto);
  ASSERT_TRUE(term.expect(kPrompt, 30s)) << term.output();
  term.type("start long\r");
  ASSERT_TRUE(term.expect("Long job started.")) << term.output();
  ASSERT_TRUE(term.expect(kPrompt)) << term.output();
  EXPECT_TRUE(process_alive("sleep 61.25"));

  term.type("take your time\r");
  ASSERT_TRUE(wait_until([&] { return server.log().size() >= 3; }, 10s));
  auto sent = Clock::now();
  term.type("\x03");  // Ctrl+C during the model request
  ASSERT_TRUE(term.expect("interrupted", 5s)) << term.output();
  EXPECT_LT(Clock::now() - sent, 5s);
  ASSERT_TRUE(term.expect(kPrompt)) << term.output();
  EXPECT_TRUE(process_alive("sleep 61.25"));  // Ctrl+C never reaches jobs

  term.type("/help\r");
  ASSERT_TRUE(term.expect("/output ID")) << term.output();
  ASSERT_TRUE(term.expect(kPrompt)) << term.output();
  term.type("/output 1\r");
  ASSERT_TRUE(term.expect("(no output yet)")) << term.output();
  ASSERT_TRUE(term.expect(kPrompt)) << term.output();
  term.type("/kill 99\r");
  ASSERT_TRUE(term.expect("error:")) << term.output();
  ASSERT_TRUE(term.expect(kPrompt)) << term.output();
  term.type("/exit\r");
  ASSERT_TRUE(term.expect("still running; kill them and exit? [y/N]")) << term.output();
  term.type("n\r");
  ASSERT_TRUE(term.expect(kPrompt)) << term.output();
  term.type("\x04");
  ASSERT_TRUE(term.expect("kill them and exit? [y/N]")) << term.output();
  term.type("y\r");
  EXPECT_EQ(term.wait_exit(), 0) << term.output();
  EXPECT_TRUE(wait_until([] { return !process_alive("sleep 61.25"); }, 5s));
}

}  // namespace
}  // namespace e2e
