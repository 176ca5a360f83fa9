// The agent loop against a scripted in-process provider and a real lane: where notes go, how
// tool calls are answered, and that the conversation stays valid after errors and Ctrl+C.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/loop.h"
#include "loop_test_util.h"

namespace meanwhile::agent {
namespace {

using namespace testing;

ToolDef make_tool(std::string name, std::function<ToolResult(const json&, ToolContext&)> run) {
  ToolDef def;
  def.name = std::move(name);
  def.description = "test tool";
  def.input_schema = {{"type", "object"},
                      {"properties", {{"text", {{"type", "string"}}}}},
                      {"required", json::array({"text"})}};
  def.run = std::move(run);
  return def;
}

class LoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lane = open_lane(dir.path());
    ASSERT_TRUE(lane);
    registry.add(make_tool("echo", [](const json& args, ToolContext&) {
      return ToolResult{"echo: " + args["text"].get<std::string>(), nullptr, false};
    }));
    // Runs a short job to its end, so its note is pending when the tool returns.
    registry.add(make_tool("finish_job", [](const json& args, ToolContext& ctx) {
      JobSpec spec;
      spec.command = args["text"].get<std::string>();
      auto id = ctx.lane.submit(spec);
      if (!id) return ToolResult{id.error(), nullptr, true};
      (void)ctx.lane.wait_terminal({*id}, std::chrono::seconds(10));
      wait_for_pending_note(ctx.lane);
      return ToolResult{"ran task " + *id, nullptr, false};
    }));
    registry.add(make_tool("press_ctrl_c", [this](const json&, ToolContext&) {
      cancel = true;
      return ToolResult{"stopped early", nullptr, false};
    }));
    ctx = std::make_unique<ToolContext>(ToolContext{*lane, dir.path(), &cancel, {}});
  }

  Loop make_loop() {
    LoopEvents events;
    events.on_message = [this](const json& m) { settled.push_back(m); };
    return Loop(provider, registry, *ctx, LoopOptions{"test-model", "", 1024}, events);
  }

  TempDir dir;
  std::unique_ptr<Lane> lane;
  ToolRegistry registry;
  std::atomic<bool> cancel{false};
  std::unique_ptr<ToolContext> ctx;
  FakeProvider provider;
  std::vector<json> settled;
};

TEST_F(LoopTest, NotesGoAfterTheToolResultsOfTheTurnBeingSent) {
  provider.replies = {reply({tool_use("t1", "finish_job", {{"text", "echo '5 passed'"}})}),
                      reply({text("all good")})};
  Loop loop = make_loop();
  RunOutcome out = loop.run_user_text("run the tests");
  EXPECT_EQ(out.stop, Stop::end_turn);
  EXPECT_EQ(out.model_calls, 2);
  EXPECT_EQ(out.final_text, "all good");
  ASSERT_EQ(provider.requests.size(), 2u);
  const json& sent = provider.requests[1].messages;
  ASSERT_EQ(sent.size(), 3u);  // user, assistant tool_use, user results
  const json& turn = sent[2];
  EXPECT_EQ(turn["role"], "user");
  ASSERT_EQ(turn["content"].size(), 2u);
  EXPECT_EQ(turn["content"][0]["type"], "tool_result");
  EXPECT_EQ(turn["content"][0]["tool_use_id"], "t1");
  EXPECT_EQ(turn["content"][1]["type"], "text");
  std::string block = turn["content"][1]["text"];
  EXPECT_EQ(block.rfind("<background-results>\n", 0), 0u) << block;
  EXPECT_NE(block.find("5 passed"), std::string::npos) << block;
  EXPECT_NE(block.find("</background-results>"), std::string::npos);
  EXPECT_EQ(lane->pending_notes(), 0u);
  // The system prompt and the tools went with every request.
  EXPECT_NE(provider.requests[0].system.find("background_run"), std::string::npos);
  EXPECT_EQ(provider.requests[0].tools.size(), registry.tools().size());
  EXPECT_EQ(provider.requests[0].model, "test-model");
}

TEST_F(LoopTest, AWakeUpAfterTheModelEndedItsTurnStartsANewUserTurn) {
  provider.replies = {reply({text("started")}), reply({text("saw it")})};
  Loop loop = make_loop();
  ASSERT_EQ(loop.run_user_text("go").stop, Stop::end_turn);
  JobSpec spec;
  spec.command = "echo done-marker";
  auto id = lane->submit(spec);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(wait_for_pending_note(*lane));
  RunOutcome out = loop.run(json::array(), lane->drain());
  EXPECT_EQ(out.model_calls, 1);
  const json& sent = provider.requests[1].messages;
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[1]["role"], "assistant");
  ASSERT_EQ(sent[2]["content"].size(), 1u);
  std::string block = sent[2]["content"][0]["text"];
  EXPECT_NE(block.find("done-marker"), std::string::npos) << block;
  EXPECT_NE(block.find("task " + *id), std::string::npos) << block;
}

TEST_F(LoopTest, NothingToSendMakesNoCall) {
  Loop loop = make_loop();
  RunOutcome out = loop.run(json::array());
  EXPECT_EQ(out.model_calls, 0);
  EXPECT_TRUE(provider.requests.empty());
}

TEST_F(LoopTest, UnknownToolsAndBadInputAreAnsweredWithErrorsAndTheRunGoesOn) {
  provider.replies = {
      reply({tool_use("a", "no_such_tool", json::object()), tool_use("b", "echo", json::object()),
             tool_use("c", "echo", {{"text", 42}}), tool_use("d", "echo", {{"text", "fine"}})}),
      reply({text("recovered")})};
  Loop loop = make_loop();
  RunOutcome out = loop.run_user_text("try");
  EXPECT_EQ(out.stop, Stop::end_turn);
  const json& results = provider.requests[1].messages[2]["content"];
  ASSERT_EQ(results.size(), 4u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(results[i].value("is_error", false), true) << results[i];
  EXPECT_FALSE(results[3].value("is_error", false));
  EXPECT_EQ(results[3]["content"], "echo: fine");
  EXPECT_NE(results[0]["content"].get<std::string>().find("no_such_tool"), std::string::npos);
}

TEST_F(LoopTest, AProviderErrorKeepsTheUserTurnAndItsNotesForTheNextRun) {
  provider.replies = {make_error("HTTP 500 after 5 tries"), reply({text("ok")})};
  Loop loop = make_loop();
  JobSpec spec;
  spec.command = "echo note-before-error";
  ASSERT_TRUE(lane->submit(spec).ok());
  ASSERT_TRUE(wait_for_pending_note(*lane));
  RunOutcome first = loop.run_user_text("first");
  EXPECT_EQ(first.stop, Stop::error);
  EXPECT_EQ(first.error, "HTTP 500 after 5 tries");
  EXPECT_TRUE(settled.empty());  // nothing was answered, nothing written
  RunOutcome second = loop.run_user_text("second");
  EXPECT_EQ(second.stop, Stop::end_turn);
  const json& sent = provider.requests[1].messages;
  ASSERT_EQ(sent.size(), 1u);
  const json& content = sent[0]["content"];
  ASSERT_EQ(content.size(), 3u);
  EXPECT_EQ(content[0]["text"], "first");
  EXPECT_NE(content[1]["text"].get<std::string>().find("note-before-error"), std::string::npos);
  EXPECT_EQ(content[2]["text"], "second");
  ASSERT_EQ(settled.size(), 2u);
  EXPECT_EQ(settled[0]["role"], "user");
  EXPECT_EQ(settled[1]["role"], "assistant");
}

TEST_F(LoopTest, CtrlCDuringAToolAnswersEveryToolUseAndKeepsTheConversationValid) {
  provider.replies = {reply({tool_use("x", "press_ctrl_c", {{"text", ""}}),
                             tool_use("y", "echo", {{"text", "never runs"}})}),
                      reply({text("continuing")})};
  Loop loop = make_loop();
  RunOutcome out = loop.run_user_text("do two things");
  EXPECT_EQ(out.stop, Stop::interrupted);
  const json& last = loop.messages().back();
  EXPECT_EQ(last["role"], "user");
  ASSERT_EQ(last["content"].size(), 2u);
  for (const json& r : last["content"]) {
    EXPECT_EQ(r["type"], "tool_result");
    EXPECT_TRUE(r.value("is_error", false));
    EXPECT_EQ(r["content"].get<std::string>().rfind("interrupted by the user", 0), 0u) << r;
  }
  cancel = false;
  ASSERT_EQ(loop.run_user_text("next").stop, Stop::end_turn);
  const json& sent = provider.requests[1].messages.back()["content"];
  ASSERT_EQ(sent.size(), 3u);  // both results first, then the new text
  EXPECT_EQ(sent[0]["tool_use_id"], "x");
  EXPECT_EQ(sent[1]["tool_use_id"], "y");
  EXPECT_EQ(sent[2]["text"], "next");
}

TEST_F(LoopTest, CtrlCDuringTheModelRequestIsInterrupted) {
  provider.before_reply = [this] { cancel = true; };
  Loop loop = make_loop();
  RunOutcome out = loop.run_user_text("hello");
  EXPECT_EQ(out.stop, Stop::interrupted);
}

TEST_F(LoopTest, MaxCallsBoundsModelCalls) {
  for (int i = 0; i < 10; ++i) {
    provider.replies.push_back(
        reply({tool_use("e" + std::to_string(i), "echo", {{"text", "again"}})}));
  }
  Loop loop = make_loop();
  RunOutcome out = loop.run_user_text("loop forever", 3);
  EXPECT_EQ(out.stop, Stop::max_turns);
  EXPECT_EQ(out.model_calls, 3);
  EXPECT_EQ(provider.requests.size(), 3u);
}

TEST_F(LoopTest, EmptyTextBlocksNeverEnterTheConversation) {
  provider.replies = {reply({text(""), tool_use("t", "echo", {{"text", "a"}})}),
                      reply({text("done")})};
  Loop loop = make_loop();
  ASSERT_EQ(loop.run_user_text("x").stop, Stop::end_turn);
  const json& assistant = provider.requests[1].messages[1];
  ASSERT_EQ(assistant["content"].size(), 1u);
  EXPECT_EQ(assistant["content"][0]["type"], "tool_use");
}

}  // namespace
}  // namespace meanwhile::agent

namespace meanwhile::agent {
namespace {

using namespace testing;

// The permission mode as the loop applies it, with a stand-in `bash` that counts its runs.
class LoopPermissionsTest : public LoopTest {
 protected:
  void SetUp() override {
    LoopTest::SetUp();
    ToolDef bash = make_tool("bash", [this](const json& args, ToolContext&) {
      ran.push_back(args.value("command", ""));
      return ToolResult{"ran", nullptr, false};
    });
    bash.input_schema = {{"type", "object"}, {"properties", {{"command", {{"type", "string"}}}}}};
    registry.add(std::move(bash));
  }
  Loop make_loop_with(Permissions& permissions, bool can_ask) {
    LoopEvents events;
    if (can_ask) {
      events.on_permission = [this](const PermissionRequest& request) {
        asked.push_back(request.what);
        Answer a = answers.front();
        answers.erase(answers.begin());
        return a;
      };
    }
    LoopOptions options{"test-model", "", 1024};
    options.permissions = &permissions;
    return Loop(provider, registry, *ctx, options, events);
  }
  json results(std::size_t request) const {
    return provider.requests[request].messages[2]["content"];
  }

  std::vector<std::string> ran, asked;
  std::vector<Answer> answers;
};

TEST_F(LoopPermissionsTest, AskRunsOnYesRefusesOnNoAndAlwaysStopsAskingForThePattern) {
  Permissions permissions(PermissionMode::ask, dir.path(), "");
  provider.replies = {reply({tool_use("a", "bash", {{"command", "rm -rf build"}}),
                             tool_use("b", "bash", {{"command", "npm test"}}),
                             tool_use("c", "bash", {{"command", "npm test -- --ci"}}),
                             tool_use("d", "echo", {{"text", "read-only tools never ask"}})}),
                      reply({text("done")})};
  answers = {Answer::no, Answer::always};
  Loop loop = make_loop_with(permissions, true);
  RunOutcome out = loop.run_user_text("go");
  EXPECT_EQ(out.stop, Stop::end_turn);
  EXPECT_EQ(asked, (std::vector<std::string>{"run `rm -rf build`", "run `npm test`"}));
  EXPECT_EQ(ran, (std::vector<std::string>{"npm test", "npm test -- --ci"}));
  const json r = results(1);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0]["is_error"], true);
  EXPECT_THAT(r[0]["content"].get<std::string>(),
              ::testing::StartsWith("the user declined: run `rm -rf build` was not done"));
  EXPECT_FALSE(r[1].value("is_error", false));
  EXPECT_EQ(r[3]["content"], "echo: read-only tools never ask");
  EXPECT_EQ(permissions.rules(), std::vector<AllowRule>{(AllowRule{"command", "npm test"})});
}

TEST_F(LoopPermissionsTest, ReadOnlyRefusesAndTheRunEndsNormally) {
  Permissions permissions(PermissionMode::read_only, dir.path(), "");
  provider.replies = {reply({tool_use("a", "bash", {{"command", "touch x"}})}),
                      reply({text("I would have run touch x.")})};
  Loop loop = make_loop_with(permissions, true);
  RunOutcome out = loop.run_user_text("go");
  EXPECT_EQ(out.stop, Stop::end_turn);
  EXPECT_TRUE(ran.empty());
  EXPECT_TRUE(asked.empty());
  EXPECT_EQ(results(1)[0]["is_error"], true);
  EXPECT_THAT(results(1)[0]["content"].get<std::string>(), ::testing::HasSubstr("read-only"));
}

TEST_F(LoopPermissionsTest, AskWithNoOneToAskRefusesAndSaysHowToAllow) {
  Permissions permissions(PermissionMode::ask, dir.path(), "");
  provider.replies = {reply({tool_use("a", "bash", {{"command", "touch x"}})}),
                      reply({text("ok")})};
  Loop loop = make_loop_with(permissions, false);
  EXPECT_EQ(loop.run_user_text("go").stop, Stop::end_turn);
  EXPECT_TRUE(ran.empty());
  EXPECT_THAT(results(1)[0]["content"].get<std::string>(),
              ::testing::HasSubstr("no terminal to ask on; the user can rerun with "
                                   "--permission-mode auto"));
}

}  // namespace
}  // namespace meanwhile::agent

namespace meanwhile::agent {
namespace {

using namespace testing;

// Compaction against the in-process provider: the summary is a request of its own, the kept
// turns are valid to send, and the next request names every live job from the store.
class LoopCompactionTest : public LoopTest {
 protected:
  Loop make_compacting_loop(std::size_t window) {
    LoopEvents events;
    events.on_compacted = [this](std::size_t replaced, std::size_t) {
      compacted.push_back(replaced);
    };
    LoopOptions options{"test-model", "", 1024};
    options.context_window = window;
    return Loop(provider, registry, *ctx, options, events);
  }
  std::vector<std::size_t> compacted;
};

TEST_F(LoopCompactionTest, PastTheBudgetOlderTurnsBecomeASummaryAndEveryLiveJobIsNamed) {
  JobSpec spec;
  spec.command = "sleep 30";
  spec.label = "dev server";
  auto job = lane->submit(spec);
  ASSERT_TRUE(job) << job.error();
  ASSERT_TRUE(lane->wait_started(*job, std::chrono::seconds(10)));
  provider.replies = {reply({text("first answer")}), reply({text("SUMMARY: the user asked twice")}),
                      reply({text("second answer")})};
  Loop loop = make_compacting_loop(1000);  // 800 tokens: about 3,200 bytes
  EXPECT_EQ(loop.run_user_text("first: " + std::string(4000, 'x')).stop, Stop::end_turn);
  EXPECT_TRUE(compacted.empty()) << "one turn: nothing older to summarise";
  EXPECT_EQ(loop.run_user_text("second question").stop, Stop::end_turn);
  ASSERT_EQ(provider.requests.size(), 3u);

  const llm::Request& summary = provider.requests[1];
  EXPECT_NE(summary.system.find("compact"), std::string::npos) << summary.system;
  ASSERT_EQ(summary.messages.size(), 3u);  // first question, first answer, the ask
  EXPECT_EQ(summary.messages[2]["role"], "user");
  EXPECT_FALSE(summary.tools.empty()) << "the history may hold tool_use blocks";

  const json& sent = provider.requests[2].messages;
  ASSERT_EQ(sent.size(), 1u) << sent.dump();
  EXPECT_EQ(sent[0]["role"], "user");
  const json& blocks = sent[0]["content"];
  ASSERT_EQ(blocks.size(), 3u) << blocks.dump();
  EXPECT_NE(blocks[0]["text"].get<std::string>().find("SUMMARY: the user asked twice"),
            std::string::npos);
  EXPECT_EQ(blocks[1]["text"], "second question");
  const std::string live = blocks[2]["text"];
  EXPECT_EQ(live.rfind("<live-jobs>", 0), 0u) << live;
  EXPECT_NE(live.find("[task " + *job + "] `sleep 30` (dev server) running"), std::string::npos)
      << live;
  EXPECT_EQ(compacted, std::vector<std::size_t>{2});
  EXPECT_EQ(loop.messages().size(), 2u);  // the kept turn and its answer
  (void)lane->kill(*job);
}

TEST_F(LoopCompactionTest, CompactOnDemandNeedsAnEarlierTurnAndKeepsTheConversationOnFailure) {
  provider.replies = {reply({text("one")})};
  Loop loop = make_compacting_loop(0);
  EXPECT_EQ(loop.run_user_text("hello").stop, Stop::end_turn);
  auto nothing = loop.compact();
  ASSERT_FALSE(nothing);
  EXPECT_EQ(nothing.error_info().code, ErrorCode::failed_precondition);
  EXPECT_EQ(loop.messages().size(), 2u);
  // The provider failing: nothing is replaced.
  loop.set_messages(json::array({{{"role", "user"}, {"content", "a"}},
                                 {{"role", "assistant"}, {"content", "b"}},
                                 {{"role", "user"}, {"content", "c"}},
                                 {{"role", "assistant"}, {"content", "d"}}}),
                    4);
  auto failed = loop.compact();  // no replies left: the provider errs
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().find("compaction: "), std::string::npos);
  EXPECT_EQ(loop.messages().size(), 4u);
}

TEST_F(LoopCompactionTest, AResumedSessionsFirstRequestListsTheLiveJobs) {
  provider.replies = {reply({text("resumed")})};
  Loop loop = make_compacting_loop(0);
  loop.set_messages(json::array({{{"role", "user"}, {"content", "earlier"}},
                                 {{"role", "assistant"}, {"content", "ok"}}}),
                    2);
  loop.mark_live_jobs_due();
  EXPECT_EQ(loop.run_user_text("go on").stop, Stop::end_turn);
  const json& last = provider.requests[0].messages.back();
  EXPECT_NE(last.dump().find("<live-jobs>\\nno background job is queued or running"),
            std::string::npos)
      << last.dump();
}

}  // namespace
}  // namespace meanwhile::agent
