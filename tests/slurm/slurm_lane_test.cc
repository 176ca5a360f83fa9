// Slurm jobs through the lane and the tools, on the real single-node cluster (cluster_env.h):
// what a model sees when it asks for executor "slurm", shards and a kill, and what a host that
// closes leaves behind (nothing).
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>

#include "cluster_env.h"
#include "lane/run_program.h"
#include "lane/slurm_tools.h"
#include "lane/store.h"
#include "meanwhile/lane.h"
#include "meanwhile/tools.h"
#include "support/test_support.h"
#include "tools/format.h"

namespace meanwhile {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class SlurmLaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_OR_FAIL_WITHOUT_CLUSTER();
    open_lane(ExecutorKind::local);
  }
  void open_lane(ExecutorKind default_executor) {
    ctx.reset();
    lane.reset();
    LaneOptions options;
    options.workspace = dir.path();
    options.data_dir = dir.file("data");
    options.kill_grace = 1000ms;
    options.default_executor = default_executor;
    auto opened = Lane::open(options);
    ASSERT_TRUE(opened.ok()) << opened.error();
    lane = std::move(*opened);
    ctx = std::make_unique<ToolContext>(ToolContext{*lane, dir.path(), &cancel, {}});
  }
  void TearDown() override {
    ctx.reset();
    lane.reset();
  }
  // A tool call whose structured result (when not an error) matches the tool's schema.
  ToolResult call(const std::string& name, const json& args) {
    ToolResult result = registry.call(name, args, *ctx);
    if (const ToolDef* def = registry.find(name); def && !result.is_error) {
      auto valid = validate_json(def->output_schema, result.structured);
      EXPECT_TRUE(valid.ok()) << name << ": " << valid.error();
    }
    return result;
  }
  JobInfo wait_done(const JobId& id, std::chrono::seconds timeout = 90s) {
    auto done = lane->wait_terminal({id}, timeout);
    EXPECT_TRUE(done.ok() && done->has_value()) << "task " << id << " did not end in time";
    auto info = lane->get(id);
    return info.ok() ? *info : JobInfo{};
  }
  JobInfo wait_running(const JobId& id) {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    for (;;) {
      auto info = lane->wait_started(id, 1s);
      if (!info.ok()) return {};
      if (info->status != JobStatus::queued || std::chrono::steady_clock::now() > deadline)
        return *info;
    }
  }
  std::vector<Note> notes_of(const JobId& id) {
    std::vector<Note> mine;
    for (Note& note : lane->drain())
      if (note.job == id) mine.push_back(std::move(note));
    return mine;
  }
  test::TempDir dir{"meanwhile-slurm-lane"};
  std::atomic<bool> cancel{false};
  ToolRegistry registry = ToolRegistry::standard();
  std::unique_ptr<Lane> lane;
  std::unique_ptr<ToolContext> ctx;
};

TEST_F(SlurmLaneTest, ASlurmJobEndsWithItsNoteOutputWatchAndSlurmId) {
  JobSpec spec;
  spec.command = "echo \"hello from task $MEANWHILE_JOB_ID\"; echo READY now; exit 4";
  spec.executor = ExecutorKind::slurm;
  spec.watch = "READY";
  auto id = lane->submit(spec);
  ASSERT_TRUE(id.ok()) << id.error();
  JobInfo info = wait_done(*id);
  EXPECT_EQ(info.status, JobStatus::exited) << info.error;
  EXPECT_EQ(info.exit_code, 4);
  EXPECT_FALSE(info.slurm_job_id.empty());
  EXPECT_TRUE(info.started_at.has_value());
  EXPECT_TRUE(test::eventually([&] { return lane->pending_notes() >= 2; }, 10000ms));
  bool finished = false, matched = false;
  for (const Note& note : notes_of(*id)) {
    if (note.kind == NoteKind::finished) {
      finished = true;
      EXPECT_NE(note.preview.find("hello from task " + *id), std::string::npos) << note.preview;
    }
    if (note.kind == NoteKind::matched) {
      matched = true;
      ASSERT_FALSE(note.lines.empty());
      EXPECT_EQ(note.lines[0], "READY now");
    }
  }
  EXPECT_TRUE(finished);
  EXPECT_TRUE(matched) << "the watch pattern matched a line Slurm wrote";
  ReadRequest all;
  all.id = *id;
  all.mode = ReadMode::all;
  auto text = lane->read_output(all);
  ASSERT_TRUE(text.ok()) << text.error();
  EXPECT_NE(text->text.find("hello from task " + *id), std::string::npos) << text->text;

  // The details a model sees carry the cluster's id.
  auto details = call("check_background", {{"task_id", *id}});
  EXPECT_NE(details.text.find("slurm job: " + info.slurm_job_id + "\n"), std::string::npos)
      << details.text;
}

TEST_F(SlurmLaneTest, FourShardsThroughTheToolsSumUpAndReadByShard) {
  auto run = call("background_run", {{"command",
                                      "echo \"shard $MEANWHILE_SHARD of $MEANWHILE_SHARDS\"; "
                                      "test \"$MEANWHILE_SHARD\" != 2"},
                                     {"executor", "slurm"},
                                     {"shards", 4},
                                     {"cpus", 1},
                                     {"memory", 50},
                                     {"label", "sharded"}});
  ASSERT_FALSE(run.is_error) << run.text;
  EXPECT_NE(run.text.find("Slurm as job"), std::string::npos) << run.text;
  ASSERT_TRUE(run.structured.contains("slurm_job_id")) << run.structured.dump();
  const std::string id = run.structured["task_id"];
  JobInfo info = wait_done(id);
  EXPECT_EQ(info.status, JobStatus::exited);
  EXPECT_EQ(info.exit_code, 1);
  EXPECT_EQ(info.summary, "4 shards: 3 exited 0, shard 2 exited 1");

  auto all = call("background_output", {{"task_id", id}, {"mode", "all"}});
  ASSERT_FALSE(all.is_error) << all.text;
  for (int shard = 0; shard < 4; ++shard) {
    const std::string n = std::to_string(shard);
    EXPECT_NE(all.text.find("--- shard " + n + " ---\nshard " + n + " of 4"), std::string::npos)
        << all.text;
  }
  auto two = call("background_output", {{"task_id", id}, {"mode", "all"}, {"shard", 2}});
  ASSERT_FALSE(two.is_error) << two.text;
  EXPECT_NE(two.text.find("shard 2 of 4"), std::string::npos) << two.text;
  EXPECT_EQ(two.text.find("shard 1 of 4"), std::string::npos) << two.text;
  auto bad = call("background_output", {{"task_id", id}, {"shard", 7}});
  EXPECT_TRUE(bad.is_error);
  EXPECT_NE(bad.text.find("shards 0 to 3"), std::string::npos) << bad.text;

  // The finished note the model reads says how each shard ended.
  bool seen = false;
  for (const Note& note : notes_of(id)) {
    if (note.kind != NoteKind::finished) continue;
    seen = true;
    EXPECT_NE(format_note(note).find("4 shards: 3 exited 0, shard 2 exited 1"), std::string::npos)
        << format_note(note);
  }
  EXPECT_TRUE(seen);
}

TEST_F(SlurmLaneTest, AKillEndsItInSlurmAndAClosingHostCancelsTheRest) {
  auto run = call("background_run", {{"command", "echo up; sleep 300"}, {"executor", "slurm"}});
  ASSERT_FALSE(run.is_error) << run.text;
  const std::string killed_id = run.structured["task_id"];
  auto other = call("background_run", {{"command", "sleep 300"}, {"executor", "slurm"}});
  ASSERT_FALSE(other.is_error) << other.text;
  const std::string left_id = other.structured["task_id"];
  JobInfo running = wait_running(killed_id);
  ASSERT_EQ(running.status, JobStatus::running) << running.error;
  JobInfo left = wait_running(left_id);
  ASSERT_EQ(left.status, JobStatus::running) << left.error;

  auto kill = call("background_kill", {{"task_id", killed_id}});
  EXPECT_FALSE(kill.is_error) << kill.text;
  JobInfo info = wait_done(killed_id);
  EXPECT_EQ(info.status, JobStatus::killed) << info.error;
  EXPECT_TRUE(nothing_live(info.slurm_job_id)) << "Slurm job " << info.slurm_job_id;

  // Closing the lane cancels the job still running (the host owned it).
  ctx.reset();
  lane.reset();
  EXPECT_TRUE(test::eventually([&] { return nothing_live(left.slurm_job_id); }, 30000ms))
      << "Slurm job " << left.slurm_job_id << " outlived the host";
}

TEST_F(SlurmLaneTest, BadRequestsGetSlurmsWordsOrTheFieldToFix) {
  auto refused =
      call("background_run",
           {{"command", "true"}, {"executor", "slurm"}, {"partition", "no-such-partition"}});
  EXPECT_TRUE(refused.is_error) << refused.text;
  EXPECT_NE(refused.text.find("failed to start"), std::string::npos) << refused.text;
  EXPECT_NE(refused.text.find("partition"), std::string::npos) << refused.text;

  auto local = call("background_run", {{"command", "true"}, {"shards", 3}});
  EXPECT_TRUE(local.is_error);
  EXPECT_NE(local.text.find("shards applies to Slurm jobs only"), std::string::npos) << local.text;

  auto memory =
      call("background_run", {{"command", "true"}, {"executor", "slurm"}, {"memory", "lots"}});
  EXPECT_TRUE(memory.is_error);
  EXPECT_NE(memory.text.find("memory"), std::string::npos) << memory.text;

  auto piped =
      call("background_run", {{"command", "cat"}, {"executor", "slurm"}, {"stdin", "pipe"}});
  EXPECT_TRUE(piped.is_error);
  EXPECT_NE(piped.text.find("no stdin pipe"), std::string::npos) << piped.text;
}

TEST_F(SlurmLaneTest, TheDefaultExecutorAppliesToJobsThatNameNone) {
  open_lane(ExecutorKind::slurm);
  JobSpec spec;
  spec.command = "echo on the cluster";
  auto id = lane->submit(spec);
  ASSERT_TRUE(id.ok()) << id.error();
  JobInfo info = wait_done(*id);
  EXPECT_EQ(info.spec.executor, ExecutorKind::slurm);
  EXPECT_FALSE(info.slurm_job_id.empty());
  EXPECT_TRUE(info.succeeded()) << info.error;
  // ... and a job may still ask for this machine.
  spec.executor = ExecutorKind::local;
  auto here = lane->submit(spec);
  ASSERT_TRUE(here.ok());
  JobInfo local = wait_done(*here, 10s);
  EXPECT_TRUE(local.slurm_job_id.empty());
  EXPECT_GT(local.pid, 0);
}

// Run by the test below, as a copy of this binary: a host that starts a Slurm job, waits until
// its row says running with its Slurm id, and dies of SIGKILL (nothing is closed).
TEST(SlurmHostChild, DISABLED_StartsAJobAndIsKilled) {
  const char* dir = ::getenv(kHostDirVariable);
  if (dir == nullptr) GTEST_SKIP() << "run by AJobOutlivesAKilledHostAndTheNextHostFollowsIt";
  LaneOptions options;
  options.workspace = dir;
  options.data_dir = std::string(dir) + "/data";
  auto lane = Lane::open(options);
  ASSERT_TRUE(lane.ok()) << lane.error();
  JobSpec spec;
  spec.command = "echo before; sleep 6; echo after; exit 5";
  spec.executor = ExecutorKind::slurm;
  auto id = (*lane)->submit(spec);
  ASSERT_TRUE(id.ok()) << id.error();
  auto store = Store::open(options.data_dir + "/jobs.db");
  ASSERT_TRUE(store.ok()) << store.error();
  // The row says running with its Slurm id, and the job has printed (what the store has of
  // its output is where the next host reads from: output alone does not rewrite the row).
  ASSERT_TRUE(test::eventually(
      [&] {
        auto row = (*store)->load(*id);
        auto now = (*lane)->get(*id);
        return row.ok() && row->has_value() && (*row)->info.status == JobStatus::running &&
               !(*row)->info.slurm_job_id.empty() && now.ok() && now->bytes_logged > 0;
      },
      60000ms))
      << "the row never said running with a Slurm id, or the job printed nothing";
  ASSERT_TRUE(test::write_file(std::string(dir) + "/id", *id));
  ::kill(::getpid(), SIGKILL);
}

TEST_F(SlurmLaneTest, AJobOutlivesAKilledHostAndTheNextHostFollowsIt) {
  test::TempDir shared{"meanwhile-slurm-host"};
  std::vector<std::string> env = {"PATH=/usr/local/bin:/usr/bin:/bin",
                                  std::string("SLURM_CONF=") + ::getenv("SLURM_CONF"),
                                  std::string(kHostDirVariable) + "=" + shared.path()};
  auto host = run_program({"/proc/self/exe", "--gtest_also_run_disabled_tests",
                           "--gtest_filter=SlurmHostChild.DISABLED_StartsAJobAndIsKilled"},
                          env, 120s);
  ASSERT_TRUE(host.ok()) << host.error();
  ASSERT_EQ(host->term_signal, SIGKILL) << "the host should have died of SIGKILL\n"
                                        << host->out << host->err;
  const std::string id = test::read_file(shared.file("id"));
  ASSERT_FALSE(id.empty());

  // The next host on the same data directory follows the job to its end and owns it.
  LaneOptions options;
  options.workspace = shared.path();
  options.data_dir = shared.file("data");
  auto next = Lane::open(options);
  ASSERT_TRUE(next.ok()) << next.error();
  Lane& lane2 = **next;
  auto adopted = lane2.get(id);
  ASSERT_TRUE(adopted.ok()) << adopted.error();
  EXPECT_TRUE(adopted->ours);
  EXPECT_EQ(adopted->status, JobStatus::running) << adopted->error;
  auto done = lane2.wait_terminal({id}, 90s);
  ASSERT_TRUE(done.ok() && done->has_value()) << "the adopted job never ended";
  const JobInfo info = **done;
  EXPECT_EQ(info.status, JobStatus::exited) << info.error;
  EXPECT_EQ(info.exit_code, 5);
  EXPECT_EQ(info.bytes_logged, 13u) << "before\\n (the first host's) and after\\n";
  EXPECT_TRUE(test::eventually([&] { return lane2.pending_notes() > 0; }, 5000ms));
  bool finished = false;
  for (const Note& note : lane2.drain()) {
    if (note.job != id || note.kind != NoteKind::finished) continue;
    finished = true;
    EXPECT_NE(note.preview.find("after"), std::string::npos) << note.preview;
  }
  EXPECT_TRUE(finished) << "the new host delivers the note";
  ReadRequest all;
  all.id = id;
  all.mode = ReadMode::all;
  auto text = lane2.read_output(all);
  ASSERT_TRUE(text.ok()) << text.error();
  EXPECT_NE(text->text.find("before\nafter"), std::string::npos) << text->text;
}

}  // namespace
}  // namespace meanwhile
