// The secret registry (withholding from the environment, redaction) and where the agent applies
// it; duration bounds in the tool schemas.
#include <stdlib.h>

#include <cmath>
#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/secrets.h"
#include "lane/environment.h"
#include "tools/format.h"
#include "tools/tools_internal.h"
#include "tools_fixture.h"

namespace meanwhile::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

TEST(Secrets, NameListsAndGlobs) {
  EXPECT_EQ(secrets::parse_name_list(" A,B  AWS_*,,\tC "),
            (std::vector<std::string>{"A", "B", "AWS_*", "C"}));
  EXPECT_TRUE(secrets::name_matches("AWS_*", "AWS_SECRET_ACCESS_KEY"));
  EXPECT_TRUE(secrets::name_matches("AWS_*", "AWS_"));
  EXPECT_FALSE(secrets::name_matches("AWS_*", "MY_AWS_KEY"));
  EXPECT_TRUE(secrets::name_matches("GITHUB_TOKEN", "GITHUB_TOKEN"));
  EXPECT_FALSE(secrets::name_matches("GITHUB_TOKEN", "GITHUB_TOKEN2"));
}

TEST(Secrets, WithholdingTakesTheValueOutOfTheEnvironmentAndRedactsIt) {
  ::setenv("MW_TEST_WITHHELD_ONE", "withheld-value-one-123", 1);
  ::setenv("MW_TEST_WITHHELD_TWO", "short", 1);
  ::setenv("MW_TEST_KEPT", "kept-value-123456", 1);
  auto names = secrets::withhold_environment({"MW_TEST_WITHHELD_*"});
  EXPECT_THAT(names,
              ::testing::UnorderedElementsAre("MW_TEST_WITHHELD_ONE", "MW_TEST_WITHHELD_TWO"));
  EXPECT_EQ(::getenv("MW_TEST_WITHHELD_ONE"), nullptr);
  EXPECT_EQ(::getenv("MW_TEST_WITHHELD_TWO"), nullptr);
  ASSERT_NE(::getenv("MW_TEST_KEPT"), nullptr);
  EXPECT_EQ(secrets::withheld_value("MW_TEST_WITHHELD_ONE"), "withheld-value-one-123");
  EXPECT_EQ(secrets::withheld_value("MW_TEST_KEPT"), std::nullopt);
  EXPECT_EQ(secrets::redact("a withheld-value-one-123 b withheld-value-one-123"),
            "a [redacted] b [redacted]");
  EXPECT_EQ(secrets::redact("short kept-value-123456"), "short kept-value-123456");
  // A job's environment is built from this process's: the value is not in it.
  JobEnvironment env = JobEnvironment::from_host();
  EnvBlock block = env.build({}, "1", "m");
  EXPECT_FALSE(block.get("MW_TEST_WITHHELD_ONE").has_value());
  EXPECT_TRUE(block.get("MW_TEST_KEPT").has_value());
}

class SecretsToolsTest : public ToolsTest {};

TEST_F(SecretsToolsTest, ToolResultsAndNotesNeverCarryASecret) {
  secrets::add("sk-test-tool-secret-987654321");
  write("key.txt", "key=sk-test-tool-secret-987654321\n");
  auto result = call("bash", {{"command", "cat key.txt"}});
  ASSERT_FALSE(result.is_error) << result.text;
  EXPECT_THAT(result.text, HasSubstr("key=[redacted]"));
  EXPECT_EQ(result.structured.dump().find("987654321"), std::string::npos);
  result = call("read_file", {{"path", "key.txt"}});
  EXPECT_EQ(result.text.find("987654321"), std::string::npos) << result.text;
  std::string id = start({{"command", "cat key.txt"}});
  wait_done(id);
  auto notes = lane_->wait(std::chrono::milliseconds(5000), {id});
  ASSERT_FALSE(notes.empty());
  std::string note = format_note(notes.back());
  EXPECT_THAT(note, HasSubstr("key=[redacted]"));
  EXPECT_EQ(note.find("987654321"), std::string::npos) << note;
}

TEST_F(SecretsToolsTest, ArgumentsTheProviderCouldNotReadAreAnErrorSayingWhy) {
  auto result = call("bash", {{"_invalid_arguments", "arguments nested deeper than 64 levels"}});
  EXPECT_TRUE(result.is_error);
  EXPECT_EQ(result.text, "bash: invalid arguments: arguments nested deeper than 64 levels");
}

TEST_F(SecretsToolsTest, JobTimeoutsAreBounded) {
  // 1e10 s used to become a deadline in the past: the job was killed at once.
  auto result = call("background_run", {{"command", "true"}, {"timeout", 1e10}});
  EXPECT_TRUE(result.is_error);
  EXPECT_THAT(result.text, HasSubstr("timeout: must be at most 2592000"));
  result = call("background_run", {{"command", "true"}, {"timeout", 9.3e15}});
  EXPECT_TRUE(result.is_error);
  std::string id = start({{"command", "sleep 0.3"}, {"timeout", kMaxJobTimeoutSeconds}});
  JobInfo job = wait_done(id);
  EXPECT_EQ(job.status, JobStatus::exited) << "the longest timeout allowed killed the job";
  ASSERT_TRUE(job.spec.timeout.has_value());
  EXPECT_EQ(job.spec.timeout->count(), 2592000000LL);
}

TEST(Durations, SecondsSaturateInTheConversion) {
  using std::chrono::milliseconds;
  EXPECT_EQ(saturating_ms(1.5), milliseconds(1500));
  EXPECT_EQ(saturating_ms(1e10), milliseconds(2592000000LL));
  EXPECT_EQ(saturating_ms(9.3e15), milliseconds(2592000000LL));
  EXPECT_EQ(saturating_ms(std::numeric_limits<double>::infinity()), milliseconds(2592000000LL));
  EXPECT_EQ(saturating_ms(std::nan("")), milliseconds(0));
  EXPECT_EQ(saturating_ms(-5), milliseconds(0));
  EXPECT_EQ(format_duration(9.3e15).find('-'), std::string::npos);
}

}  // namespace
}  // namespace meanwhile::testing
