// bash: runs through the lane; exit codes, output, cwd, interruption, and moving to the
// background at its timeout.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "tools_fixture.h"

namespace meanwhile::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;
using Clock = std::chrono::steady_clock;

class BashToolTest : public ToolsTest {};

TEST_F(BashToolTest, SuccessShowsExitCodeAndOutput) {
  auto result = call("bash", {{"command", "echo hello; echo oops >&2"}, {"description", "greet"}});
  ASSERT_FALSE(result.is_error) << result.text;
  EXPECT_THAT(result.text, MatchesRegex("exit code 0 after [0-9.]+s\n(.|\n)*"));
  EXPECT_THAT(result.text, HasSubstr("hello\n"));
  EXPECT_THAT(result.text, HasSubstr("oops"));
  EXPECT_EQ(result.structured["exit_code"], 0);
  EXPECT_EQ(result.structured["backgrounded"], false);
  EXPECT_EQ(result.structured["status"], "exited");
  // The job's own notes were consumed: it will not come back as a background result.
  for (const auto& note : lane_->drain()) EXPECT_NE(note.job, result.structured["task_id"]);
  // It is a lane job with the description as its label.
  auto job = lane_->get(result.structured["task_id"].get<std::string>());
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->spec.label, "greet");
}

TEST_F(BashToolTest, FailureAndSignal) {
  auto result = call("bash", {{"command", "exit 3"}});
  ASSERT_FALSE(result.is_error) << result.text;
  EXPECT_THAT(result.text,
              MatchesRegex("exit code 3 after [0-9.]+s \\(the command failed\\)\n\\(no output\\)"));
  EXPECT_EQ(result.structured["exit_code"], 3);
  result = call("bash", {{"command", "kill -9 $$"}});
  EXPECT_THAT(result.text, StartsWith("killed by SIGKILL (signal 9) after "));
  EXPECT_EQ(result.structured["signal"], 9);
}

TEST_F(BashToolTest, WorkingDirectory) {
  std::filesystem::create_directories(path("sub/dir"));
  auto result = call("bash", {{"command", "pwd"}, {"cwd", "sub/dir"}});
  ASSERT_FALSE(result.is_error) << result.text;
  EXPECT_THAT(result.text, ::testing::EndsWith("\n" + workspace_ + "/sub/dir"));
  result = call("bash", {{"command", "pwd"}});
  EXPECT_THAT(result.text, ::testing::EndsWith("\n" + workspace_));
  result = call("bash", {{"command", "pwd"}, {"cwd", "nope"}});
  EXPECT_TRUE(result.is_error);
  EXPECT_EQ(result.text, "cwd nope does not exist");
}

TEST_F(BashToolTest, StdinIsEmpty) {
  auto start = Clock::now();
  auto result = call("bash", {{"command", "read answer; echo got:$answer"}});
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  EXPECT_THAT(result.text, HasSubstr("got:"));
}

TEST_F(BashToolTest, LongOutputIsCutInTheMiddle) {
  auto result = call("bash", {{"command", "seq 1 100000"}});
  ASSERT_FALSE(result.is_error) << result.text;
  EXPECT_LT(result.text.size(), 32000u);
  EXPECT_THAT(result.text, HasSubstr("\n1\n2\n3\n"));
  EXPECT_THAT(result.text, HasSubstr("omitted"));
  EXPECT_THAT(result.text, HasSubstr("\n100000"));
}

TEST_F(BashToolTest, MovedToBackgroundAtTimeout) {
  auto start = Clock::now();
  auto result = call("bash", {{"command", "echo started; sleep 2; echo done"}, {"timeout", 1}});
  auto took = Clock::now() - start;
  ASSERT_FALSE(result.is_error) << result.text;
  // It returned at its timeout, before the command ended (checked below: still running).
  EXPECT_GE(took, std::chrono::milliseconds(900));
  const std::string id = result.structured["task_id"];
  EXPECT_EQ(result.structured["backgrounded"], true);
  EXPECT_TRUE(result.structured["exit_code"].is_null());
  EXPECT_THAT(result.text, StartsWith("still running after 1.0s: moved to the background as task " +
                                      id + " (it was not killed).\noutput so far:\nstarted\n"));
  EXPECT_THAT(result.text, HasSubstr("<background-results>"));
  EXPECT_THAT(result.text, HasSubstr("background_kill {\"task_id\":\"" + id + "\"}"));
  auto job = lane_->get(id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->status, JobStatus::running);

  // It finishes later by itself, and its finished note reaches the host.
  auto notes = lane_->wait(std::chrono::seconds(10), {id});
  ASSERT_FALSE(notes.empty());
  EXPECT_EQ(notes.back().kind, NoteKind::finished);
  EXPECT_TRUE(notes.back().info.succeeded());
  // Reading "new" output continues after what the bash result already showed.
  auto output = call("background_output", {{"task_id", id}});
  EXPECT_EQ(output.structured["text"], "done\n");
}

TEST_F(BashToolTest, CancelInterruptsAndKills) {
  std::thread canceller([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel_ = true;
  });
  auto start = Clock::now();
  auto result = call("bash", {{"command", "sleep 30"}});
  canceller.join();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(result.is_error);
  EXPECT_THAT(result.text, StartsWith("interrupted: the command was stopped (task "));
  const std::string id = result.structured["task_id"];
  EXPECT_EQ(wait_done(id).status, JobStatus::killed);
}

TEST_F(BashToolTest, BackgroundedChildDoesNotHoldTheCall) {
  auto start = Clock::now();
  auto result = call("bash", {{"command", "sleep 20 & echo hi"}});
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  ASSERT_FALSE(result.is_error) << result.text;
  EXPECT_THAT(result.text, StartsWith("exit code 0 after "));
  EXPECT_THAT(result.text, HasSubstr("hi"));
  const std::string id = result.structured["task_id"];
  auto job = lane_->get(id);
  ASSERT_TRUE(job.ok());
  if (!job->descendants.empty()) {
    EXPECT_THAT(result.text, HasSubstr("still running as part of task " + id));
  }
  call("background_kill", {{"task_id", id}});
}

}  // namespace
}  // namespace meanwhile::testing
