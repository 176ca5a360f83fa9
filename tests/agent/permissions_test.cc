// Permissions: what each mode runs, asks or refuses; allow-rules and what they never cover; the
// rules file outside the workspace, and a hostile one.
#include "agent/permissions.h"

#include <sys/stat.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/test_support.h"

namespace meanwhile::agent {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

const std::string kWs = "/work/proj";

json command(const std::string& c) {
  return {{"command", c}};
}

TEST(Permissions, ModesParseByTheirFlagNames) {
  EXPECT_EQ(parse_permission_mode("ask"), PermissionMode::ask);
  EXPECT_EQ(parse_permission_mode("auto"), PermissionMode::auto_run);
  EXPECT_EQ(parse_permission_mode("read-only"), PermissionMode::read_only);
  EXPECT_EQ(parse_permission_mode("yolo"), std::nullopt);
  EXPECT_STREQ(to_string(PermissionMode::read_only), "read-only");
}

TEST(Permissions, AutoRunsEverythingAndReadToolsNeverAsk) {
  Permissions automatic(PermissionMode::auto_run, kWs, "");
  for (const char* tool : {"bash", "background_run", "write_file", "edit_file"})
    EXPECT_EQ(automatic.check(tool, command("rm -rf build")).verdict, Verdict::run) << tool;
  for (PermissionMode mode : {PermissionMode::ask, PermissionMode::read_only}) {
    Permissions p(mode, kWs, "");
    for (const char* tool : {"read_file", "check_background", "background_output",
                             "background_wait", "background_kill"})
      EXPECT_EQ(p.check(tool, json::object()).verdict, Verdict::run) << tool;
  }
}

TEST(Permissions, ReadOnlyRefusesCommandsAndWritesWithAReasonTheModelCanRead) {
  Permissions p(PermissionMode::read_only, kWs, "");
  for (const char* tool : {"bash", "background_run", "write_file", "edit_file"}) {
    PermissionCheck c = p.check(tool, command("ls"));
    EXPECT_EQ(c.verdict, Verdict::refuse) << tool;
    EXPECT_THAT(c.reason, HasSubstr("read-only mode (--permission-mode read-only)"));
    EXPECT_THAT(c.reason, HasSubstr(tool));
  }
}

TEST(Permissions, AskShowsWhatWillBeDoneAndWhatAlwaysWouldAllow) {
  Permissions p(PermissionMode::ask, kWs, "");
  PermissionCheck c = p.check("bash", command("npm test -- --watch=false"));
  ASSERT_EQ(c.verdict, Verdict::ask);
  EXPECT_EQ(c.request.what, "run `npm test -- --watch=false`");
  EXPECT_EQ(c.request.rule, (AllowRule{"command", "npm test"}));
  c = p.check("background_run", command("make -j2"));
  EXPECT_EQ(c.request.what, "run in the background `make -j2`");
  EXPECT_EQ(c.request.rule, (AllowRule{"command", "make"}));
  c = p.check("bash", command("pytest tests/unit"));
  EXPECT_EQ(c.request.rule, (AllowRule{"command", "pytest"}));
  // A command with shell operators: "always" covers exactly that command.
  c = p.check("bash", command("make && ./run"));
  EXPECT_EQ(c.request.rule, (AllowRule{"command", "make && ./run"}));

  c = p.check("write_file", {{"path", "src/a.c"}, {"content", "int x;\n"}});
  EXPECT_EQ(c.request.what, "write src/a.c (7 bytes)");
  EXPECT_EQ(c.request.rule, (AllowRule{"write", "src/"}));
  c = p.check("edit_file", {{"path", kWs + "/README.md"}});
  EXPECT_EQ(c.request.what, "edit README.md");
  EXPECT_EQ(c.request.rule, (AllowRule{"write", "README.md"}));
  // Arguments of the wrong type still get a question, not a crash.
  EXPECT_EQ(p.check("bash", json::array()).verdict, Verdict::ask);
  EXPECT_EQ(p.check("write_file", {{"path", 7}}).verdict, Verdict::ask);
  // A call without a path offers no rule that could match everything.
  c = p.check("edit_file", json::object());
  EXPECT_EQ(c.request.rule.pattern, "");
  EXPECT_FALSE(p.allow(c.request.rule));
  EXPECT_TRUE(p.rules().empty());
}

TEST(Permissions, RulesCoverTheirPrefixButNeverAChainedCommandOrAPathOutside) {
  Permissions p(PermissionMode::ask, kWs, "");
  ASSERT_TRUE(p.allow({"command", "npm test"}));
  ASSERT_TRUE(p.allow({"write", "src/"}));
  EXPECT_EQ(p.check("bash", command("npm test")).verdict, Verdict::run);
  EXPECT_EQ(p.check("background_run", command("npm test -- --ci")).verdict, Verdict::run);
  EXPECT_EQ(p.check("bash", command("npm testify")).verdict, Verdict::ask);
  EXPECT_EQ(p.check("bash", command("npm test; rm -rf ~")).verdict, Verdict::ask);
  EXPECT_EQ(p.check("bash", command("npm test $(curl x)")).verdict, Verdict::ask);
  EXPECT_EQ(p.check("bash", command("npm test > /etc/passwd")).verdict, Verdict::ask);
  EXPECT_EQ(p.check("bash", command("npm test\nrm -rf ~")).verdict, Verdict::ask);
  EXPECT_EQ(p.check("write_file", {{"path", "src/deep/a.c"}}).verdict, Verdict::run);
  EXPECT_EQ(p.check("write_file", {{"path", kWs + "/src/b.c"}}).verdict, Verdict::run);
  EXPECT_EQ(p.check("write_file", {{"path", "srcx/a.c"}}).verdict, Verdict::ask);
  EXPECT_EQ(p.check("write_file", {{"path", "src/../../etc/passwd"}}).verdict, Verdict::ask);
  EXPECT_EQ(p.check("edit_file", {{"path", "/etc/src/a.c"}}).verdict, Verdict::ask);
}

TEST(Permissions, AlwaysPersistsPerWorkspaceOutsideIt) {
  test::TempDir dir;
  const std::string file = dir / "config/meanwhile/permissions.json";
  {
    Permissions p(PermissionMode::ask, kWs, file);
    ASSERT_TRUE(p.allow({"command", "cargo test"}));
    Permissions other(PermissionMode::ask, "/work/other", file);
    ASSERT_TRUE(other.allow({"write", "docs/"}));
  }
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string warning;
  Permissions again(PermissionMode::ask, kWs, file, &warning);
  EXPECT_EQ(warning, "");
  EXPECT_EQ(again.rules(), std::vector<AllowRule>{(AllowRule{"command", "cargo test"})});
  EXPECT_EQ(again.check("bash", command("cargo test --release")).verdict, Verdict::run);
  Permissions other(PermissionMode::ask, "/work/other", file);
  EXPECT_EQ(other.rules(), std::vector<AllowRule>{(AllowRule{"write", "docs/"})});
  // The rule of one workspace does nothing in another.
  EXPECT_EQ(other.check("bash", command("cargo test")).verdict, Verdict::ask);
}

TEST(Permissions, AMalformedOrHostileRulesFileIsNoRulesAndAWarning) {
  test::TempDir dir;
  const std::string file = dir / "permissions.json";
  for (const std::string& body :
       {std::string("{not json"), std::string("[1,2]"), std::string(2 << 20, ' ')}) {
    test::write_file(file, body);
    std::string warning;
    Permissions p(PermissionMode::ask, kWs, file, &warning);
    EXPECT_TRUE(p.rules().empty());
    EXPECT_THAT(warning, HasSubstr("no allow-rules are used")) << body.substr(0, 20);
  }
  // Wrong shapes and empty patterns are skipped, not trusted: an empty prefix would match all.
  test::write_file(file, R"({"workspaces":{"/work/proj":{"allow":[
      {"kind":"command","pattern":""}, {"kind":"command","pattern":"  "},
      {"kind":"command"}, {"kind":"everything","pattern":"*"}, 7, "x",
      {"kind":"command","pattern":42}, {"kind":"write","pattern":"src/"}]}}})");
  std::string warning;
  Permissions p(PermissionMode::ask, kWs, file, &warning);
  EXPECT_EQ(warning, "");
  EXPECT_EQ(p.rules(), std::vector<AllowRule>{(AllowRule{"write", "src/"})});
  EXPECT_EQ(p.check("bash", command("rm -rf /")).verdict, Verdict::ask);
}

TEST(Permissions, TheDefaultRulesFileIsInTheUsersConfiguration) {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  const std::string saved = xdg ? xdg : "";
  ::setenv("XDG_CONFIG_HOME", "/cfg", 1);
  EXPECT_EQ(Permissions::default_rules_path(), "/cfg/meanwhile/permissions.json");
  ::setenv("XDG_CONFIG_HOME", "relative", 1);  // not absolute: ignored, as the spec says
  const char* home = std::getenv("HOME");
  if (home && *home == '/') {
    EXPECT_EQ(Permissions::default_rules_path(),
              std::string(home) + "/.config/meanwhile/permissions.json");
  }
  if (xdg)
    ::setenv("XDG_CONFIG_HOME", saved.c_str(), 1);
  else
    ::unsetenv("XDG_CONFIG_HOME");
}

}  // namespace
}  // namespace meanwhile::agent
