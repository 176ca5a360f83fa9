// The big one: a job prints 1 GB (256 MB under sanitizers) and the host's memory stays
// bounded (peak RSS grows by less than 16 MiB), while every byte reaches the log.
#include <sys/stat.h>

#include <fstream>

#include "lane_test_util.h"

namespace meanwhile::testing {
namespace {

// A field of /proc/self/status in KiB ("VmRSS", "VmHWM").
long status_kib(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
  }
  return -1;
}

TEST(BigOutputTest, OneGigabyteOfOutputKeepsHostMemoryBounded) {
  TempDir dir;
  auto lane = open_lane(dir);
  ASSERT_TRUE(lane);
  const std::uint64_t bytes = slowdown() > 1 ? 256'000'000ull : 1'000'000'000ull;
  // Reset the peak, so VmHWM afterwards is the peak during the job.
  { std::ofstream("/proc/self/clear_refs") << "5"; }
  const long before = status_kib("VmRSS");
  ASSERT_GT(before, 0);
  JobId id =
      submit_ok(*lane, shell("head -c " + std::to_string(bytes) + " /dev/zero; echo; echo end"));
  JobInfo info = wait_done(*lane, id, 60s);
  const long peak = status_kib("VmHWM");
  EXPECT_EQ(info.status, JobStatus::exited);
  EXPECT_EQ(info.bytes_logged, bytes + 5);
  EXPECT_EQ(info.bytes_dropped, 0u);
  struct stat st {};
  ASSERT_EQ(::stat(info.log_path.c_str(), &st), 0);
  EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), bytes + 5);
  EXPECT_EQ(info.last_line, "end");
  EXPECT_LT(peak - before, 16 * 1024) << "peak RSS grew by " << (peak - before) << " KiB";
}

}  // namespace
}  // namespace meanwhile::testing
