// What a finished note says about output at the edges: progress bars, and a full disk.
#include <sys/mount.h>

#include <cstring>

#include <gtest/gtest.h>

#include "lane_test_util.h"

namespace meanwhile::testing {
namespace {

Note finished_note(Lane& lane, const JobId& id) {
  auto notes = collect_notes(lane, [&](const std::vector<Note>& n) {
    for (const Note& note : n)
      if (note.job == id && note.kind == NoteKind::finished) return true;
    return false;
  });
  for (const Note& note : notes)
    if (note.job == id && note.kind == NoteKind::finished) return note;
  ADD_FAILURE() << "no finished note for task " << id;
  return {};
}

TEST(OutputLimitsTest, TheNoteEndsWithTheLineAfterTwentyThousandProgressUpdates) {
  TempDir dir;
  auto lane = open_lane(dir);
  ASSERT_TRUE(lane);
  JobId id = submit_ok(*lane, shell("i=0; while [ $i -lt 20000 ]; do "
                                    "printf 'downloading %d%%\\r' $((i % 100)); i=$((i+1)); done; "
                                    "echo FINISHED-42"));
  Note note = finished_note(*lane, id);
  // The last rendered line: FINISHED-42 written over the last "downloading 99%" (a terminal
  // shows the same: \r moves to the start of the line, it does not clear it).
  const std::string tail = "FINISHED-42 99%\n";
  ASSERT_GE(note.preview.size(), tail.size()) << note.preview;
  EXPECT_EQ(note.preview.substr(note.preview.size() - tail.size()), tail) << note.preview;
  EXPECT_EQ(note.info.last_line, "FINISHED-42 99%");
}

class FullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "a small tmpfs for the data directory needs root";
    // Only the logs are on the small disk; the store stays on the real one.
    data_ = dir_ / "data";
    logs_ = data_ + "/logs";
    ASSERT_EQ(::mkdir(data_.c_str(), 0700), 0);
    ASSERT_EQ(::mkdir(logs_.c_str(), 0700), 0);
    if (::mount("tmpfs", logs_.c_str(), "tmpfs", 0, "size=256k,mode=0700") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) ::umount2(logs_.c_str(), MNT_DETACH);
  }
  TempDir dir_;
  std::string data_, logs_;
  bool mounted_ = false;
};

TEST_F(FullDiskTest, AFullDiskIsReportedAsTheWriteErrorNotAsTheLogCap) {
  LaneOptions options;
  options.data_dir = data_;
  auto lane = open_lane(dir_, options);
  ASSERT_TRUE(lane);
  JobId id = submit_ok(*lane, shell("head -c 2000000 /dev/zero | tr '\\0' x; echo; echo done"));
  Note note = finished_note(*lane, id);
  EXPECT_EQ(note.info.status, JobStatus::exited);
  EXPECT_NE(note.info.error.find("No space left on device"), std::string::npos) << note.info.error;
  EXPECT_NE(note.preview.find("not logged: cannot write the log file"), std::string::npos)
      << note.preview;
  EXPECT_EQ(note.preview.find("past the log cap"), std::string::npos) << note.preview;
  EXPECT_GT(note.info.bytes_dropped, 0u);
}

}  // namespace
}  // namespace meanwhile::testing
