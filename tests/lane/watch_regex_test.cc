// Patterns chosen by a model or a user: matched in linear time and bounded memory, on the lane
// thread (watch) and in background_output (filter).
#include "lane/watch_regex.h"

#include <gtest/gtest.h>

#include "lane_test_util.h"

namespace meanwhile::testing {
namespace {

TEST(WatchRegexTest, CatastrophicPatternsAreLinear) {
  auto nested = WatchRegex::compile("(a+)+b");
  ASSERT_TRUE(nested.ok()) << nested.error();
  // std::regex backtracks 2^n times here; 36 a's never finished.
  EXPECT_FALSE((*nested)->search(std::string(100000, 'a')));
  auto any = WatchRegex::compile("error.*");
  ASSERT_TRUE(any.ok());
  // std::regex recursed once per character: a 40 KB line overflowed the stack.
  EXPECT_TRUE((*any)->search("error" + std::string(40000, 'x')));
}

TEST(WatchRegexTest, PatternsRe2CannotCompileAreRefusedWithTheReason) {
  auto unclosed = WatchRegex::compile("([unclosed", "filter");
  ASSERT_FALSE(unclosed.ok());
  EXPECT_NE(unclosed.error().find("invalid filter regex '([unclosed'"), std::string::npos)
      << unclosed.error();
  auto backref = WatchRegex::compile("(a)\\1");
  ASSERT_FALSE(backref.ok());
  EXPECT_NE(backref.error().find("invalid watch regex"), std::string::npos) << backref.error();
  // A pattern whose program is larger than the memory bound.
  auto huge = WatchRegex::compile("((((a{100}){100}){100}){100})");
  EXPECT_FALSE(huge.ok());
}

class WatchLaneTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(WatchLaneTest, AWatchOnAFortyKilobyteLineDoesNotStopTheLane) {
  auto lane = open_lane(dir_);
  ASSERT_TRUE(lane);
  JobSpec spec = shell("printf 'error'; head -c 40000 /dev/zero | tr '\\0' x; echo");
  spec.watch = "error.*";
  JobId watched = submit_ok(*lane, spec);
  JobSpec spin = shell("printf 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\n'");
  spin.watch = "(a+)+b";
  JobId spinning = submit_ok(*lane, spin);
  JobId after = submit_ok(*lane, shell("echo still-served"));
  // The lane thread survived both and went on reporting other jobs.
  EXPECT_EQ(wait_done(*lane, watched).status, JobStatus::exited);
  EXPECT_EQ(wait_done(*lane, spinning).status, JobStatus::exited);
  EXPECT_EQ(wait_done(*lane, after).status, JobStatus::exited);
  ReadRequest request;
  request.id = after;
  request.mode = ReadMode::all;
  request.filter = "(a+)+still";
  auto chunk = lane->read_output(request);
  ASSERT_TRUE(chunk.ok()) << chunk.error();
  request.id = spinning;
  request.filter = "(a+)+b";
  auto none = lane->read_output(request);
  ASSERT_TRUE(none.ok()) << none.error();
  EXPECT_EQ(none->text, "");
  request.filter = "(x";
  auto bad = lane->read_output(request);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("invalid filter regex"), std::string::npos);
}

}  // namespace
}  // namespace meanwhile::testing
