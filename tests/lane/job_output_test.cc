// The lane's output bookkeeping without processes: newline counting, the tail ring, the line
// splitter for watch regexes, and the log cap.
#include "lane/job_output.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "lane_test_util.h"

namespace meanwhile::testing {
namespace {

TEST(JobOutputTest, CountNewlinesMatchesANaiveCountAtEveryLengthAndOffset) {
  std::mt19937 random(7);
  std::string data(70000, 'x');
  for (char& c : data) c = random() % 3 == 0 ? '\n' : 'a';
  for (std::size_t len : {0u, 1u, 15u, 16u, 17u, 255u * 16u, 255u * 16u + 5u, 70000u}) {
    for (std::size_t offset : {0u, 1u, 7u}) {
      if (offset + len > data.size()) continue;
      std::string_view view(data.data() + offset, len);
      EXPECT_EQ(count_newlines(view),
                static_cast<std::uint64_t>(std::count(view.begin(), view.end(), '\n')))
          << len << " at " << offset;
    }
  }
  std::string all_newlines(100000, '\n');  // byte counters must not overflow
  EXPECT_EQ(count_newlines(all_newlines), 100000u);
}

TEST(JobOutputTest, TailBufferKeepsTheLastBytesInOrder) {
  TailBuffer tail(10);
  tail.append("abc");
  EXPECT_EQ(tail.last(10), "abc");
  tail.append("defghij");
  EXPECT_EQ(tail.last(10), "abcdefghij");
  tail.append("klm");  // wraps
  EXPECT_EQ(tail.last(10), "defghijklm");
  EXPECT_EQ(tail.last(4), "jklm");
  tail.append("0123456789ABCDEF");  // more than the capacity at once
  EXPECT_EQ(tail.last(10), "6789ABCDEF");
  tail.release();
  EXPECT_EQ(tail.size(), 0u);
}

TEST(JobOutputTest, LineSplitterCutsLongLinesAndFlushesTheLastOne) {
  LineSplitter splitter;
  std::vector<std::string> lines;
  auto collect = [&](std::string_view line) { lines.emplace_back(line); };
  splitter.feed("one\ntw", collect);
  splitter.feed("o\n", collect);
  splitter.feed(std::string(LineSplitter::kMaxLine + 100, 'z') + "\nlast", collect);
  splitter.finish(collect);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "one");
  EXPECT_EQ(lines[1], "two");
  EXPECT_EQ(lines[2].size(), LineSplitter::kMaxLine);
  EXPECT_EQ(lines[3], "last");
}

TEST(JobOutputTest, LogIsCreatedByTheFirstByteAndCappedAfterwards) {
  TempDir dir;
  JobOutput output(10, 64);
  output.set_log_path(dir / "job.log");
  EXPECT_FALSE(std::filesystem::exists(dir / "job.log"));
  EXPECT_EQ(output.write_log("12345678"), 8u);
  output.record("12345678", 8);
  EXPECT_EQ(output.write_log("abcdef"), 2u);
  output.record("abcdef", 2);
  EXPECT_EQ(read_file(dir / "job.log"), "12345678ab");
  EXPECT_EQ(output.bytes_logged(), 10u);
  EXPECT_EQ(output.bytes_dropped(), 4u);
  EXPECT_NE(output.preview("").find("4 bytes past the log cap of 10 bytes"), std::string::npos);

  JobOutput broken(100, 64);
  broken.set_log_path(dir / "missing-dir/job.log");
  EXPECT_EQ(broken.write_log("data"), 0u);
  EXPECT_NE(broken.take_log_error().find("missing-dir/job.log"), std::string::npos);
}

}  // namespace
}  // namespace meanwhile::testing
