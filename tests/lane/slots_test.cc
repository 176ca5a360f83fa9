// Slots and ordering: at most max_slots leaders at once, queued jobs start by priority then age,
// `after` waits for success and skips on failure.
#include <mutex>
#include <set>

#include "lane_test_util.h"

namespace meanwhile::testing {
namespace {

// Records, from the observer, the order in which jobs start and the most running at once.
struct StartLog {
  std::mutex mu;
  std::vector<JobId> started;
  int running = 0;
  int most = 0;
  void attach(Lane& lane) {
    lane.set_observer([this](const JobInfo& info) {
      std::lock_guard lock(mu);
      if (info.status == JobStatus::running) {
        started.push_back(info.id);
        most = std::max(most, ++running);
      } else if (is_terminal(info.status) && info.started_at) {
        --running;
      }
    });
  }
};

TEST(SlotsTest, NoMoreThanMaxSlotsRunAtOnce) {
  TempDir dir;
  LaneOptions options;
  options.max_slots = 2;
  auto lane = open_lane(dir, options);
  ASSERT_TRUE(lane);
  StartLog log;
  log.attach(*lane);
  std::vector<JobId> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(submit_ok(*lane, shell("sleep 0.2")));
  ASSERT_TRUE(eventually([&] { return lane->running_count() == 2; }));
  auto queued = lane->get(ids.back());
  EXPECT_EQ(queued->status, JobStatus::queued);
  for (const JobId& id : ids) EXPECT_EQ(wait_done(*lane, id).status, JobStatus::exited);
  lane->set_observer({});
  std::lock_guard lock(log.mu);
  EXPECT_EQ(log.most, 2);
  // Same priority: oldest first. The first two start together (which one runs first is up to
  // the scheduler); the rest follow as slots free up.
  ASSERT_EQ(log.started.size(), ids.size());
  EXPECT_EQ(std::set<JobId>(log.started.begin(), log.started.begin() + 2),
            std::set<JobId>(ids.begin(), ids.begin() + 2));
}

TEST(SlotsTest, QueuedJobsStartByPriorityThenAge) {
  TempDir dir;
  LaneOptions options;
  options.max_slots = 1;
  auto lane = open_lane(dir, options);
  ASSERT_TRUE(lane);
  StartLog log;
  log.attach(*lane);
  JobId blocker = submit_ok(*lane, shell("sleep 0.3"));
  wait_running(*lane, blocker);  // the others queue behind it
  auto with_priority = [&](int priority) {
    JobSpec spec = shell("true");
    spec.priority = priority;
    return submit_ok(*lane, spec);
  };
  JobId a = with_priority(0), b = with_priority(5), c = with_priority(5), d = with_priority(1);
  for (const JobId& id : {a, b, c, d}) wait_done(*lane, id);
  lane->set_observer({});
  std::lock_guard lock(log.mu);
  EXPECT_EQ(log.started, (std::vector<JobId>{blocker, b, c, d, a}));
  EXPECT_EQ(log.most, 1);
}

TEST(SlotsTest, AfterWaitsForSuccessAndSkipsOnFailure) {
  TempDir dir;
  auto lane = open_lane(dir);
  ASSERT_TRUE(lane);
  JobId good = submit_ok(*lane, shell("sleep 0.3"));
  JobId bad = submit_ok(*lane, shell("sleep 0.2; exit 4"));
  JobSpec after_good = shell("true");
  after_good.after = {good};
  JobSpec after_both = shell("echo must-not-run");
  after_both.after = {good, bad};
  JobId c = submit_ok(*lane, after_good);
  JobId d = submit_ok(*lane, after_both);
  JobSpec chained = shell("echo must-not-run");
  chained.after = {d};
  JobId e = submit_ok(*lane, chained);
  EXPECT_EQ(lane->get(c)->status, JobStatus::queued);

  JobInfo good_info = wait_done(*lane, good);
  JobInfo c_info = wait_done(*lane, c);
  EXPECT_EQ(c_info.status, JobStatus::exited);
  ASSERT_TRUE(c_info.started_at && good_info.ended_at);
  EXPECT_GE(*c_info.started_at, *good_info.ended_at);

  JobInfo d_info = wait_done(*lane, d);
  EXPECT_EQ(d_info.status, JobStatus::skipped);
  EXPECT_NE(d_info.error.find("job " + bad), std::string::npos) << d_info.error;
  EXPECT_NE(d_info.error.find("code 4"), std::string::npos) << d_info.error;
  EXPECT_EQ(d_info.pid, 0);
  JobInfo e_info = wait_done(*lane, e);
  EXPECT_EQ(e_info.status, JobStatus::skipped);
  EXPECT_NE(e_info.error.find("job " + d), std::string::npos) << e_info.error;

  auto notes = collect_notes(*lane, [](const std::vector<Note>& n) { return n.size() >= 5; });
  EXPECT_EQ(notes.size(), 5u);  // exactly one finished note per job, skipped ones included
  for (const Note& note : notes) {
    EXPECT_EQ(note.kind, NoteKind::finished);
    if (note.job == d || note.job == e) {
      EXPECT_EQ(note.priority, 3);
    }
  }
}

TEST(SlotsTest, AfterJobsThatAlreadyEnded) {
  TempDir dir;
  JobId earlier_ok, earlier_failed;
  {
    auto lane = open_lane(dir);
    ASSERT_TRUE(lane);
    earlier_ok = submit_ok(*lane, shell("true"));
    earlier_failed = submit_ok(*lane, shell("false"));
    wait_done(*lane, earlier_ok);
    wait_done(*lane, earlier_failed);
  }
  auto lane = open_lane(dir);  // those jobs are now rows of an earlier host
  ASSERT_TRUE(lane);
  JobId done = submit_ok(*lane, shell("true"));
  wait_done(*lane, done);
  JobSpec runs = shell("true");
  runs.after = {earlier_ok, done};
  EXPECT_EQ(wait_done(*lane, submit_ok(*lane, runs)).status, JobStatus::exited);
  JobSpec skips = shell("true");
  skips.after = {earlier_failed};
  JobInfo skipped = wait_done(*lane, submit_ok(*lane, skips));
  EXPECT_EQ(skipped.status, JobStatus::skipped);
  EXPECT_NE(skipped.error.find(earlier_failed), std::string::npos);
}

// wait_started() returns once the lane thread has started the job, and a queued job's state
// when the timeout passes first.
TEST(SlotsTest, WaitStartedWakesWhenTheJobRuns) {
  TempDir dir;
  LaneOptions options;
  options.max_slots = 1;
  auto lane = open_lane(dir, options);
  ASSERT_TRUE(lane);
  JobId first = submit_ok(*lane, shell("sleep 30"));
  auto started = lane->wait_started(first, std::chrono::seconds(30));
  ASSERT_TRUE(started.ok()) << started.error();
  EXPECT_EQ(started->status, JobStatus::running);
  EXPECT_GT(started->pid, 0);
  JobId second = submit_ok(*lane, shell("true"));
  auto queued = lane->wait_started(second, std::chrono::milliseconds(50));
  ASSERT_TRUE(queued.ok()) << queued.error();
  EXPECT_EQ(queued->status, JobStatus::queued) << "no slot is free";
  ASSERT_TRUE(lane->kill(first).ok());
  auto after_kill = lane->wait_started(second, std::chrono::seconds(30));
  ASSERT_TRUE(after_kill.ok()) << after_kill.error();
  EXPECT_NE(after_kill->status, JobStatus::queued);
  EXPECT_EQ(lane->wait_started("999999", std::chrono::milliseconds(1)).code(),
            ErrorCode::not_found);
}

}  // namespace
}  // namespace meanwhile::testing
