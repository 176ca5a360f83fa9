// Shared fixture for the tool tests: a real lane on a temporary workspace, and a registry.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "meanwhile/lane.h"
#include "meanwhile/tools.h"
#include "support/test_support.h"

namespace meanwhile::testing {

class ToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    workspace_ = root_ + "/ws";
    std::filesystem::create_directories(workspace_);
    LaneOptions options;
    options.workspace = workspace_;
    options.data_dir = root_ + "/data";
    options.kill_grace = std::chrono::milliseconds(500);
    auto lane = Lane::open(options);
    ASSERT_TRUE(lane.ok()) << lane.error();
    lane_ = std::move(*lane);
    ctx_ = std::make_unique<ToolContext>(ToolContext{*lane_, workspace_, &cancel_, {}});
  }

  void TearDown() override {
    ctx_.reset();
    lane_.reset();
  }

  // Calls a tool; a successful result's structured part must match the tool's output schema.
  ToolResult call(const std::string& name, const nlohmann::json& args) {
    ToolResult result = registry_.call(name, args, *ctx_);
    if (const ToolDef* def = registry_.find(name); def && !result.is_error) {
      auto valid = validate_json(def->output_schema, result.structured);
      EXPECT_TRUE(valid.ok()) << name << " structured output: " << valid.error() << "\n"
                              << result.structured.dump(2);
    }
    return result;
  }

  std::string path(const std::string& relative) const { return workspace_ + "/" + relative; }

  void write(const std::string& relative, const std::string& content) {
    std::filesystem::create_directories(std::filesystem::path(path(relative)).parent_path());
    std::ofstream(path(relative), std::ios::binary) << content;
  }

  std::string read(const std::string& absolute) const {
    std::ifstream in(absolute, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
  }

  // The task id of a background_run call that must have succeeded.
  std::string start(const nlohmann::json& args) {
    auto result = call("background_run", args);
    EXPECT_FALSE(result.is_error) << result.text;
    return result.structured.value("task_id", std::string());
  }

  // Waits (up to `seconds`) for a job to reach a terminal status, without consuming notes.
  JobInfo wait_done(const std::string& id, double seconds = 10) {
    auto done = lane_->wait_terminal(
        {id}, std::chrono::milliseconds(static_cast<long long>(seconds * 1000)));
    EXPECT_TRUE(done.ok()) << done.error();
    if (!done.ok() || !done->has_value()) {
      ADD_FAILURE() << "task " << id << " did not end within " << seconds << "s";
      return JobInfo{};
    }
    return **done;
  }

  test::TempDir tmp_{"mw-tools"};   // removed after TearDown, once the lane is closed
  std::string root_ = tmp_.path();  // holds ws/ and data/, and room for "outside" files
  std::string workspace_;           // realpath'd
  std::unique_ptr<Lane> lane_;
  std::atomic<bool> cancel_{false};
  std::unique_ptr<ToolContext> ctx_;
  ToolRegistry registry_ = ToolRegistry::standard();
};

}  // namespace meanwhile::testing
