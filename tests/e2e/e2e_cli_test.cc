// The command line as a user meets it: flags that only apply with -p are refused without it,
// bounds are stated plainly, -p prints the final answer alone, and --help says what the code does.
#include <gtest/gtest.h>

#include "e2e_util.h"

namespace e2e {
namespace {

TEST(E2eCli, PrintOnlyFlagsAreRefusedWithoutP) {
  TempDir dir;
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--output-format", "stream-json"},
        std::vector<std::string>{"--max-wait", "5"}}) {
    RunResult r =
        run_meanwhile(args, dir.path(), base_env(dir.path()), std::chrono::seconds(20), "");
    EXPECT_EQ(r.exit_code, 2) << args[0] << ": " << r.err;
    EXPECT_NE(r.err.find(args[0]), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("-p"), std::string::npos) << r.err;
  }
}

TEST(E2eCli, MaxWaitZeroSaysWhatIsAllowedInOneShortLine) {
  TempDir dir;
  RunResult r = run_meanwhile({"-p", "x", "--max-wait", "0"}, dir.path(), base_env(dir.path()));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("must be a number of seconds above 0"), std::string::npos) << r.err;
  EXPECT_LT(r.err.size(), 300u) << r.err;
}

TEST(E2eCli, PrintModePrintsTheFinalAnswerAloneOnStdout) {
  TempDir dir;
  FakeServer server(dir, {
                             turn({text_block("Looking at it first."),
                                   tool_use("bash", {{"command", "echo checked"}})}),
                             turn({text_block("The answer is 42.")}),
                         });
  RunResult r = run_meanwhile({"-p", "what is it?"}, dir.path(), anthropic_env(dir, server));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "The answer is 42.\n");
  EXPECT_NE(r.err.find("Looking at it first."), std::string::npos) << r.err;  // progress
  EXPECT_NE(r.err.find("bash echo checked"), std::string::npos) << r.err;
}

TEST(E2eCli, HelpTellsTheTruthAboutModesAndWake) {
  TempDir dir;
  RunResult r = run_meanwhile({"--help"}, dir.path(), base_env(dir.path()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* said : {"--permission-mode", "read-only", "the default with -p",
                           "killing the jobs still running", "With -p: seconds to wait"})
    EXPECT_NE(r.out.find(said), std::string::npos) << said << "\n" << r.out;
}

}  // namespace
}  // namespace e2e

namespace e2e {
namespace {

// A tiny --context-window against the fake server (which checks every request as the API
// would): the older turns become a summary, and the request after it names the live job.
// 6,000 tokens: the system prompt and the tools are about 3,700, so the 12,000-byte tool output
// passes 80% (4,800) and the compacted conversation does not.
TEST(E2eCli, ATinyContextWindowCompactsAndTheNextRequestNamesEveryLiveJob) {
  TempDir dir;
  FakeServer server(
      dir,
      {
          turn({tool_use("background_run", {{"command", "sleep 4"}, {"label", "dev server"}})}),
          turn({tool_use("bash", {{"command", "head -c 12000 /dev/zero | tr '\\0' x"}})}),
          turn({tool_use("background_run", {{"command", "sleep 0.5; echo built"}})}),
          turn({text_block("Waiting for the build.")}),
          turn({text_block("SUMMARY: a dev server runs as task 1; a build ran.")}),
          turn({text_block("The build is done; the server still runs.")}),
          turn({text_block("All done.")}),
      });
  RunResult r = run_meanwhile({"-p", "start the server and build", "--context-window", "6000"},
                              dir.path(), anthropic_env(dir, server));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "All done.\n");
  auto log = server.answered();
  ASSERT_EQ(log.size(), 7u) << r.err;
  const json& summary = log[4]["request"];
  EXPECT_NE(all_text(summary["system"]).find("compact"), std::string::npos) << summary.dump();
  const json& after = log[5]["request"];
  ASSERT_EQ(after["messages"].size(), 1u) << after.dump();
  const std::string sent = all_text(after["messages"]);
  EXPECT_NE(sent.find("<conversation-summary>"), std::string::npos) << sent;
  EXPECT_NE(sent.find("SUMMARY: a dev server runs as task 1"), std::string::npos) << sent;
  EXPECT_NE(sent.find("<background-results>"), std::string::npos) << "the build's note" << sent;
  EXPECT_NE(sent.find("<live-jobs>\n[task 1] `sleep 4` (dev server) running"), std::string::npos)
      << sent;
  EXPECT_NE(r.err.find("(compacted: "), std::string::npos) << r.err;
}

}  // namespace
}  // namespace e2e
