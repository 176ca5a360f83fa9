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
    RunResult r = run_meanwhile(args, dir.path(), base_env(dir.path()), std::chrono::seconds(20),
                                "");
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
