// Configuration from a workspace's .env: it may not choose where the user's own key is sent,
// and only a small regular file is read.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/config.h"
#include "support/test_support.h"

namespace meanwhile::agent {
namespace {

using ::testing::HasSubstr;

EnvLookup env_of(EnvMap values) {
  return [values](const std::string& k) -> std::optional<std::string> {
    auto it = values.find(k);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

TEST(DotEnvTrust, AnEndpointFromDotEnvIsIgnoredForAKeyFromTheEnvironment) {
  EnvMap dotenv = {{"ANTHROPIC_BASE_URL", "http://evil"}, {"MODEL_ID", "m"}};
  std::vector<std::string> warnings;
  auto c =
      resolve_provider_config({}, env_of({{"ANTHROPIC_API_KEY", "sk-user"}}), dotenv, &warnings);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->api_key, "sk-user");
  EXPECT_EQ(c->base_url, "");
  EXPECT_EQ(c->model, "m");  // the model is harmless: still taken
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr("ANTHROPIC_BASE_URL"));
  EXPECT_THAT(warnings[0], HasSubstr("MEANWHILE_TRUST_DOTENV=1"));
  EXPECT_EQ(warnings[0].find("evil"), std::string::npos) << "never quotes a value";

  dotenv = {{"LLM_PROVIDER", "openai"}, {"OPENAI_BASE_URL", "http://evil"}};
  warnings.clear();
  auto o = resolve_provider_config(
      {}, env_of({{"OPENAI_API_KEY", "sk-openai"}, {"ANTHROPIC_API_KEY", "sk-ant"}}), dotenv,
      &warnings);
  ASSERT_TRUE(o.ok()) << o.error();
  EXPECT_EQ(o->kind, "anthropic");
  EXPECT_EQ(o->api_key, "sk-ant");
  EXPECT_EQ(o->base_url, "");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr("LLM_PROVIDER"));
}

TEST(ProviderConfig, ALocalOpenAiCompatibleServerNeedsNoKey) {
  auto local = resolve_provider_config(
      {}, env_of({{"LLM_PROVIDER", "openai"}, {"OPENAI_BASE_URL", "http://127.0.0.1:8080/v1"}}), {},
      nullptr);
  ASSERT_TRUE(local.ok()) << local.error();
  EXPECT_EQ(local->api_key, "");
  EXPECT_EQ(local->base_url, "http://127.0.0.1:8080/v1");
  // OpenAI itself, or no URL at all, still needs one; so does Anthropic.
  for (const char* url : {"https://api.openai.com/v1", ""}) {
    auto official = resolve_provider_config(
        {}, env_of({{"LLM_PROVIDER", "openai"}, {"OPENAI_BASE_URL", url}}), {}, nullptr);
    ASSERT_FALSE(official.ok()) << url;
    EXPECT_THAT(official.error(), HasSubstr("set OPENAI_API_KEY"));
  }
  auto anthropic = resolve_provider_config(
      {}, env_of({{"ANTHROPIC_BASE_URL", "http://127.0.0.1:9/"}}), {}, nullptr);
  EXPECT_FALSE(anthropic.ok());
}

TEST(DotEnvTrust, AKeyAndEndpointBothFromDotEnvOrTheEnvironmentAreUsed) {
  std::vector<std::string> warnings;
  auto f = resolve_provider_config(
      {}, env_of({}), {{"ANTHROPIC_API_KEY", "sk-file"}, {"ANTHROPIC_BASE_URL", "http://file"}},
      &warnings);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->base_url, "http://file");
  auto e = resolve_provider_config(
      {}, env_of({{"ANTHROPIC_API_KEY", "sk-env"}, {"ANTHROPIC_BASE_URL", "http://env"}}),
      {{"ANTHROPIC_BASE_URL", "http://file"}}, &warnings);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->base_url, "http://env");
  auto t = resolve_provider_config(
      {}, env_of({{"ANTHROPIC_API_KEY", "sk-env"}, {"MEANWHILE_TRUST_DOTENV", "1"}}),
      {{"ANTHROPIC_BASE_URL", "http://file"}}, &warnings);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->base_url, "http://file");
  EXPECT_TRUE(warnings.empty());
}

class LoadDotEnv : public ::testing::Test {
 protected:
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << text;
  }
  test::TempDir tmp_{"mw-dotenv"};
  std::string dir_ = tmp_.path();
};

TEST_F(LoadDotEnv, ARegularFileIsRead) {
  write(".env", "MODEL_ID=m\n");
  DotEnv env = load_dotenv(dir_);
  EXPECT_EQ(env.values["MODEL_ID"], "m");
  EXPECT_TRUE(env.warnings.empty());
  EXPECT_TRUE(load_dotenv(dir_ + "/absent").values.empty());
}

TEST_F(LoadDotEnv, ASymlinkIsRefused) {
  write("elsewhere", "MODEL_ID=through-a-link\n");
  ASSERT_EQ(::symlink("elsewhere", (dir_ + "/.env").c_str()), 0);
  DotEnv env = load_dotenv(dir_);
  EXPECT_TRUE(env.values.empty());
  ASSERT_EQ(env.warnings.size(), 1u);
  EXPECT_THAT(env.warnings[0], HasSubstr("symbolic link"));
  ASSERT_EQ(::unlink((dir_ + "/.env").c_str()), 0);
  ASSERT_EQ(::symlink("/dev/zero", (dir_ + "/.env").c_str()), 0);
  EXPECT_TRUE(load_dotenv(dir_).values.empty());
}

TEST_F(LoadDotEnv, AFifoIsRefusedWithoutWaitingForAWriter) {
  ASSERT_EQ(::mkfifo((dir_ + "/.env").c_str(), 0600), 0);
  DotEnv env = load_dotenv(dir_);  // the old code blocked here forever
  EXPECT_TRUE(env.values.empty());
  ASSERT_EQ(env.warnings.size(), 1u);
  EXPECT_THAT(env.warnings[0], HasSubstr("not a regular file"));
}

TEST_F(LoadDotEnv, AFileLargerThan64KiBIsRefused) {
  write(".env", "MODEL_ID=big\n" + std::string(kMaxDotEnvBytes, '#'));
  DotEnv env = load_dotenv(dir_);
  EXPECT_TRUE(env.values.empty());
  ASSERT_EQ(env.warnings.size(), 1u);
  EXPECT_THAT(env.warnings[0], HasSubstr("64 KiB"));
  write(".env", "MODEL_ID=fits\n" + std::string(kMaxDotEnvBytes - 14, '#'));
  EXPECT_EQ(load_dotenv(dir_).values["MODEL_ID"], "fits");
}

}  // namespace
}  // namespace meanwhile::agent
