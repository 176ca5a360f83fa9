// Output capture with real processes: the log while the job runs and after, counters, tail,
// preview, the log cap, stdin (null and pipe), stall notes, watch notes and their folding.
#include <sys/stat.h>

#include "lane_test_util.h"

namespace meanwhile::testing {
namespace {

std::uint64_t file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

class OutputTest : public ::testing::Test {
 protected:
  std::unique_ptr<Lane> open(LaneOptions options = {}) { return open_lane(dir_, options); }
  TempDir dir_;
};

TEST_F(OutputTest, LogIsOnDiskWhileTheJobRuns) {
  auto lane = open();
  ASSERT_TRUE(lane);
  JobId id = submit_ok(*lane, shell("echo first; echo second >&2; sleep 30"));
  JobInfo info = wait_running(*lane, id);
  ASSERT_TRUE(eventually([&] { return read_file(info.log_path) == "first\nsecond\n"; }))
      << read_file(info.log_path);
  auto now = lane->get(id);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->status, JobStatus::running);
  EXPECT_EQ(now->bytes_logged, 13u);
  EXPECT_EQ(now->lines, 2u);
  EXPECT_EQ(now->last_line, "second");
  EXPECT_TRUE(now->output_open);

  ReadRequest request;
  request.id = id;
  auto chunk = lane->read_output(request);
  ASSERT_TRUE(chunk.ok()) << chunk.error();
  EXPECT_EQ(chunk->text, "first\nsecond\n");
  EXPECT_TRUE(chunk->job_running);
  EXPECT_EQ(chunk->log_path, info.log_path);
  auto again = lane->read_output(request);  // since_last: nothing new
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->text, "");
}

TEST_F(OutputTest, EverythingPrintedIsInTheLogWhenTheFinishedNoteArrives) {
  auto lane = open();
  ASSERT_TRUE(lane);
  JobId id = submit_ok(*lane, shell("yes line | head -n 100000"));
  auto notes = lane->wait(20s * slowdown(), {id});
  ASSERT_EQ(notes.size(), 1u);
  const JobInfo& info = notes[0].info;
  EXPECT_EQ(info.bytes_logged, 500000u);
  EXPECT_EQ(info.lines, 100000u);
  EXPECT_EQ(file_size(info.log_path), 500000u);  // never 0 bytes, never partial
  EXPECT_EQ(info.last_line, "line");
}

TEST_F(OutputTest, PreviewHasHeadAndTailAndTheLogPath) {
  auto lane = open();
  ASSERT_TRUE(lane);
  JobId id = submit_ok(*lane, shell("seq 1 200000"));
  auto notes = lane->wait(20s * slowdown(), {id});
  ASSERT_EQ(notes.size(), 1u);
  const std::string& preview = notes[0].preview;
  EXPECT_LE(preview.size(), 2500u);
  EXPECT_EQ(preview.rfind("1\n2\n3\n", 0), 0u) << preview.substr(0, 50);
  EXPECT_NE(preview.find("199999\n200000"), std::string::npos);
  EXPECT_NE(preview.find(notes[0].info.log_path), std::string::npos);
  EXPECT_EQ(notes[0].info.last_line, "200000");
  ReadRequest request;
  request.id = id;
  request.mode = ReadMode::tail;
  request.lines = 2;
  auto tail = lane->read_output(request);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(tail->text, "199999\n200000\n");
}

TEST_F(OutputTest, ShortOutputPreviewIsTheCleanedOutput) {
  auto lane = open();
  ASSERT_TRUE(lane);
  JobId id = submit_ok(*lane, shell("printf 'a\\033[31mred\\033[0m\\n10%%\\r50%%\\r100%%\\n'"));
  auto notes = lane->wait(10s * slowdown(), {id});
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].preview, "ared\n100%\n");
  EXPECT_EQ(notes[0].info.last_line, "100%");
}

TEST_F(OutputTest, PastTheLogCapBytesAreDrainedCountedAndDropped) {
  auto lane = open();
  ASSERT_TRUE(lane);
  JobSpec spec = shell("head -c 50000 /dev/zero; echo; echo end");
  spec.log_cap_bytes = 1000;
  JobId id = submit_ok(*lane, spec);
  auto notes = lane->wait(10s * slowdown(), {id});
  ASSERT_EQ(notes.size(), 1u);
  const JobInfo& info = notes[0].info;
  EXPECT_EQ(info.status, JobStatus::exited);  // it never blocked on a full pipe
  EXPECT_EQ(info.bytes_logged, 1000u);
  EXPECT_EQ(info.bytes_dropped, 50005u - 1000u);
  EXPECT_EQ(file_size(info.log_path), 1000u);
  EXPECT_EQ(info.last_line, "end");  // the tail still follows the output
  EXPECT_NE(notes[0].preview.find("49005 bytes past the log cap of 1000 bytes"), std::string::npos)
      << notes[0].preview;
  auto row = lane->get(id);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->bytes_dropped, 49005u);
}

TEST_F(OutputTest, OutputOfDescendantsAfterTheFinishIsStillLogged) {
  auto lane = open();
  ASSERT_TRUE(lane);
  JobId id = submit_ok(*lane, shell("(sleep 0.3; echo late) & echo early"));
  auto notes = lane->wait(10s * slowdown(), {id});
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].info.bytes_logged, 6u);
  ASSERT_TRUE(eventually([&] {
    auto info = lane->get(id);
    return info.ok() && !info->output_open && info->bytes_logged == 11u;
  }));
  EXPECT_EQ(read_file(notes[0].info.log_path), "early\nlate\n");
  EXPECT_EQ(lane->get(id)->last_line, "late");
}

TEST_F(OutputTest, StdinNullGivesEofAtOnce) {
  auto lane = open();
  ASSERT_TRUE(lane);
  JobId cat = submit_ok(*lane, shell("cat; echo cat-done"));
  JobId read = submit_ok(*lane, shell("read x; echo read-rc=$?"));
  JobInfo a = wait_done(*lane, cat, 5s), b = wait_done(*lane, read, 5s);
  EXPECT_EQ(a.status, JobStatus::exited);
  EXPECT_EQ(read_file(a.log_path), "cat-done\n");
  EXPECT_EQ(read_file(b.log_path), "read-rc=1\n");
}

TEST_F(OutputTest, PipeStdinTakesWritesAndAClose) {
  auto lane = open();
  ASSERT_TRUE(lane);
  JobSpec spec = shell("cat");
  spec.stdin_mode = StdinMode::pipe;
  JobId id = submit_ok(*lane, spec);
  ASSERT_TRUE(lane->write_input(id, "hello\n", false).ok());  // may be queued before the start
  JobInfo running = wait_running(*lane, id);
  ASSERT_TRUE(eventually([&] { return read_file(running.log_path) == "hello\n"; }));
  EXPECT_EQ(lane->get(id)->status, JobStatus::running);
  ASSERT_TRUE(lane->write_input(id, "world\n", true).ok());
  JobInfo done = wait_done(*lane, id);
  EXPECT_EQ(done.status, JobStatus::exited);
  EXPECT_EQ(read_file(done.log_path), "hello\nworld\n");
}

TEST_F(OutputTest, LargeStdinWritesNeverBlockTheCaller) {
  auto lane = open();
  ASSERT_TRUE(lane);
  JobSpec spec = shell("sleep 0.5; wc -c");
  spec.stdin_mode = StdinMode::pipe;
  JobId id = submit_ok(*lane, spec);
  wait_running(*lane, id);
  const auto before = std::chrono::steady_clock::now();
  std::string block(1 << 20, 'x');  // far more than a pipe holds, while nobody reads
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(lane->write_input(id, block, i == 3).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - before, 400ms * slowdown());
  auto second_close = lane->write_input(id, "x", false);
  ASSERT_FALSE(second_close.ok());
  EXPECT_NE(second_close.error().find("closed"), std::string::npos);
  JobInfo done = wait_done(*lane, id);
  EXPECT_EQ(read_file(done.log_path), "4194304\n");
}

TEST_F(OutputTest, AJobThatStopsReadingStdinDoesNotHurtTheHost) {
  auto lane = open();
  ASSERT_TRUE(lane);
  JobSpec spec = shell("exec 0<&-; sleep 0.3; echo closed-stdin");
  spec.stdin_mode = StdinMode::pipe;
  JobId id = submit_ok(*lane, spec);
  wait_running(*lane, id);
  // The write fails with EPIPE on the lane thread (SIGPIPE would kill the host).
  ASSERT_TRUE(lane->write_input(id, std::string(100000, 'y'), false).ok());
  JobInfo done = wait_done(*lane, id);
  EXPECT_EQ(done.status, JobStatus::exited);
  EXPECT_EQ(read_file(done.log_path), "closed-stdin\n");
}

TEST_F(OutputTest, ASilentJobRaisesOneStalledNotePerSilence) {
  LaneOptions options;
  options.stall_after = 300ms * slowdown();
  auto lane = open(options);
  ASSERT_TRUE(lane);
  // Silent for three stall periods, then "b", then silent again.
  const double silence = 0.9 * slowdown();
  JobId id =
      submit_ok(*lane, shell("echo a; sleep " + std::to_string(silence) + "; echo b; sleep 30"));
  // First silence after "a", one note; "b" re-arms; the second silence, one more note.
  auto notes = collect_notes(
      *lane, [](const std::vector<Note>& n) { return n.size() >= 2; }, 6s);
  ASSERT_EQ(notes.size(), 2u);
  for (const Note& note : notes) {
    EXPECT_EQ(note.kind, NoteKind::stalled);
    EXPECT_EQ(note.job, id);
    EXPECT_EQ(note.priority, 1);
  }
  EXPECT_EQ(notes[0].info.last_line, "a");
  EXPECT_EQ(notes[1].info.last_line, "b");
  EXPECT_TRUE(lane->get(id)->stalled);
  EXPECT_TRUE(lane->wait(1s * slowdown(), {id}).empty());  // not repeated while silent
}

TEST_F(OutputTest, WatchMatchesFoldWithinTheWindow) {
  LaneOptions options;
  options.watch_fold = 200ms;
  auto lane = open(options);
  ASSERT_TRUE(lane);
  JobSpec spec = shell(
      "echo ok; echo 'ERROR one'; echo fine; echo 'ERROR two'; sleep 1; echo 'ERROR three'; "
      "sleep 30");
  spec.watch = "^ERROR";
  JobId id = submit_ok(*lane, spec);
  auto first = lane->wait(5s * slowdown(), {id});
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].kind, NoteKind::matched);
  EXPECT_EQ(first[0].priority, 1);
  EXPECT_EQ(first[0].lines, (std::vector<std::string>{"ERROR one", "ERROR two"}));
  auto second = lane->wait(5s * slowdown(), {id});
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].lines, (std::vector<std::string>{"ERROR three"}));
  ASSERT_TRUE(lane->kill(id).ok());
}

TEST_F(OutputTest, WatchSeesALastLineWithoutNewline) {
  auto lane = open();
  ASSERT_TRUE(lane);
  JobSpec spec = shell("printf 'build ok\\nready on port 8080'");
  spec.watch = "ready on port [0-9]+";
  JobId id = submit_ok(*lane, spec);
  auto notes = collect_notes(*lane, [](const std::vector<Note>& n) { return n.size() >= 2; });
  ASSERT_EQ(notes.size(), 2u);
  auto matched = std::find_if(notes.begin(), notes.end(),
                              [](const Note& n) { return n.kind == NoteKind::matched; });
  ASSERT_NE(matched, notes.end());
  EXPECT_EQ(matched->lines, (std::vector<std::string>{"ready on port 8080"}));
}

}  // namespace
}  // namespace meanwhile::testing
