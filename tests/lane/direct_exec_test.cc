// Plain commands are exec'd without /bin/sh; everything else, and every failure, goes through
// the shell exactly as written.
#include "lane/direct_exec.h"

#include <sys/stat.h>

#include <fstream>

#include "lane_test_util.h"

namespace meanwhile::testing {
namespace {

std::vector<std::string> words(std::string_view command) {
  auto plan = plan_direct_exec(command, "/usr/bin:/bin");
  return plan ? plan->argv : std::vector<std::string>{};
}

TEST(DirectExecPlan, PlainWordsAreSplitAndSearchedOnPath) {
  auto plan = plan_direct_exec("  make -j2\tCC=gcc  test ", "/usr/local/bin::/bin");
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->argv, (std::vector<std::string>{"make", "-j2", "CC=gcc", "test"}));
  // An empty PATH entry is the working directory, as for the shell.
  EXPECT_EQ(plan->candidates,
            (std::vector<std::string>{"/usr/local/bin/make", "./make", "/bin/make"}));
  auto slash = plan_direct_exec("./build.sh --fast", "/bin");
  ASSERT_TRUE(slash);
  EXPECT_EQ(slash->candidates, (std::vector<std::string>{"./build.sh"}));
  auto no_path = plan_direct_exec("sleep 1", std::nullopt);
  ASSERT_TRUE(no_path);
  EXPECT_EQ(no_path->candidates.back(), "/bin/sleep");
}

TEST(DirectExecPlan, AnythingTheShellWouldInterpretKeepsTheShell) {
  for (const char* command :
       {"echo $HOME", "ls *.txt",  "a | b",      "a && b",     "a; b",        "a > out",
        "a < in",     "a &",       "'quoted'",   "\"quoted\"", "a\\ b",       "cd /tmp",
        "exit 3",     "true",      "echo hi",    "pwd",        "kill 1",      "test -f x",
        "[ -f x ]",   "FOO=1 env", "x=1",        "~/bin/tool", "a # comment", "if true",
        "(sub)",      "{ a; }",    "!",          "a\nb",       "$(cmd)",      "`cmd`",
        "a?",         "%1",        "-x",         "",           "   ",         "exec sleep 1",
        "wait",       "read x",    ". ./env.sh", ": noop",     "a{b,c}"}) {
    EXPECT_FALSE(plan_direct_exec(command, "/bin")) << "'" << command << "'";
  }
  EXPECT_EQ(words("sleep 2"), (std::vector<std::string>{"sleep", "2"}));
  EXPECT_EQ(words("git log --format=%H -n1 user@host:repo,x"),
            (std::vector<std::string>{"git", "log", "--format=%H", "-n1", "user@host:repo,x"}));
}

class DirectExecLane : public ::testing::Test {
 protected:
  std::unique_ptr<Lane> open(bool direct = true) {
    LaneOptions options;
    options.direct_exec = direct;
    return open_lane(dir_, options);
  }
  void write_script(const std::string& name, const std::string& text, mode_t mode) {
    std::ofstream(dir_ / name) << text;
    ::chmod((dir_ / name).c_str(), mode);
  }
  TempDir dir_;
};

TEST_F(DirectExecLane, APlainCommandIsTheLeaderItself) {
  auto lane = open();
  ASSERT_TRUE(lane);
  JobId id = submit_ok(*lane, shell("sleep 30"));
  JobInfo info = wait_running(*lane, id);
  EXPECT_EQ(read_file("/proc/" + std::to_string(info.pid) + "/comm"), "sleep\n");
  ASSERT_TRUE(lane->kill(id).ok());
  EXPECT_EQ(wait_done(*lane, id).status, JobStatus::killed);

  auto via_shell = open(false);  // the option turns it off
  ASSERT_TRUE(via_shell);
  JobId other = submit_ok(*via_shell, shell("sleep 30"));
  JobInfo shell_info = wait_running(*via_shell, other);
  EXPECT_EQ(read_file("/proc/" + std::to_string(shell_info.pid) + "/comm"), "sh\n");
  ASSERT_TRUE(via_shell->kill(other).ok());
  wait_done(*via_shell, other);
}

TEST_F(DirectExecLane, OutputExitCodeAndTheJobsPathAreTheShells) {
  auto lane = open();
  ASSERT_TRUE(lane);
  write_script("tool", "#!/bin/sh\necho \"tool ran with $# args: $*\"\nexit 4\n", 0755);
  JobSpec spec = shell("tool a b");
  spec.env = {{"PATH", dir_.path() + ":/usr/bin:/bin"}};  // found on the job's PATH
  JobId id = submit_ok(*lane, spec);
  JobInfo info = wait_done(*lane, id);
  EXPECT_EQ(info.status, JobStatus::exited);
  EXPECT_EQ(info.exit_code, 4);
  EXPECT_EQ(read_file(info.log_path), "tool ran with 2 args: a b\n");
}

// A shell started in the job's directory sets PWD to it; a command exec'd without the shell
// must see the same, not the host's PWD.
TEST_F(DirectExecLane, PwdIsTheJobsDirectoryWithOrWithoutTheShell) {
  auto lane = open();
  ASSERT_TRUE(lane);
  std::filesystem::create_directory(dir_ / "sub");
  for (const char* command : {"printenv PWD", "echo \"$PWD\""}) {
    JobSpec spec = shell(command);
    spec.cwd = dir_ / "sub";
    JobId id = submit_ok(*lane, spec);
    JobInfo info = wait_done(*lane, id);
    EXPECT_EQ(info.exit_code, 0) << command;
    EXPECT_EQ(read_file(info.log_path), dir_ / "sub\n") << command;
  }
  JobSpec own = shell("printenv PWD");  // a PWD given by the caller is kept
  own.env = {{"PWD", "/somewhere/else"}};
  JobInfo info = wait_done(*lane, submit_ok(*lane, own));
  EXPECT_EQ(read_file(info.log_path), "/somewhere/else\n");
}

TEST_F(DirectExecLane, FailuresBehaveAsWithTheShell) {
  auto lane = open();
  ASSERT_TRUE(lane);
  // Not found: the shell's message and 127, not failed_to_start.
  JobId missing = submit_ok(*lane, shell("no-such-command-xyz --flag"));
  JobInfo info = wait_done(*lane, missing);
  EXPECT_EQ(info.status, JobStatus::exited);
  EXPECT_EQ(info.exit_code, 127);
  EXPECT_NE(read_file(info.log_path).find("not found"), std::string::npos);
  // A script without #!: the shell runs it.
  write_script("plain.sh", "echo from a plain script\n", 0755);
  JobId plain = submit_ok(*lane, shell("./plain.sh"));
  info = wait_done(*lane, plain);
  EXPECT_EQ(info.exit_code, 0);
  EXPECT_EQ(read_file(info.log_path), "from a plain script\n");
  // Not executable: 126 from the shell.
  write_script("noexec.sh", "#!/bin/sh\necho never\n", 0644);
  JobId noexec = submit_ok(*lane, shell("./noexec.sh"));
  info = wait_done(*lane, noexec);
  EXPECT_EQ(info.exit_code, 126);
  EXPECT_EQ(read_file(info.log_path).find("never"), std::string::npos);
}

}  // namespace
}  // namespace meanwhile::testing
