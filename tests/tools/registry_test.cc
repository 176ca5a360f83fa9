// ToolRegistry: the standard tool set's definitions, and call()'s error handling.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <stdexcept>

#include "tools_fixture.h"

namespace meanwhile::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class RegistryTest : public ToolsTest {};

TEST(Registry, StandardToolsAreComplete) {
  auto registry = ToolRegistry::standard();
  std::vector<std::string> names;
  for (const auto& def : registry.tools()) names.push_back(def.name);
  EXPECT_THAT(names, ::testing::UnorderedElementsAre("bash", "read_file", "write_file", "edit_file",
                                                     "background_run", "check_background",
                                                     "background_output", "background_wait",
                                                     "background_kill", "background_input"));
  const std::set<std::string> background = {"background_run",    "check_background",
                                            "background_output", "background_wait",
                                            "background_kill",   "background_input"};
  const std::set<std::string> read_only = {"check_background", "background_output",
                                           "background_wait", "read_file"};
  for (const auto& def : registry.tools()) {
    SCOPED_TRACE(def.name);
    EXPECT_GT(def.description.size(), 100u);
    EXPECT_EQ(def.input_schema["type"], "object");
    EXPECT_EQ(def.input_schema["additionalProperties"], false);
    EXPECT_TRUE(def.input_schema["properties"].is_object());
    for (auto& [name, prop] : def.input_schema["properties"].items())
      EXPECT_TRUE(prop.contains("description")) << name;
    EXPECT_EQ(def.output_schema["type"], "object");
    EXPECT_TRUE(def.annotations["title"].is_string());
    EXPECT_EQ(def.annotations["openWorldHint"], false);
    EXPECT_EQ(def.annotations["readOnlyHint"], read_only.count(def.name) == 1);
    EXPECT_EQ(def.background, background.count(def.name) == 1);
    EXPECT_EQ(def.task_support, def.name == "background_run");
    EXPECT_TRUE(static_cast<bool>(def.run));
  }
  EXPECT_EQ(registry.find("background_kill")->annotations["destructiveHint"], true);
  EXPECT_EQ(registry.find("nope"), nullptr);
}

TEST_F(RegistryTest, UnknownToolListsAvailable) {
  auto result = call("run_shell", json::object());
  EXPECT_TRUE(result.is_error);
  EXPECT_THAT(result.text, StartsWith("unknown tool run_shell; available: bash, read_file"));
  EXPECT_THAT(result.text, HasSubstr("background_input"));
}

TEST_F(RegistryTest, ArgumentsMustBeAnObject) {
  auto result = call("read_file", json::array({"a.txt"}));
  EXPECT_TRUE(result.is_error);
  EXPECT_EQ(result.text, "read_file: arguments must be a JSON object, got an array");
  result = call("read_file", "a.txt");
  EXPECT_EQ(result.text, "read_file: arguments must be a JSON object, got \"a.txt\"");
  // Omitted arguments (null) are an empty object: check_background needs none.
  result = call("check_background", nullptr);
  EXPECT_FALSE(result.is_error) << result.text;
  EXPECT_EQ(result.text, "no background jobs");
}

TEST_F(RegistryTest, ValidationErrorsNameTheField) {
  auto result = call("bash", json::object());
  EXPECT_TRUE(result.is_error);
  EXPECT_EQ(result.text, "bash: invalid arguments: command: required field is missing");
  result = call("bash", {{"command", "true"}, {"timeout", "ten"}});
  EXPECT_EQ(result.text, "bash: invalid arguments: timeout: expected a number, got \"ten\"");
  result = call("bash", {{"command", "true"}, {"timeout", 601}});
  EXPECT_EQ(result.text, "bash: invalid arguments: timeout: must be at most 600, got 601");
  result = call("background_output", {{"task_id", "1"}, {"mode", "latest"}});
  EXPECT_THAT(result.text, HasSubstr("mode: must be one of \"new\", \"tail\", \"head\", \"all\""));
  result = call("write_file", {{"path", "a"}, {"content", "x"}, {"mode", "0644"}});
  EXPECT_THAT(result.text, HasSubstr("mode: unknown field; allowed fields: content, path"));
  result = call("background_kill", {{"task_id", true}});
  EXPECT_EQ(result.text,
            "background_kill: invalid arguments: task_id: expected a string, got true");
}

TEST_F(RegistryTest, AnMcpCallIgnoresUnknownFieldsAndSaysSo) {
  ctx_->frontend = Frontend::mcp;
  auto result = call("check_background", {{"wait_for_previous", true}});
  EXPECT_FALSE(result.is_error) << result.text;
  EXPECT_EQ(result.text,
            "no background jobs\n(ignored field wait_for_previous: this tool does not take it)");
  EXPECT_EQ(result.structured["ignored_fields"], json::array({"wait_for_previous"}));
  // Wrong types and missing fields stay errors.
  result = call("background_kill", {{"task_id", true}, {"wait_for_previous", true}});
  EXPECT_EQ(result.text,
            "background_kill: invalid arguments: task_id: expected a string, got true");
  result = call("background_run", {{"wait_for_previous", true}});
  EXPECT_EQ(result.text, "background_run: invalid arguments: command: required field is missing");
}

TEST_F(RegistryTest, TheAgentStillRefusesUnknownFields) {
  auto result = call("check_background", {{"wait_for_previous", true}});
  EXPECT_TRUE(result.is_error);
  EXPECT_THAT(result.text, HasSubstr("wait_for_previous: unknown field"));
}

TEST(Registry, McpDescriptionsPromiseNoPush) {
  // An MCP client never receives a <background-results> block: no description may promise one.
  const ToolRegistry mcp = ToolRegistry::standard(Frontend::mcp);
  for (const auto& def : mcp.tools()) {
    if (!def.background) continue;
    SCOPED_TRACE(def.name);
    EXPECT_EQ(def.input_schema.dump().find("background-results"), std::string::npos);
    EXPECT_EQ(def.description.find("background-results"), std::string::npos);
  }
  EXPECT_THAT(mcp.find("background_run")->description,
              HasSubstr("next call of any meanwhile tool"));
  const ToolRegistry agent = ToolRegistry::standard();
  EXPECT_THAT(agent.find("background_run")->description, HasSubstr("<background-results>"));
}

TEST_F(RegistryTest, IntegerTaskIdsAreAccepted) {
  auto result = call("check_background", {{"task_id", 999}});
  EXPECT_TRUE(result.is_error);
  // Past validation: the id reached the lane as "999".
  EXPECT_THAT(result.text, StartsWith("unknown task 999"));
  result = call("background_wait", {{"task_ids", {999}}, {"timeout", 0}});
  EXPECT_THAT(result.text, StartsWith("unknown task 999"));
  result = call("check_background", {{"task_id", -3}});
  EXPECT_THAT(result.text, HasSubstr("task_id: expected a string, got -3"));
}

TEST_F(RegistryTest, OversizedInputIsRefused) {
  std::string big(ToolRegistry::kMaxArgumentBytes + 10, 'a');
  auto result = call("write_file", {{"path", "big.txt"}, {"content", big}});
  EXPECT_TRUE(result.is_error);
  EXPECT_THAT(result.text, StartsWith("write_file: arguments are too large: "));
  EXPECT_THAT(result.text, HasSubstr("the largest field is content"));
  EXPECT_FALSE(std::filesystem::exists(path("big.txt")));
}

TEST_F(RegistryTest, HandlerExceptionsBecomeErrors) {
  ToolDef def;
  def.name = "explode";
  def.input_schema = {{"type", "object"}};
  def.run = [](const json&, ToolContext&) -> ToolResult { throw std::runtime_error("boom"); };
  registry_.add(def);
  auto result = call("explode", json::object());
  EXPECT_TRUE(result.is_error);
  EXPECT_EQ(result.text, "tool explode failed: boom");

  def.run = [](const json&, ToolContext&) -> ToolResult { throw 42; };
  registry_.add(def);  // replaces the earlier definition of the same name
  EXPECT_EQ(call("explode", json::object()).text, "tool explode failed with an unknown error");
  EXPECT_EQ(std::count_if(registry_.tools().begin(), registry_.tools().end(),
                          [](const ToolDef& t) { return t.name == "explode"; }),
            1);
}

}  // namespace
}  // namespace meanwhile::testing
