// The store is input: a cloned repository can ship .meanwhile/jobs.db and .meanwhile/logs/.
// Nothing in them may make the lane read another file, crash, or misreport.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "lane_test_util.h"

namespace meanwhile::testing {
namespace {

class StoreHostileTest : public ::testing::Test {
 protected:
  // Runs one real job so the store has a row, then edits that row behind the lane's back.
  JobId job_then_edit(const std::string& sql_set) {
    JobId id;
    {
      auto lane = open_lane(dir_);
      EXPECT_TRUE(lane);
      id = submit_ok(*lane, shell("echo real-output"));
      wait_done(*lane, id);
    }
    exec_sql(dir_ / "data/jobs.db", "UPDATE jobs SET " + sql_set + " WHERE id = " + id);
    return id;
  }
  TempDir dir_;
  TempDir outside_;
};

TEST_F(StoreHostileTest, AStoredLogPathOutsideLogsIsNeverRead) {
  const std::string secret = outside_ / "secret.txt";
  std::ofstream(secret) << "TOP-SECRET-CONTENT\n";
  JobId id = job_then_edit("log_path = '" + secret + "'");
  auto lane = open_lane(dir_);
  ASSERT_TRUE(lane);
  ReadRequest request;
  request.id = id;
  request.mode = ReadMode::all;
  auto chunk = lane->read_output(request);
  ASSERT_TRUE(chunk.ok()) << chunk.error();
  EXPECT_EQ(chunk->text.find("TOP-SECRET"), std::string::npos) << chunk->text;
  EXPECT_NE(chunk->text.find("real-output"), std::string::npos) << chunk->text;
  EXPECT_EQ(lane->get(id)->log_path, dir_ / ("data/logs/" + id + ".log"));
}

TEST_F(StoreHostileTest, ALogThatIsASymlinkIsNotFollowed) {
  const std::string secret = outside_ / "secret.txt";
  std::ofstream(secret) << "TOP-SECRET-CONTENT\n";
  JobId id = job_then_edit("status = 'exited'");
  const std::string log = dir_ / ("data/logs/" + id + ".log");
  ASSERT_EQ(::unlink(log.c_str()), 0);
  ASSERT_EQ(::symlink(secret.c_str(), log.c_str()), 0);
  auto lane = open_lane(dir_);
  ASSERT_TRUE(lane);
  ReadRequest request;
  request.id = id;
  request.mode = ReadMode::all;
  auto chunk = lane->read_output(request);
  if (chunk.ok()) {
    EXPECT_EQ(chunk->text.find("TOP-SECRET"), std::string::npos) << chunk->text;
  }
}

TEST_F(StoreHostileTest, OutOfRangeFieldsAndADeepSpecReadAsSaneValues) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  JobId id = job_then_edit("spec = '" + deep +
                           "', status = 'exploded', exit_code = 99999999999, term_signal = -5, "
                           "bytes_logged = -1, lines = -7, submitted_at = 9223372036854775807, "
                           "started_at = -9223372036854775807, last_line = '" +
                           std::string(100000, 'z') + "'");
  auto lane = open_lane(dir_);
  ASSERT_TRUE(lane);
  auto info = lane->get(id);
  ASSERT_TRUE(info.ok()) << info.error();
  EXPECT_EQ(info->status, JobStatus::lost);
  EXPECT_NE(info->error.find("unknown stored status"), std::string::npos) << info->error;
  EXPECT_NE(info->error.find("deeper than 64"), std::string::npos) << info->error;
  EXPECT_LE(*info->exit_code, 255);
  EXPECT_EQ(info->bytes_logged, 0u);
  EXPECT_EQ(info->lines, 0u);
  EXPECT_LE(info->last_line.size(), 4096u);
  EXPECT_FALSE(lane->list().empty());
}

TEST_F(StoreHostileTest, AStoredShardCountOutOfRangeIsRefusedNotLooped) {
  // Two billion shards would have background_output walk two billion file names.
  JobId id =
      job_then_edit("spec = '{\"command\":\"true\",\"executor\":\"slurm\",\"shards\":2000000000}'");
  auto lane = open_lane(dir_);
  ASSERT_TRUE(lane);
  auto info = lane->get(id);
  ASSERT_TRUE(info.ok()) << info.error();
  EXPECT_EQ(info->spec.shards, 0);
  EXPECT_NE(info->error.find("'shards' must be an integer from 0 to 1000"), std::string::npos)
      << info->error;
  ReadRequest request;
  request.id = id;
  request.mode = ReadMode::all;
  auto chunk = lane->read_output(request);
  ASSERT_TRUE(chunk.ok()) << chunk.error();
  EXPECT_NE(chunk->text.find("real-output"), std::string::npos) << chunk->text;
}

TEST_F(StoreHostileTest, TheDataDirectoryIsPrivateAndIgnoredByGit) {
  auto lane = open_lane(dir_);
  ASSERT_TRUE(lane);
  JobId id = submit_ok(*lane, shell("echo logged"));
  wait_done(*lane, id);
  auto mode = [](const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  };
  EXPECT_EQ(mode(dir_ / "data"), 0700u);
  EXPECT_EQ(mode(dir_ / "data/logs"), 0700u);
  EXPECT_EQ(mode(dir_ / "data/jobs.db"), 0600u);
  EXPECT_EQ(mode(dir_ / ("data/logs/" + id + ".log")), 0600u);
  EXPECT_NE(read_file(dir_ / "data/.gitignore").find("\n*\n"), std::string::npos);
}

TEST_F(StoreHostileTest, ADataDirectoryOfAnotherUserOrASymlinkIsRefused) {
  ASSERT_EQ(::symlink(outside_.path().c_str(), (dir_ / ".meanwhile").c_str()), 0);
  LaneOptions options;
  options.workspace = dir_.path();
  auto linked = Lane::open(options);
  ASSERT_FALSE(linked.ok());
  EXPECT_NE(linked.error().find("symbolic link"), std::string::npos) << linked.error();
  ASSERT_EQ(::unlink((dir_ / ".meanwhile").c_str()), 0);
  if (::geteuid() != 0) GTEST_SKIP() << "changing a directory's owner needs root";
  ASSERT_EQ(::mkdir((dir_ / ".meanwhile").c_str(), 0700), 0);
  ASSERT_EQ(::chown((dir_ / ".meanwhile").c_str(), 65534, 65534), 0);
  auto foreign = Lane::open(options);
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(foreign.error().find("belongs to uid 65534"), std::string::npos) << foreign.error();
}

}  // namespace
}  // namespace meanwhile::testing
