// The lane's basic contract with real processes: submit never waits, exit codes and signals,
// environment, records, notes, bad input.
#include <poll.h>
#include <sys/stat.h>

#include <fstream>
#include <mutex>
#include <set>

#include "lane/store.h"
#include "lane_test_util.h"

namespace meanwhile::testing {
namespace {

TEST(LaneTest, SubmitReturnsAtOnceWithoutWaitingForTheProcess) {
  TempDir dir;
  auto lane = open_lane(dir);
  ASSERT_TRUE(lane);
  const auto before = std::chrono::steady_clock::now();
  JobId id = submit_ok(*lane, shell("sleep 5"));
  const auto took = std::chrono::steady_clock::now() - before;
  EXPECT_LT(took, 1s * slowdown());  // a blocking submit would take 5 s
  auto info = lane->get(id);
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(is_terminal(info->status));
  EXPECT_TRUE(info->ours);
  JobInfo running = wait_running(*lane, id);
  EXPECT_EQ(running.status, JobStatus::running);
  EXPECT_GT(running.pid, 0);
  EXPECT_EQ(lane->running_count(), 1u);
}

TEST(LaneTest, ExitCodeAndSignalAreRecorded) {
  TempDir dir;
  auto lane = open_lane(dir);
  ASSERT_TRUE(lane);
  JobId ok = submit_ok(*lane, shell("true"));
  JobId fails = submit_ok(*lane, shell("exit 3"));
  JobId signalled = submit_ok(*lane, shell("kill -KILL $$"));
  JobInfo a = wait_done(*lane, ok), b = wait_done(*lane, fails), c = wait_done(*lane, signalled);
  EXPECT_EQ(a.status, JobStatus::exited);
  EXPECT_EQ(a.exit_code, 0);
  EXPECT_TRUE(a.succeeded());
  EXPECT_EQ(b.status, JobStatus::exited);
  EXPECT_EQ(b.exit_code, 3);
  EXPECT_FALSE(b.succeeded());
  EXPECT_EQ(c.status, JobStatus::exited);
  EXPECT_FALSE(c.exit_code.has_value());
  EXPECT_EQ(c.term_signal, SIGKILL);
  EXPECT_TRUE(a.ended_at.has_value());
  EXPECT_GE(a.elapsed_seconds(), 0.0);
}

TEST(LaneTest, EveryJobGetsExactlyOneFinishedNoteWithPriority) {
  TempDir dir;
  auto lane = open_lane(dir);
  ASSERT_TRUE(lane);
  JobId ok = submit_ok(*lane, shell("echo fine"));
  JobId bad = submit_ok(*lane, shell("echo broken; exit 1"));
  auto notes = collect_notes(*lane, [](const std::vector<Note>& n) { return n.size() >= 2; });
  ASSERT_EQ(notes.size(), 2u);
  for (const Note& note : notes) {
    EXPECT_EQ(note.kind, NoteKind::finished);
    if (note.job == ok) {
      EXPECT_EQ(note.priority, 2);
      EXPECT_NE(note.preview.find("fine"), std::string::npos);
    } else {
      EXPECT_EQ(note.job, bad);
      EXPECT_EQ(note.priority, 3);
      EXPECT_NE(note.preview.find("broken"), std::string::npos);
      EXPECT_EQ(note.info.exit_code, 1);
    }
  }
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(lane->drain().empty());  // none twice
  EXPECT_EQ(lane->pending_notes(), 0u);
}

TEST(LaneTest, WaitReturnsNotesOfTheGivenJobsOnly) {
  TempDir dir;
  auto lane = open_lane(dir);
  ASSERT_TRUE(lane);
  JobId slow = submit_ok(*lane, shell("sleep 0.3"));
  JobId fast = submit_ok(*lane, shell("true"));
  auto notes = lane->wait(10s * slowdown(), {slow});
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].job, slow);
  auto rest = lane->drain();
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].job, fast);
}

TEST(LaneTest, NotifyFdIsReadableWhileNotesArePending) {
  TempDir dir;
  auto lane = open_lane(dir);
  ASSERT_TRUE(lane);
  ASSERT_GE(lane->notify_fd(), 0);
  JobId id = submit_ok(*lane, shell("true"));
  wait_done(*lane, id);
  ASSERT_TRUE(eventually([&] { return lane->pending_notes() == 1; }));
  pollfd pfd{lane->notify_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&pfd, 1, 0), 1);
  lane->drain();
  pfd.revents = 0;
  EXPECT_EQ(::poll(&pfd, 1, 0), 0);
}

TEST(LaneTest, ObserverSeesEveryStatusChange) {
  TempDir dir;
  auto lane = open_lane(dir);
  ASSERT_TRUE(lane);
  std::mutex mu;
  std::vector<JobStatus> seen;
  lane->set_observer([&](const JobInfo& info) {
    std::lock_guard lock(mu);
    seen.push_back(info.status);
  });
  JobId id = submit_ok(*lane, shell("true"));
  wait_done(*lane, id);
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return seen.size() >= 2;
  }));
  lane->set_observer({});
  std::lock_guard lock(mu);
  EXPECT_EQ(seen.front(), JobStatus::running);
  EXPECT_EQ(seen.back(), JobStatus::exited);
}

TEST(LaneTest, JobsGetTheirIdAndNonInteractiveDefaults) {
  TempDir dir;
  ::setenv("MEANWHILE_TEST_HOST_VAR", "from-host", 1);
  auto lane = open_lane(dir);
  ASSERT_TRUE(lane);
  JobSpec spec = shell(
      "echo id=$MEANWHILE_JOB_ID; echo mark=$MEANWHILE_JOB_MARK; echo pager=$PAGER; "
      "echo git=$GIT_PAGER; echo term=$TERM; echo host=$MEANWHILE_TEST_HOST_VAR; "
      "echo extra=$EXTRA");
  spec.env = {{"EXTRA", "spec-value"}};
  JobId id = submit_ok(*lane, spec);
  JobInfo info = wait_done(*lane, id);
  std::string log = read_file(info.log_path);
  EXPECT_NE(log.find("id=" + id + "\n"), std::string::npos) << log;
  EXPECT_NE(log.find(":" + id + "\n"), std::string::npos) << log;  // mark = <uuid>:<id>
  EXPECT_NE(log.find("pager=cat\n"), std::string::npos);
  EXPECT_NE(log.find("git=cat\n"), std::string::npos);
  EXPECT_NE(log.find("term=dumb\n"), std::string::npos);
  EXPECT_NE(log.find("host=from-host\n"), std::string::npos);
  EXPECT_NE(log.find("extra=spec-value\n"), std::string::npos);

  JobSpec overridden = shell("echo pager=$PAGER term=$TERM");
  overridden.env = {{"PAGER", "less"}, {"TERM", "xterm"}};
  JobInfo second = wait_done(*lane, submit_ok(*lane, overridden));
  EXPECT_EQ(read_file(second.log_path), "pager=less term=xterm\n");
}

TEST(LaneTest, JobsRunInTheirWorkingDirectory) {
  TempDir dir;
  std::filesystem::create_directory(dir / "sub");
  auto lane = open_lane(dir);
  ASSERT_TRUE(lane);
  JobInfo in_workspace = wait_done(*lane, submit_ok(*lane, shell("pwd")));
  EXPECT_EQ(read_file(in_workspace.log_path), dir.path() + "\n");
  JobSpec spec = shell("pwd");
  spec.cwd = "sub";  // relative to the workspace
  JobInfo in_sub = wait_done(*lane, submit_ok(*lane, spec));
  EXPECT_EQ(read_file(in_sub.log_path), dir / "sub" + "\n");
  EXPECT_EQ(in_sub.spec.cwd, dir / "sub");
}

TEST(LaneTest, JobsStartWithDefaultSignalsEvenWhenTheHostIgnoresThem) {
  TempDir dir;
  auto lane = open_lane(dir);
  ASSERT_TRUE(lane);
  auto old = ::signal(SIGPIPE, SIG_IGN);
  // Ignored signals survive execve: without the reset the job would see SIGPIPE ignored.
  JobInfo info =
      wait_done(*lane, submit_ok(*lane, shell("grep -E '^(SigIgn|SigBlk)' /proc/self/status")));
  ::signal(SIGPIPE, old);
  std::string log = read_file(info.log_path);
  EXPECT_NE(log.find("SigIgn:\t0000000000000000"), std::string::npos) << log;
  EXPECT_NE(log.find("SigBlk:\t0000000000000000"), std::string::npos) << log;
}

TEST(LaneTest, RecordsAreListedAndSurviveInTheStore) {
  TempDir dir;
  JobId id;
  {
    auto lane = open_lane(dir);
    ASSERT_TRUE(lane);
    JobSpec spec = shell("echo hello");
    spec.label = "greeting";
    id = submit_ok(*lane, spec);
    wait_done(*lane, id);
    auto listed = lane->list();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].id, id);
    EXPECT_TRUE(listed[0].ours);
    EXPECT_EQ(listed[0].spec.label, "greeting");
  }
  auto lane = open_lane(dir);
  ASSERT_TRUE(lane);
  auto info = lane->get(id);
  ASSERT_TRUE(info.ok()) << info.error();
  EXPECT_FALSE(info->ours);
  EXPECT_EQ(info->status, JobStatus::exited);
  EXPECT_EQ(info->exit_code, 0);
  EXPECT_EQ(info->bytes_logged, 6u);
  EXPECT_EQ(info->spec.label, "greeting");
  EXPECT_EQ(read_file(info->log_path), "hello\n");
  JobId next = submit_ok(*lane, shell("true"));
  EXPECT_NE(next, id);
  wait_done(*lane, next);  // list(1) caps finished jobs only: a live one is always listed
  auto listed = lane->list();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].id, id);  // oldest first
  EXPECT_FALSE(listed[0].ours);
  EXPECT_TRUE(listed[1].ours);
  EXPECT_EQ(lane->list(1).size(), 1u);
}

// submit() takes ids from blocks reserved in the store and the lane thread writes the rows:
// every job is listed at once, and its row reaches the store for other processes to read.
TEST(LaneTest, RowsReachTheStoreAndListingDoesNotWaitForThem) {
  TempDir dir;
  auto lane = open_lane(dir);
  ASSERT_TRUE(lane);
  std::vector<JobId> ids;
  for (int i = 0; i < 10; ++i) {
    ids.push_back(submit_ok(*lane, shell("sleep 30")));
    auto listed = lane->list();
    ASSERT_EQ(listed.size(), ids.size());  // whether or not its row is written yet
    EXPECT_EQ(listed.back().id, ids.back());
  }
  auto other = Store::open((dir / "data") + "/jobs.db");
  ASSERT_TRUE(other.ok()) << other.error();
  for (const JobId& id : ids) {
    EXPECT_TRUE(eventually([&] {
      auto row = (*other)->load(id);
      return row.ok() && row->has_value() && (*row)->info.status == JobStatus::running;
    })) << "job "
        << id;
  }
  for (const JobId& id : ids) ASSERT_TRUE(lane->kill(id).ok());
  for (const JobId& id : ids) {
    wait_done(*lane, id);
    EXPECT_TRUE(eventually([&] {
      auto row = (*other)->load(id);
      return row.ok() && row->has_value() && (*row)->info.status == JobStatus::killed;
    })) << "job "
        << id;
  }
}

TEST(LaneTest, TwoLanesSharingADataDirNeverShareAnId) {
  TempDir dir;
  auto first = open_lane(dir);
  auto second = open_lane(dir);
  ASSERT_TRUE(first && second);
  std::set<JobId> ids;
  std::vector<std::pair<Lane*, JobId>> jobs;
  for (int i = 0; i < 30; ++i) {
    Lane& lane = i % 3 == 0 ? *second : *first;
    JobId id = submit_ok(lane, shell("true"));
    EXPECT_TRUE(ids.insert(id).second) << "id " << id << " given twice";
    jobs.emplace_back(&lane, id);
  }
  for (auto& [lane, id] : jobs) EXPECT_EQ(wait_done(*lane, id).status, JobStatus::exited);
  // Each lane sees the other's jobs in the store, with its own data.
  EXPECT_TRUE(eventually([&] {
    auto row = first->get(jobs[0].second);  // one of second's
    return row.ok() && !row->ours && row->status == JobStatus::exited;
  }));
}

// A job submitted just before the lane closes may never have been written by the lane
// thread: closing writes it (killed, not started), so no record is lost.
TEST(LaneTest, ClosingWritesTheRowsOfJobsItNeverStarted) {
  TempDir dir;
  std::vector<JobId> ids;
  {
    LaneOptions options;
    options.max_slots = 1;
    auto lane = open_lane(dir, options);
    ASSERT_TRUE(lane);
    for (int i = 0; i < 20; ++i) ids.push_back(submit_ok(*lane, shell("sleep 30")));
  }
  auto store = Store::open((dir / "data") + "/jobs.db");
  ASSERT_TRUE(store.ok()) << store.error();
  for (const JobId& id : ids) {
    auto row = (*store)->load(id);
    ASSERT_TRUE(row.ok() && row->has_value()) << "job " << id << " has no row";
    EXPECT_EQ((*row)->info.status, JobStatus::killed) << "job " << id;
    EXPECT_FALSE((*row)->info.error.empty());
  }
}

// Every refusal says what is wrong in words, and carries the code (and the argument at fault)
// that callers decide by.
TEST(LaneTest, BadInputGetsAClearError) {
  TempDir dir;
  auto lane = open_lane(dir);
  ASSERT_TRUE(lane);
  auto expect_error = [](const auto& result, const std::string& words, ErrorCode code,
                         const std::string& field = "") {
    ASSERT_FALSE(result.ok()) << "expected an error: " << words;
    EXPECT_NE(result.error().find(words), std::string::npos) << result.error();
    EXPECT_EQ(result.code(), code) << error_code_name(result.code()) << ": " << result.error();
    EXPECT_EQ(result.error_info().field, field) << result.error();
  };
  using enum ErrorCode;
  expect_error(lane->submit(shell("")), "empty command", invalid_argument, "command");
  expect_error(lane->submit(shell("   \n")), "empty command", invalid_argument, "command");
  JobSpec missing = shell("true");
  missing.cwd = dir / "no-such-dir";
  expect_error(lane->submit(missing), dir / "no-such-dir", not_found, "cwd");
  JobSpec file_cwd = shell("true");
  file_cwd.cwd = dir / "a-file";
  { std::ofstream(dir / "a-file") << "x"; }
  expect_error(lane->submit(file_cwd), "not a directory", invalid_argument, "cwd");
  JobSpec negative = shell("true");
  negative.timeout = std::chrono::milliseconds(-5);
  expect_error(lane->submit(negative), "timeout", invalid_argument, "timeout");
  JobSpec regex = shell("true");
  regex.watch = "([unclosed";
  expect_error(lane->submit(regex), "invalid watch regex", invalid_argument, "watch");
  JobSpec after = shell("true");
  after.after = {"999"};
  expect_error(lane->submit(after), "unknown job id 999", not_found, "after");
  JobSpec env = shell("true");
  env.env = {{"A=B", "x"}};
  expect_error(lane->submit(env), "invalid environment variable name", invalid_argument, "env");
  expect_error(lane->get("12345"), "unknown job id 12345", not_found);
  expect_error(lane->get("abc"), "unknown job id 'abc'", not_found);
  expect_error(lane->kill("12345"), "unknown job id", not_found);
  expect_error(lane->write_input("12345", "x", false), "unknown job id", not_found);
  expect_error(lane->wait_terminal({"777"}, 10ms), "unknown job id 777", not_found);
  expect_error(lane->wait_terminal({}, 10ms), "no job ids", invalid_argument);
  ReadRequest read;
  read.id = "4242";
  expect_error(lane->read_output(read), "unknown job id", not_found);

  JobId done = submit_ok(*lane, shell("true"));
  wait_done(*lane, done);
  expect_error(lane->write_input(done, "x", false), "stdin null", failed_precondition);
  ReadRequest filtered;
  filtered.id = done;
  filtered.filter = "(a";
  expect_error(lane->read_output(filtered), "invalid filter regex", invalid_argument, "filter");
  JobSpec piped = shell("true");
  piped.stdin_mode = StdinMode::pipe;
  JobId finished = submit_ok(*lane, piped);
  wait_done(*lane, finished);
  expect_error(lane->write_input(finished, "x", false), "has finished", failed_precondition);
  EXPECT_TRUE(lane->list().size() == 2);  // the rejected submits left no rows
}

TEST(LaneTest, OpenFailsClearlyWhenTheStoreCannotBeOpened) {
  TempDir dir;
  std::filesystem::create_directories(dir / "data");
  std::filesystem::create_directory(dir / "data/jobs.db");  // a directory where the db goes
  LaneOptions options;
  options.workspace = dir.path();
  options.data_dir = dir / "data";
  auto lane = Lane::open(options);
  ASSERT_FALSE(lane.ok());
  EXPECT_NE(lane.error().find("jobs.db"), std::string::npos) << lane.error();
  EXPECT_EQ(lane.code(), ErrorCode::io) << error_code_name(lane.code());

  options.workspace = dir / "missing";
  auto no_workspace = Lane::open(options);
  ASSERT_FALSE(no_workspace.ok());
  EXPECT_NE(no_workspace.error().find("workspace"), std::string::npos);
  EXPECT_EQ(no_workspace.code(), ErrorCode::invalid_argument);
  EXPECT_EQ(no_workspace.error_info().field, "workspace");
}

TEST(LaneTest, ACommandThatCannotStartIsAFinishedJobWithTheReason) {
  TempDir dir;
  std::filesystem::create_directory(dir / "doomed");
  LaneOptions options;
  options.max_slots = 1;
  auto lane = open_lane(dir, options);
  ASSERT_TRUE(lane);
  JobSpec blocker = shell("sleep 0.5");
  JobId first = submit_ok(*lane, blocker);
  JobSpec spec = shell("echo never");
  spec.cwd = dir / "doomed";
  JobId id = submit_ok(*lane, spec);  // queued behind the blocker
  std::filesystem::remove(dir / "doomed");
  JobInfo info = wait_done(*lane, id);
  EXPECT_EQ(info.status, JobStatus::failed_to_start);
  EXPECT_NE(info.error.find(dir / "doomed"), std::string::npos) << info.error;
  EXPECT_NE(info.error.find("No such file"), std::string::npos) << info.error;
  EXPECT_EQ(wait_done(*lane, first).status, JobStatus::exited);
  auto notes = collect_notes(*lane, [](const std::vector<Note>& n) { return n.size() >= 2; });
  int finished_for_id = 0;
  for (const Note& note : notes) {
    if (note.job == id) {
      ++finished_for_id;
      EXPECT_EQ(note.priority, 3);
    }
  }
  EXPECT_EQ(finished_for_id, 1);
}

int open_fds() {
  int count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++count;
  }
  return count;
}

TEST(LaneTest, NoFdIsLeftBehindByJobs) {
  TempDir dir;
  LaneOptions options;
  options.use_cgroups = false;  // cgroup fds are pooled: they would blur the count
  auto lane = open_lane(dir, options);
  ASSERT_TRUE(lane);
  auto run_mix = [&](int rounds) {
    std::vector<JobId> ids;
    for (int i = 0; i < rounds; ++i) {
      ids.push_back(submit_ok(*lane, shell("echo out; echo err >&2")));
      JobSpec piped = shell("cat");
      piped.stdin_mode = StdinMode::pipe;
      JobId p = submit_ok(*lane, piped);
      EXPECT_TRUE(lane->write_input(p, "x\n", true).ok());
      ids.push_back(p);
      JobSpec watched = shell("echo match");
      watched.watch = "match";
      ids.push_back(submit_ok(*lane, watched));
      JobId slow = submit_ok(*lane, shell("sleep 30"));
      EXPECT_TRUE(lane->kill(slow).ok());
      ids.push_back(slow);
      ids.push_back(submit_ok(*lane, shell("sleep 0.05 & echo bg")));
    }
    for (const JobId& id : ids) wait_done(*lane, id);
  };
  run_mix(1);
  ASSERT_TRUE(eventually([&] { return zombie_children() == 0; }));
  std::this_thread::sleep_for(300ms);
  const int baseline = open_fds();
  run_mix(20);
  EXPECT_TRUE(eventually([&] { return open_fds() == baseline; }))
      << open_fds() << " vs " << baseline;
}

TEST(LaneTest, ASilentJobHasNoOutputAndReadsAsEmpty) {
  TempDir dir;
  auto lane = open_lane(dir);
  ASSERT_TRUE(lane);
  JobInfo info = wait_done(*lane, submit_ok(*lane, shell("true")));
  EXPECT_EQ(info.bytes_logged, 0u);
  EXPECT_FALSE(info.log_path.empty());
  ReadRequest request;
  request.id = info.id;
  auto chunk = lane->read_output(request);
  ASSERT_TRUE(chunk.ok()) << chunk.error();
  EXPECT_EQ(chunk->text, "");
  EXPECT_EQ(chunk->log_path, info.log_path);
}

TEST(LaneTest, WaitTerminalTimesOutWithoutConsumingNotes) {
  TempDir dir;
  auto lane = open_lane(dir);
  ASSERT_TRUE(lane);
  JobId slow = submit_ok(*lane, shell("sleep 30"));
  auto none = lane->wait_terminal({slow}, 100ms);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  JobId fast = submit_ok(*lane, shell("exit 2"));
  auto first = lane->wait_terminal({slow, fast}, 10s * slowdown());
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->id, fast);
  EXPECT_EQ((*first)->exit_code, 2);
  EXPECT_EQ(lane->pending_notes(), 1u);  // still there for drain()
}

TEST(LaneTest, StatusNamesAndHelpers) {
  EXPECT_STREQ(to_string(JobStatus::failed_to_start), "failed_to_start");
  EXPECT_STREQ(to_string(JobStatus::timed_out), "timed_out");
  EXPECT_STREQ(to_string(NoteKind::matched), "matched");
  EXPECT_FALSE(is_terminal(JobStatus::queued));
  EXPECT_FALSE(is_terminal(JobStatus::running));
  EXPECT_TRUE(is_terminal(JobStatus::lost));
  JobInfo info;
  info.submitted_at = WallClock::now() - 3s;
  info.started_at = info.submitted_at + 1s;
  info.ended_at = info.submitted_at + 2s;
  EXPECT_NEAR(info.elapsed_seconds(), 1.0, 0.01);
}

}  // namespace
}  // namespace meanwhile::testing
