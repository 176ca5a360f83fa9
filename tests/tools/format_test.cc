// format_note, format_job_line, job_to_json: the text and JSON every host shows for jobs.
#include "tools/format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace meanwhile {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

JobInfo finished_job() {
  JobInfo job;
  job.id = "12";
  job.spec.command = "npm test";
  job.spec.label = "unit tests";
  job.status = JobStatus::exited;
  job.exit_code = 1;
  job.pid = 4242;
  job.submitted_at = WallClock::time_point(std::chrono::seconds(1700000000));
  job.started_at = job.submitted_at;
  job.ended_at = job.submitted_at + std::chrono::milliseconds(3200);
  job.bytes_logged = 120;
  job.lines = 3;
  job.log_path = "/ws/.meanwhile/logs/12.log";
  job.last_line = "1 failing";
  return job;
}

TEST(Format, FinishedNote) {
  Note note;
  note.kind = NoteKind::finished;
  note.job = "12";
  note.info = finished_job();
  note.preview = "PASS a\nFAIL b\n1 failing\n";
  std::string text = format_note(note);
  EXPECT_THAT(text, StartsWith("[task 12] `npm test` (unit tests) exited 1 after 3.2s\n"));
  EXPECT_THAT(text, HasSubstr("output:\nPASS a\nFAIL b\n1 failing\n"));
  EXPECT_THAT(text, HasSubstr("log: /ws/.meanwhile/logs/12.log"));
  EXPECT_NE(text.back(), '\n');
}

TEST(Format, FinishedNoteVariants) {
  Note note;
  note.kind = NoteKind::finished;
  note.info = finished_job();
  note.info.exit_code.reset();
  note.info.term_signal = 9;
  EXPECT_THAT(format_note(note), HasSubstr("died of signal 9 (SIGKILL) after 3.2s"));
  EXPECT_THAT(format_note(note), HasSubstr("output: (none)"));

  note.info.term_signal.reset();
  note.info.status = JobStatus::timed_out;
  note.info.spec.timeout = std::chrono::seconds(3);
  EXPECT_THAT(format_note(note), HasSubstr("hit its 3.0s timeout and was killed after 3.2s"));

  note.info.status = JobStatus::exited;
  note.info.exit_code = 0;
  note.info.descendants = {100, 101};
  EXPECT_THAT(format_note(note), HasSubstr("exited 0 after 3.2s"));
  EXPECT_THAT(format_note(note), HasSubstr("2 processes it started are still running; "
                                           "background_kill {\"task_id\":\"12\"} ends them"));

  note.info.status = JobStatus::skipped;
  note.info.error = "task 11 exited 2";
  EXPECT_THAT(format_note(note), HasSubstr("was skipped: task 11 exited 2"));
}

TEST(Format, MatchedNote) {
  Note note;
  note.kind = NoteKind::matched;
  note.info = finished_job();
  note.info.status = JobStatus::running;
  note.info.exit_code.reset();
  note.info.ended_at.reset();
  note.info.spec.watch = "listening";
  note.lines = {"server listening on :3000"};
  std::string text = format_note(note);
  EXPECT_THAT(text, StartsWith("[task 12] `npm test` (unit tests) printed lines matching "
                               "`listening`:\nserver listening on :3000\n(running for "));
}

TEST(Format, StalledNoteSuggestsInputOnlyForPipes) {
  Note note;
  note.kind = NoteKind::stalled;
  note.info = finished_job();
  note.info.status = JobStatus::running;
  note.info.ended_at.reset();
  note.info.spec.stdin_mode = StdinMode::pipe;
  note.info.last_line = "Continue? [y/N]";
  std::string text = format_note(note);
  EXPECT_THAT(text, HasSubstr("has printed nothing for a while"));
  EXPECT_THAT(text, HasSubstr("last line: Continue? [y/N]"));
  EXPECT_THAT(text, HasSubstr("background_input"));
  note.info.spec.stdin_mode = StdinMode::null;
  EXPECT_THAT(format_note(note), Not(HasSubstr("background_input")));
  EXPECT_THAT(format_note(note), HasSubstr("background_kill"));
}

TEST(Format, JobLine) {
  JobInfo job = finished_job();
  EXPECT_EQ(format_job_line(job),
            "[task 12] `npm test` (unit tests) exited 1 after 3.2s — last: 1 failing");
  job.spec.label.clear();
  job.spec.command = "make\n-j2";
  job.last_line.clear();
  EXPECT_EQ(format_job_line(job), "[task 12] `make -j2` exited 1 after 3.2s");
  job.status = JobStatus::queued;
  job.spec.after = {"3", "4"};
  EXPECT_THAT(format_job_line(job), HasSubstr("queued for "));
  EXPECT_THAT(format_job_line(job), HasSubstr("waiting for task 3, 4 to succeed"));
  job.spec.command = std::string(500, 'x');
  EXPECT_LT(format_job_line(job).size(), 300u);
}

TEST(Format, JobToJson) {
  JobInfo job = finished_job();
  job.descendants = {7};
  auto json = job_to_json(job);
  EXPECT_EQ(json["task_id"], "12");
  EXPECT_EQ(json["command"], "npm test");
  EXPECT_EQ(json["label"], "unit tests");
  EXPECT_EQ(json["status"], "exited");
  EXPECT_EQ(json["exit_code"], 1);
  EXPECT_TRUE(json["signal"].is_null());
  EXPECT_EQ(json["pid"], 4242);
  EXPECT_EQ(json["submitted_at"], "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(json["ended_at"], "2023-11-14T22:13:23.200Z");
  EXPECT_DOUBLE_EQ(json["elapsed_seconds"].get<double>(), 3.2);
  EXPECT_EQ(json["bytes_logged"], 120);
  EXPECT_EQ(json["log_path"], "/ws/.meanwhile/logs/12.log");
  EXPECT_EQ(json["descendants"], nlohmann::json::array({7}));
  EXPECT_EQ(json["stdin"], "null");
  EXPECT_EQ(json["succeeded"], false);
  EXPECT_TRUE(json["timeout_seconds"].is_null());
  // Invalid UTF-8 from a job never makes the JSON unserializable.
  job.last_line = "bad \xff byte";
  EXPECT_NO_THROW(job_to_json(job).dump());
}

}  // namespace
}  // namespace meanwhile
