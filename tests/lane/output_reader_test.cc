#include "lane/output_reader.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/test_support.h"

namespace meanwhile {
namespace {

namespace fs = std::filesystem;

class OutputReaderTest : public ::testing::Test {
 protected:
  void write(const std::string& data, bool append = false) {
    std::ofstream out(path_, append ? std::ios::app | std::ios::binary : std::ios::binary);
    out << data;
  }

  OutputChunk read(ReadMode mode, std::size_t lines = 50, std::string filter = "",
                   bool running = false, std::size_t max_bytes = 30000) {
    ReadRequest request;
    request.mode = mode;
    request.lines = lines;
    request.filter = std::move(filter);
    request.max_bytes = max_bytes;
    auto chunk = read_log(path_, request, &cursor_, running);
    EXPECT_TRUE(chunk.ok()) << (chunk.ok() ? "" : chunk.error());
    return chunk.ok() ? chunk.value() : OutputChunk{};
  }

  test::TempDir tmp_{"meanwhile-reader"};
  std::string dir_ = tmp_.path();
  std::string path_ = dir_ + "/1.log";
  std::uint64_t cursor_ = 0;
};

std::string numbered_lines(int from, int to) {
  std::string s;
  for (int i = from; i < to; ++i) s += "line " + std::to_string(i) + "\n";
  return s;
}

// Bytes this process has read through read(2)/pread(2) so far.
std::uint64_t bytes_read_by_process() {
  std::ifstream io("/proc/self/io");
  std::string key;
  std::uint64_t value = 0;
  while (io >> key >> value) {
    if (key == "rchar:") return value;
  }
  return 0;
}

TEST_F(OutputReaderTest, MissingLogIsEmptyNotAnError) {
  auto chunk = read(ReadMode::all);
  EXPECT_EQ(chunk.text, "");
  EXPECT_EQ(chunk.log_path, path_);
  chunk = read(ReadMode::since_last, 50, "", true);
  EXPECT_EQ(chunk.text, "");
  EXPECT_TRUE(chunk.job_running);
  EXPECT_EQ(cursor_, 0u);
}

TEST_F(OutputReaderTest, UnreadableLogIsAnErrorWithPath) {
  write("x\n");
  ReadRequest request;
  request.mode = ReadMode::all;
  auto chunk = read_log(path_ + "/below-a-file.log", request, &cursor_, false);
  ASSERT_FALSE(chunk.ok());
  EXPECT_NE(chunk.error().find(path_ + "/below-a-file.log"), std::string::npos) << chunk.error();
  EXPECT_NE(chunk.error().find("Not a directory"), std::string::npos) << chunk.error();
  auto dir = read_log(dir_, request, &cursor_, false);
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.error().find(dir_), std::string::npos);
}

TEST_F(OutputReaderTest, AllIsCleaned) {
  write("\x1b[32mok\x1b[0m\n10%\r50%\r100%\nbad \xFF byte\n");
  auto chunk = read(ReadMode::all);
  EXPECT_EQ(chunk.text, "ok\n100%\nbad \xEF\xBF\xBD byte\n");
  EXPECT_EQ(chunk.from_offset, 0u);
  EXPECT_EQ(chunk.to_offset, fs::file_size(path_));
  EXPECT_EQ(chunk.lines_omitted, 0u);
  EXPECT_FALSE(chunk.job_running);
}

TEST_F(OutputReaderTest, SinceLastAdvancesTheCursor) {
  write("one\ntwo\n");
  auto chunk = read(ReadMode::since_last, 50, "", true);
  EXPECT_EQ(chunk.text, "one\ntwo\n");
  EXPECT_EQ(chunk.from_offset, 0u);
  EXPECT_EQ(chunk.to_offset, 8u);
  EXPECT_EQ(cursor_, 8u);
  EXPECT_EQ(read(ReadMode::since_last, 50, "", true).text, "");  // nothing new
  write("three\nfour (partial", true);
  // While the job runs, the partial line waits for its end.
  chunk = read(ReadMode::since_last, 50, "", true);
  EXPECT_EQ(chunk.text, "three\n");
  EXPECT_EQ(cursor_, 14u);
  // A partial line alone is handed out.
  chunk = read(ReadMode::since_last, 50, "", true);
  EXPECT_EQ(chunk.text, "four (partial");
  write(" end)\n", true);
  EXPECT_EQ(read(ReadMode::since_last, 50, "", true).text, " end)\n");
  // Another cursor starts from the beginning.
  std::uint64_t other = 0;
  ReadRequest request;
  auto all = read_log(path_, request, &other, false);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->text, "one\ntwo\nthree\nfour (partial end)\n");
}

TEST_F(OutputReaderTest, SinceLastNeverSplitsACharacterWhileRunning) {
  write("caf\xC3");  // first byte of 'é'
  auto chunk = read(ReadMode::since_last, 50, "", true);
  EXPECT_EQ(chunk.text, "caf");
  EXPECT_EQ(cursor_, 3u);
  write("\xA9\n", true);
  EXPECT_EQ(read(ReadMode::since_last, 50, "", true).text, "\xC3\xA9\n");
  // A finished job's truncated character will never complete: it is replaced.
  write("x\xE2\x82", true);
  EXPECT_EQ(read(ReadMode::since_last, 50, "", false).text, "x\xEF\xBF\xBD");
}

TEST_F(OutputReaderTest, TailAndHead) {
  write(numbered_lines(0, 100));
  EXPECT_EQ(read(ReadMode::tail, 3).text, "line 97\nline 98\nline 99\n");
  EXPECT_EQ(read(ReadMode::head, 2).text, "line 0\nline 1\n");
  EXPECT_EQ(read(ReadMode::tail, 1000).text, numbered_lines(0, 100));
  EXPECT_EQ(read(ReadMode::head, 1000).text, numbered_lines(0, 100));
  EXPECT_EQ(read(ReadMode::tail, 0).text, "");
  EXPECT_EQ(read(ReadMode::head, 0).text, "");
  auto tail = read(ReadMode::tail, 1);
  EXPECT_EQ(tail.to_offset, fs::file_size(path_));
  EXPECT_EQ(tail.to_offset - tail.from_offset, std::string("line 99\n").size());

  write("partial", true);  // a last line without '\n' counts as a line
  EXPECT_EQ(read(ReadMode::tail, 2).text, "line 99\npartial");
  EXPECT_EQ(read(ReadMode::tail, 2, "", true).text, "line 99\npartial");
  EXPECT_EQ(cursor_, 0u);  // only since_last moves the cursor
}

TEST_F(OutputReaderTest, TailKeepsEmptyLines) {
  write("a\n\n\nb\n\n");
  EXPECT_EQ(read(ReadMode::tail, 2).text, "b\n\n");
  EXPECT_EQ(read(ReadMode::tail, 3).text, "\nb\n\n");
}

TEST_F(OutputReaderTest, FilterKeepsMatchingLines) {
  write("ok 1\nERROR one\nok 2\nwarning: two\n\x1b[31mERROR\x1b[0m three\nok 3\n");
  EXPECT_EQ(read(ReadMode::all, 50, "ERROR|warn").text, "ERROR one\nwarning: two\nERROR three\n");
  // head/tail with a filter: the first/last N matching lines.
  EXPECT_EQ(read(ReadMode::tail, 2, "ERROR").text, "ERROR one\nERROR three\n");
  EXPECT_EQ(read(ReadMode::tail, 1, "ERROR").text, "ERROR three\n");
  EXPECT_EQ(read(ReadMode::head, 1, "^ok").text, "ok 1\n");
  EXPECT_EQ(read(ReadMode::head, 5, "^ok").text, "ok 1\nok 2\nok 3\n");
  EXPECT_EQ(read(ReadMode::since_last, 50, "ok").text, "ok 1\nok 2\nok 3\n");
  EXPECT_EQ(read(ReadMode::all, 50, "nothing matches").text, "");
}

TEST_F(OutputReaderTest, InvalidFilterIsAnErrorNamingIt) {
  write("x\n");
  ReadRequest request;
  request.mode = ReadMode::all;
  request.filter = "(unclosed";
  auto chunk = read_log(path_, request, &cursor_, false);
  ASSERT_FALSE(chunk.ok());
  EXPECT_NE(chunk.error().find("(unclosed"), std::string::npos) << chunk.error();
  // Also when the log does not exist yet.
  auto missing = read_log(dir_ + "/none.log", request, &cursor_, false);
  EXPECT_FALSE(missing.ok());
}

// libstdc++'s regex recurses once per character: a filter only sees the first 4 KiB of a
// line, so a very long line cannot overflow the stack.
TEST_F(OutputReaderTest, FilterSurvivesVeryLongLines) {
  write(std::string(200000, 'a') + "b\nab\n");
  EXPECT_EQ(read(ReadMode::all, 50, "^(a|b)*b").text, "ab\n");
}

TEST_F(OutputReaderTest, LongOutputIsCutWithMarker) {
  write(numbered_lines(0, 10000));
  auto chunk = read(ReadMode::all, 50, "", false, 2000);
  EXPECT_LE(chunk.text.size(), 2000u);
  EXPECT_EQ(chunk.text.rfind("line 0\n", 0), 0u);
  EXPECT_EQ(chunk.text.substr(chunk.text.size() - 10), "line 9999\n");
  EXPECT_NE(chunk.text.find("[... " + std::to_string(chunk.lines_omitted) + " lines (" +
                            std::to_string(chunk.bytes_omitted) +
                            " bytes) omitted; full log: " + path_ + " ...]\n"),
            std::string::npos)
      << chunk.text;
  const auto kept = std::count(chunk.text.begin(), chunk.text.end(), '\n') - 1;
  EXPECT_EQ(kept + chunk.lines_omitted, 10000u);
}

TEST_F(OutputReaderTest, LargeLogReadsOnlyTheWindowAndCountsTheMiddle) {
  write(numbered_lines(0, 400000));  // ~5.3 MB: read as head + tail windows
  const std::uint64_t before = bytes_read_by_process();
  auto chunk = read(ReadMode::all, 50, "", false, 4000);
  EXPECT_LE(chunk.text.size(), 4000u);
  EXPECT_EQ(chunk.text.rfind("line 0\n", 0), 0u);
  EXPECT_EQ(chunk.text.substr(chunk.text.size() - 12), "line 399999\n");
  const auto kept = std::count(chunk.text.begin(), chunk.text.end(), '\n') - 1;
  EXPECT_EQ(kept + chunk.lines_omitted, 400000u) << chunk.text;
  EXPECT_EQ(chunk.text.size() - (chunk.text.find(" ...]\n") + 6 - chunk.text.find("[... ")) +
                chunk.bytes_omitted,
            fs::file_size(path_));
  EXPECT_NE(chunk.text.find("full log: " + path_), std::string::npos);
  // Counting the middle's lines reads it once; nothing is read twice.
  EXPECT_LT(bytes_read_by_process() - before, fs::file_size(path_) + (1 << 20));
}

// A 300 MiB log (sparse, then real lines): tail reads only its end; `all` reports the unread
// middle in bytes because it is too long to count lines in.
TEST_F(OutputReaderTest, HugeLogTailIsFastAndBounded) {
  {
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 300ll << 20), 0);
    ::close(fd);
  }
  write("\n" + numbered_lines(0, 1000), true);
  const std::uint64_t before = bytes_read_by_process();
  const auto start = std::chrono::steady_clock::now();
  auto tail = read(ReadMode::tail, 5);
  EXPECT_EQ(tail.text, numbered_lines(995, 1000));
  EXPECT_EQ(tail.to_offset, fs::file_size(path_));
  auto all = read(ReadMode::all, 50, "", false, 3000);
  EXPECT_LE(all.text.size(), 3000u);
  EXPECT_NE(all.text.find("bytes omitted (too many to count lines); full log: " + path_),
            std::string::npos)
      << all.text;
  EXPECT_GT(all.bytes_omitted, 299u << 20);
  EXPECT_EQ(all.text.substr(all.text.size() - 9), "line 999\n");
  auto since = read(ReadMode::since_last, 50, "", false, 3000);
  EXPECT_EQ(cursor_, fs::file_size(path_));
  EXPECT_GT(since.bytes_omitted, 299u << 20);
  EXPECT_LT(bytes_read_by_process() - before, 16u << 20);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

TEST_F(OutputReaderTest, FilterOverALongLogKeepsMemoryBounded) {
  const std::string pad(30, '.');
  std::string big;
  for (int i = 0; i < 120000; ++i) {
    big += (i % 3 == 0 ? "match " : "other ") + std::to_string(i) + pad + "\n";
  }
  write(big);  // ~5 MB, 40,000 matching lines (~1.8 MB): more than the window keeps
  auto chunk = read(ReadMode::all, 50, "^match", false, 1000);
  EXPECT_LE(chunk.text.size(), 1000u);
  EXPECT_EQ(chunk.text.rfind("match 0" + pad + "\n", 0), 0u);
  const std::string last = "match 119997" + pad + "\n";
  EXPECT_EQ(chunk.text.substr(chunk.text.size() - last.size()), last);
  const auto kept = std::count(chunk.text.begin(), chunk.text.end(), '\n') - 1;
  EXPECT_EQ(kept + chunk.lines_omitted, 40000u) << chunk.text;
  EXPECT_EQ(chunk.text.find("other"), std::string::npos);
  // The last 3 matching lines, found reading backward.
  EXPECT_EQ(read(ReadMode::tail, 3, "^match").text,
            "match 119991" + pad + "\nmatch 119994" + pad + "\n" + last);
}

TEST_F(OutputReaderTest, NullCursorReadsFromStart) {
  write("a\nb\n");
  ReadRequest request;
  auto chunk = read_log(path_, request, nullptr, false);
  ASSERT_TRUE(chunk.ok());
  EXPECT_EQ(chunk->text, "a\nb\n");
}

}  // namespace
}  // namespace meanwhile
