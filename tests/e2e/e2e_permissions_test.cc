// --permission-mode in print mode: auto (the default, said once on stderr), read-only (refused,
// the model reads why, the run still ends 0), and ask with no terminal to ask on.
#include <filesystem>

#include <gtest/gtest.h>

#include "e2e_util.h"

namespace e2e {
namespace {

std::vector<json> touch_then_answer(const std::string& file) {
  return {turn({tool_use("bash", {{"command", "touch " + file}})}),
          turn({tool_use("write_file", {{"path", file + ".txt"}, {"content", "x\n"}})}),
          turn({text_block("Final answer.")})};
}

std::size_t count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1))
    ++n;
  return n;
}

TEST(E2ePermissions, PrintModeRunsEverythingByDefaultAndSaysSoOnce) {
  TempDir dir;
  FakeServer server(dir, touch_then_answer("made"));
  RunResult r = run_meanwhile({"-p", "go"}, dir.path(), anthropic_env(dir, server));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(dir.file("made")));
  EXPECT_TRUE(std::filesystem::exists(dir.file("made.txt")));
  EXPECT_EQ(count(r.err, "commands and file writes run without asking"), 1u) << r.err;
}

TEST(E2ePermissions, ReadOnlyRefusesCommandsAndWritesAndTheRunStillSucceeds) {
  TempDir dir;
  FakeServer server(dir, touch_then_answer("made"));
  RunResult r = run_meanwhile({"-p", "go", "--permission-mode", "read-only"}, dir.path(),
                              anthropic_env(dir, server));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("made")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("made.txt")));
  EXPECT_NE(r.out.find("Final answer."), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("run without asking"), std::string::npos) << r.err;
  auto log = server.answered();
  ASSERT_EQ(log.size(), 3u);
  for (int i = 1; i < 3; ++i) {
    auto results = blocks_of(last_message(log[i]["request"]), "tool_result");
    ASSERT_EQ(results.size(), 1u) << i;
    EXPECT_EQ(results[0]["is_error"], true);
    EXPECT_NE(all_text(results[0]).find("read-only mode"), std::string::npos) << results[0];
  }
}

TEST(E2ePermissions, AskWithoutATerminalRefusesAndNamesTheWayOut) {
  TempDir dir;
  FakeServer server(dir, touch_then_answer("made"));
  RunResult r = run_meanwhile({"-p", "go", "--permission-mode", "ask"}, dir.path(),
                              anthropic_env(dir, server));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("made")));
  auto log = server.answered();
  ASSERT_GE(log.size(), 2u);
  auto results = blocks_of(last_message(log[1]["request"]), "tool_result");
  ASSERT_EQ(results.size(), 1u);
  EXPECT_NE(all_text(results[0]).find("no terminal to ask on"), std::string::npos) << results[0];
  EXPECT_NE(all_text(results[0]).find("--permission-mode auto"), std::string::npos);
}

TEST(E2ePermissions, AnUnknownModeIsAUsageError) {
  TempDir dir;
  RunResult r =
      run_meanwhile({"-p", "go", "--permission-mode", "yolo"}, dir.path(), base_env(dir.path()));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--permission-mode"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace e2e
