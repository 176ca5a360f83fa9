// The background tools against a real lane: run, check, output, wait, kill, input.
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "tools/format.h"
#include "tools_fixture.h"

namespace meanwhile::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using Clock = std::chrono::steady_clock;

class BackgroundToolsTest : public ToolsTest {
 protected:
  // Polls background_output (mode all) until `text` shows up, for up to 5 s.
  bool output_contains(const std::string& id, const std::string& text) {
    auto deadline = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < deadline) {
      auto out = call("background_output", {{"task_id", id}, {"mode", "all"}});
      if (out.structured.value("text", std::string()).find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
};

TEST_F(BackgroundToolsTest, RunReturnsAtOnceAndNotifies) {
  auto result = call("background_run", {{"command", "sleep 1; echo finished"}, {"label", "nap"}});
  ASSERT_FALSE(result.is_error) << result.text;
  const std::string id = result.structured["task_id"];
  // Returned while the job runs.
  EXPECT_FALSE(is_terminal(lane_->get(id)->status));
  EXPECT_THAT(result.text,
              StartsWith("started task " + id + ": `sleep 1; echo finished` (nap) (pid "));
  EXPECT_THAT(result.text, HasSubstr("<background-results>"));
  EXPECT_THAT(result.structured["status"].get<std::string>(),
              ::testing::AnyOf("running", "queued"));
  auto notes = lane_->wait(std::chrono::seconds(10), {id});
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].kind, NoteKind::finished);
  EXPECT_THAT(format_note(notes[0]), HasSubstr("(nap) exited 0 after "));
}

TEST_F(BackgroundToolsTest, TheSameCommandRunningIsNotStartedAgain) {
  auto first = call("background_run", {{"command", "sleep 30"}, {"label", "server"}});
  ASSERT_FALSE(first.is_error) << first.text;
  const std::string id = first.structured["task_id"];
  auto again = call("background_run", {{"command", "sleep 30"}, {"cwd", "."}});
  EXPECT_FALSE(again.is_error) << again.text;
  EXPECT_EQ(again.structured["task_id"], id);
  EXPECT_EQ(again.structured["already_running"], true);
  EXPECT_THAT(again.text, StartsWith("already running as task " + id + ": `sleep 30` (server) "));
  EXPECT_THAT(again.text, HasSubstr("allow_duplicate: true"));
  EXPECT_EQ(lane_->list(0).size(), 1u) << "nothing new was submitted";

  // Asked for, or another directory, or another command: a new job.
  auto forced = call("background_run", {{"command", "sleep 30"}, {"allow_duplicate", true}});
  ASSERT_FALSE(forced.is_error) << forced.text;
  EXPECT_NE(forced.structured["task_id"], id);
  EXPECT_FALSE(forced.structured.contains("already_running"));
  std::filesystem::create_directory(workspace_ + "/sub");
  auto elsewhere = call("background_run", {{"command", "sleep 30"}, {"cwd", "sub"}});
  EXPECT_NE(elsewhere.structured["task_id"], id) << elsewhere.text;
  auto other = call("background_run", {{"command", "sleep 31"}});
  EXPECT_NE(other.structured["task_id"], id) << other.text;

  // Once both copies in the workspace have ended, the same command starts again.
  for (const std::string& task : {id, forced.structured["task_id"].get<std::string>()}) {
    ASSERT_TRUE(lane_->kill(task));
    wait_done(task, 10);
  }
  auto after_end = call("background_run", {{"command", "sleep 30"}, {"cwd", "sub/.."}});
  EXPECT_FALSE(after_end.structured.contains("already_running")) << after_end.text;
  EXPECT_NE(after_end.structured["task_id"], id);
}

TEST_F(BackgroundToolsTest, RunValidatesItsOptions) {
  auto result = call("background_run", {{"command", "true"}, {"watch", "(unclosed"}});
  EXPECT_TRUE(result.is_error);
  EXPECT_THAT(result.text, StartsWith("watch: invalid watch regex '(unclosed'"));
  result = call("background_run", {{"command", "true"}, {"after", {"424242"}}});
  EXPECT_TRUE(result.is_error);
  EXPECT_THAT(result.text, StartsWith("after: unknown task 424242"));
  result = call("background_run", {{"command", "true"}, {"stdin", "tty"}});
  EXPECT_THAT(result.text, HasSubstr("stdin: must be one of \"null\", \"pipe\""));
  result = call("background_run", {{"command", ""}});
  EXPECT_THAT(result.text, HasSubstr("command: must not be empty"));
}

TEST_F(BackgroundToolsTest, ARunningJobIsListedAfter250QuickOnes) {
  auto sleeper = call("background_run", {{"command", "sleep 300"}});
  ASSERT_FALSE(sleeper.is_error) << sleeper.text;
  const std::string id = sleeper.structured["task_id"];
  std::vector<JobId> quick;
  for (int i = 0; i < 250; ++i) {
    JobSpec spec;
    spec.command = "true";
    quick.push_back(*lane_->submit(spec));
  }
  for (const JobId& q : quick) {
    auto ended = lane_->wait_terminal({q}, std::chrono::seconds(10));
    ASSERT_TRUE(ended.ok() && ended->has_value()) << q;
  }
  auto listed = call("check_background", json::object());
  EXPECT_THAT(listed.text, HasSubstr(": 1 running,")) << listed.text;
  EXPECT_THAT(listed.text, HasSubstr("[task " + id + "]")) << listed.text;
  EXPECT_EQ(listed.structured["running"], 1);
  ASSERT_FALSE(call("background_kill", {{"task_id", id}}).is_error);
}

TEST_F(BackgroundToolsTest, HugeTimeoutsAreRefusedNotWrappedAround) {
  // 1e10 s used to overflow the clock and kill the job at once; 1e16 printed a negative number.
  for (double seconds : {1e10, 1e16, 1e300}) {
    auto result = call("background_run", {{"command", "sleep 5"}, {"timeout", seconds}});
    EXPECT_TRUE(result.is_error) << seconds;
    EXPECT_THAT(result.text, HasSubstr("timeout: must be at most 2592000")) << result.text;
    EXPECT_THAT(result.text, Not(HasSubstr("-9223372036854775808")));
  }
  auto month = call("background_run", {{"command", "sleep 0.1"}, {"timeout", 2592000}});
  EXPECT_FALSE(month.is_error) << month.text;
  JobSpec spec;
  spec.command = "true";
  spec.timeout = std::chrono::milliseconds(std::numeric_limits<long long>::max());
  auto direct = lane_->submit(spec);
  ASSERT_FALSE(direct.ok());
  EXPECT_THAT(direct.error(), HasSubstr("at most 366 days"));
}

TEST_F(BackgroundToolsTest, CheckBackgroundListsRunningFirst) {
  const std::string quick = start({{"command", "echo quick-line"}, {"label", "quick"}});
  wait_done(quick);
  const std::string a = start({{"command", "echo working; sleep 5"}, {"label", "slow a"}});
  const std::string b = start({{"command", "sleep 5"}});
  ASSERT_TRUE(output_contains(a, "working"));
  auto result = call("check_background", json::object());
  ASSERT_FALSE(result.is_error) << result.text;
  EXPECT_THAT(result.text, StartsWith("3 jobs: 2 running, 0 queued, 1 finished\n"));
  auto pos_a = result.text.find("[task " + a + "] `echo working; sleep 5` (slow a) running for ");
  auto pos_b = result.text.find("[task " + b + "] `sleep 5` running for ");
  auto pos_q = result.text.find("[task " + quick + "] `echo quick-line` (quick) exited 0 after ");
  ASSERT_NE(pos_a, std::string::npos) << result.text;
  ASSERT_NE(pos_b, std::string::npos) << result.text;
  ASSERT_NE(pos_q, std::string::npos) << result.text;
  EXPECT_LT(pos_b, pos_q);
  EXPECT_THAT(result.text, HasSubstr("— last: working"));
  EXPECT_THAT(result.text, HasSubstr("— last: quick-line"));
  EXPECT_EQ(result.structured["running"], 2);
  EXPECT_EQ(result.structured["jobs"].size(), 3u);

  result = call("check_background", {{"task_id", a}});
  ASSERT_FALSE(result.is_error) << result.text;
  EXPECT_THAT(result.text,
              StartsWith("[task " + a + "] `echo working; sleep 5` (slow a) running for "));
  EXPECT_THAT(result.text, HasSubstr("\npid: "));
  EXPECT_THAT(result.text, HasSubstr("\nlast line: working"));
  EXPECT_THAT(result.text, HasSubstr("\nlog: /"));
  EXPECT_EQ(result.structured["job"]["status"], "running");

  result = call("check_background", {{"task_id", "nope"}});
  EXPECT_TRUE(result.is_error);
  EXPECT_THAT(result.text, StartsWith("unknown task nope"));
  EXPECT_THAT(result.text, HasSubstr("check_background without task_id lists every job"));
}

TEST_F(BackgroundToolsTest, OutputModesAndFilter) {
  const std::string id = start({{"command", "seq 1 10"}});
  wait_done(id);
  auto result = call("background_output", {{"task_id", id}});
  ASSERT_FALSE(result.is_error) << result.text;
  EXPECT_THAT(result.text, StartsWith("[task " + id + "] `seq 1 10` exited 0 after "));
  EXPECT_THAT(result.text, HasSubstr("new output since the last read:\n1\n2\n"));
  EXPECT_EQ(result.structured["text"], "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n");
  result = call("background_output", {{"task_id", id}, {"mode", "new"}});
  EXPECT_THAT(result.text, HasSubstr("(no new output)"));
  EXPECT_EQ(result.structured["text"], "");
  result = call("background_output", {{"task_id", id}, {"mode", "tail"}, {"lines", 3}});
  EXPECT_EQ(result.structured["text"], "8\n9\n10\n");
  EXPECT_THAT(result.text, HasSubstr("last 3 lines:"));
  result = call("background_output", {{"task_id", id}, {"mode", "head"}, {"lines", 2}});
  EXPECT_EQ(result.structured["text"], "1\n2\n");
  result = call("background_output", {{"task_id", id}, {"mode", "all"}, {"filter", "^[13]$"}});
  EXPECT_EQ(result.structured["text"], "1\n3\n");
  EXPECT_THAT(result.text, HasSubstr("lines matching `^[13]$`"));
  result = call("background_output", {{"task_id", id}, {"filter", "[z-a]"}});
  EXPECT_TRUE(result.is_error);
  EXPECT_THAT(result.text, StartsWith("filter: invalid filter regex"));
  result = call("background_output", {{"task_id", "12345"}});
  EXPECT_THAT(result.text, StartsWith("unknown task 12345"));
}

TEST_F(BackgroundToolsTest, WaitReturnsWhenAJobFinishes) {
  const std::string slow = start({{"command", "sleep 5"}});
  const std::string id = start({{"command", "sleep 0.5; echo bye; exit 4"}, {"label", "short"}});
  auto begin = Clock::now();
  auto result = call("background_wait", {{"task_ids", {id, slow}}, {"timeout", 20}});
  EXPECT_LT(Clock::now() - begin, std::chrono::seconds(4));
  ASSERT_FALSE(result.is_error) << result.text;
  EXPECT_THAT(result.text, StartsWith("1 event after "));
  EXPECT_THAT(result.text,
              HasSubstr("[task " + id + "] `sleep 0.5; echo bye; exit 4` (short) exited 4 after "));
  EXPECT_THAT(result.text, HasSubstr("bye"));
  EXPECT_THAT(result.text, HasSubstr("still running:\n[task " + slow + "]"));
  EXPECT_EQ(result.structured["timed_out"], false);
  ASSERT_EQ(result.structured["events"].size(), 1u);
  EXPECT_EQ(result.structured["events"][0]["kind"], "finished");
  EXPECT_EQ(result.structured["events"][0]["job"]["exit_code"], 4);
  // The note it returned was consumed: it is not delivered a second time.
  for (const auto& note : lane_->drain()) EXPECT_NE(note.job, id);
  // Waiting again on the ended job answers at once.
  begin = Clock::now();
  result = call("background_wait", {{"task_ids", {id}}, {"timeout", 20}});
  EXPECT_LT(Clock::now() - begin, std::chrono::seconds(2));
  EXPECT_THAT(result.text, HasSubstr("[task " + id + "]"));
  EXPECT_THAT(result.text, HasSubstr("exited 4"));
  call("background_kill", {{"task_id", slow}});
}

TEST_F(BackgroundToolsTest, WaitTimesOutWithoutKilling) {
  const std::string id = start({{"command", "sleep 5"}, {"label", "sleeper"}});
  std::vector<double> progress;
  ctx_->progress = [&](double done, double, const std::string&) { progress.push_back(done); };
  auto result = call("background_wait", {{"task_ids", {id}}, {"timeout", 1.2}});
  ASSERT_FALSE(result.is_error) << result.text;
  EXPECT_THAT(result.text, StartsWith("nothing finished within 1."));
  EXPECT_THAT(
      result.text,
      HasSubstr("still running (not killed; you will be notified when they finish):\n[task " + id +
                "] `sleep 5` (sleeper) running for "));
  EXPECT_EQ(result.structured["timed_out"], true);
  EXPECT_EQ(result.structured["running"].size(), 1u);
  EXPECT_FALSE(progress.empty());
  EXPECT_EQ(lane_->get(id)->status, JobStatus::running);
  call("background_kill", {{"task_id", id}});
}

TEST_F(BackgroundToolsTest, WaitWithoutIds) {
  auto result = call("background_wait", json::object());
  EXPECT_EQ(result.text, "no background jobs are running; nothing to wait for");
  const std::string id = start({{"command", "sleep 0.3"}});
  result = call("background_wait", {{"timeout", 10}});
  EXPECT_THAT(result.text, StartsWith("1 event after "));
  EXPECT_THAT(result.text, HasSubstr("[task " + id + "]"));
}

// A host that bounds its pending notes (the MCP server does) drops the oldest successes past
// the bound; background_wait says how many, so the model looks at the jobs themselves.
TEST_F(BackgroundToolsTest, WaitSaysWhenEventsWereDropped) {
  ctx_.reset();
  lane_.reset();
  LaneOptions options;
  options.workspace = workspace_;
  options.data_dir = root_ + "/data-bounded";
  options.max_pending_notes = 2;
  auto lane = Lane::open(options);
  ASSERT_TRUE(lane.ok()) << lane.error();
  lane_ = std::move(*lane);
  ctx_ = std::make_unique<ToolContext>(ToolContext{*lane_, workspace_, &cancel_, {}});
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i)
    ids.push_back(start({{"command", "true"}, {"allow_duplicate", true}}));
  for (const auto& id : ids) {
    auto done = lane_->wait_terminal({id}, std::chrono::seconds(20));
    ASSERT_TRUE(done.ok() && done->has_value()) << id;
  }
  auto deadline = Clock::now() + std::chrono::seconds(5);
  while (lane_->dropped_notes() < 3 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(lane_->dropped_notes(), 3u);
  EXPECT_EQ(lane_->pending_notes(), 2u);
  auto result = call("background_wait", {{"timeout", 10}});
  EXPECT_THAT(result.text, HasSubstr("3 older events were dropped"));
  EXPECT_THAT(result.text, HasSubstr("check_background shows every job"));
  EXPECT_EQ(result.structured.value("dropped_events", 0), 3);
  EXPECT_EQ(result.structured["events"].size(), 2u);
}

TEST_F(BackgroundToolsTest, WaitIsCancellable) {
  const std::string id = start({{"command", "sleep 10"}});
  std::thread canceller([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel_ = true;
  });
  auto begin = Clock::now();
  auto result = call("background_wait", {{"task_ids", {id}}, {"timeout", 30}});
  canceller.join();
  EXPECT_LT(Clock::now() - begin, std::chrono::seconds(3));
  EXPECT_TRUE(result.is_error);
  EXPECT_THAT(result.text, StartsWith("cancelled after "));
  EXPECT_EQ(result.structured["cancelled"], true);
  cancel_ = false;
  call("background_kill", {{"task_id", id}});
}

TEST_F(BackgroundToolsTest, WatchMatchesWakeWait) {
  const std::string id = start(
      {{"command", "sleep 0.2; echo 'server listening on 8080'; sleep 5"}, {"watch", "listening"}});
  auto result = call("background_wait", {{"task_ids", {id}}, {"timeout", 10}});
  ASSERT_FALSE(result.is_error) << result.text;
  EXPECT_THAT(result.text,
              HasSubstr("printed lines matching `listening`:\nserver listening on 8080"));
  EXPECT_EQ(result.structured["events"][0]["kind"], "matched");
  call("background_kill", {{"task_id", id}});
}

TEST_F(BackgroundToolsTest, KillStopsTheJob) {
  const std::string id = start({{"command", "sleep 30"}, {"label", "forever"}});
  auto result = call("background_kill", {{"task_id", id}});
  ASSERT_FALSE(result.is_error) << result.text;
  EXPECT_THAT(result.text, StartsWith("sent SIGTERM to [task " + id +
                                      "] `sleep 30` (forever) (process group of pid "));
  EXPECT_THAT(result.text, HasSubstr("; it was killed after "));
  EXPECT_EQ(result.structured["status"], "killed");
  EXPECT_EQ(lane_->get(id)->status, JobStatus::killed);
  result = call("background_kill", {{"task_id", id}});
  EXPECT_FALSE(result.is_error);
  EXPECT_THAT(result.text, HasSubstr("had already ended (was killed after"));
  EXPECT_THAT(result.text, HasSubstr("nothing is left to kill"));
  EXPECT_EQ(result.structured["signalled"], false);
  result = call("background_kill", {{"task_id", "31337"}});
  EXPECT_TRUE(result.is_error);
}

TEST_F(BackgroundToolsTest, KillEndsLeftoverProcesses) {
  const std::string id = start({{"command", "sleep 30 & echo spawned"}});
  JobInfo done = wait_done(id);
  EXPECT_EQ(done.exit_code, 0);
  auto info = lane_->get(id);
  ASSERT_TRUE(info.ok());
  if (info->descendants.empty()) GTEST_SKIP() << "the lane does not report leftover processes";
  auto result = call("background_kill", {{"task_id", id}});
  EXPECT_THAT(result.text, HasSubstr("had already ended"));
  EXPECT_THAT(result.text, HasSubstr("process it left running"));
}

TEST_F(BackgroundToolsTest, InputToAPipeJob) {
  const std::string id = start({{"command", "cat"}, {"stdin", "pipe"}, {"label", "echo"}});
  auto result = call("background_input", {{"task_id", id}, {"text", "hello there\n"}});
  ASSERT_FALSE(result.is_error) << result.text;
  EXPECT_EQ(result.text, "wrote 12 bytes to the stdin of task " + id +
                             ". Read its reaction with background_output {\"task_id\":\"" + id +
                             "\"}.");
  EXPECT_TRUE(output_contains(id, "hello there"));
  result = call("background_input", {{"task_id", id}, {"text", "bye\n"}, {"close", true}});
  ASSERT_FALSE(result.is_error) << result.text;
  EXPECT_THAT(result.text, HasSubstr("and closed it (the program now reads end-of-file)"));
  JobInfo done = wait_done(id);
  EXPECT_TRUE(done.succeeded());
  EXPECT_TRUE(output_contains(id, "hello there\nbye\n"));
  result = call("background_input", {{"task_id", id}, {"text", "late\n"}});
  EXPECT_TRUE(result.is_error);
}

TEST_F(BackgroundToolsTest, InputNeedsAPipe) {
  const std::string id = start({{"command", "sleep 5"}});
  auto result = call("background_input", {{"task_id", id}, {"text", "y\n"}});
  EXPECT_TRUE(result.is_error);
  EXPECT_THAT(result.text, HasSubstr("was not started with stdin \"pipe\""));
  call("background_kill", {{"task_id", id}});
}

TEST_F(BackgroundToolsTest, TimeoutAndAfter) {
  const std::string limited = start({{"command", "sleep 10"}, {"timeout", 0.5}});
  EXPECT_EQ(wait_done(limited).status, JobStatus::timed_out);
  const std::string failing = start({{"command", "exit 1"}});
  const std::string dependent = start({{"command", "echo never"}, {"after", {failing}}});
  EXPECT_EQ(wait_done(dependent).status, JobStatus::skipped);
  auto result = call("check_background", {{"task_id", dependent}});
  EXPECT_THAT(result.text, HasSubstr("was skipped"));
}

}  // namespace
}  // namespace meanwhile::testing
