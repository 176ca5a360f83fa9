// Many jobs from several threads at once: every job yields exactly one finished note, none lost,
// none twice. 10,000 jobs by default; MEANWHILE_STRESS_SCALE (e.g. 0.1) scales that down, and
// builds with sanitizers default to 0.1 (they run everything several times slower).
#include <cstdlib>
#include <set>
#include <thread>

#include "lane_test_util.h"

namespace meanwhile::testing {
namespace {

int stress_jobs() {
  double scale = slowdown() > 1 ? 0.1 : 1.0;
  if (const char* env = std::getenv("MEANWHILE_STRESS_SCALE")) scale = std::atof(env);
  return std::max(40, static_cast<int>(10000 * scale));
}

TEST(StressTest, TenThousandJobsFromFourThreadsYieldExactlyOneNoteEach) {
  TempDir dir;
  auto lane = open_lane(dir);
  ASSERT_TRUE(lane);
  const int total = stress_jobs();
  constexpr int kThreads = 4;
  std::vector<std::vector<JobId>> submitted(kThreads);
  std::vector<std::thread> submitters;
  for (int t = 0; t < kThreads; ++t) {
    submitters.emplace_back([&, t] {
      for (int i = t; i < total; i += kThreads) {
        auto id = lane->submit(shell("true"));
        if (id.ok()) submitted[t].push_back(*id);
      }
    });
  }
  std::vector<Note> notes;
  const auto deadline = std::chrono::steady_clock::now() + 240s * slowdown();
  while (static_cast<int>(notes.size()) < total && std::chrono::steady_clock::now() < deadline) {
    for (auto& note : lane->wait(1s)) notes.push_back(std::move(note));
  }
  for (auto& thread : submitters) thread.join();

  std::set<JobId> ids;
  for (const auto& list : submitted) ids.insert(list.begin(), list.end());
  ASSERT_EQ(static_cast<int>(ids.size()), total);  // every submit succeeded, ids unique
  ASSERT_EQ(static_cast<int>(notes.size()), total);
  std::set<JobId> noted;
  for (const Note& note : notes) {
    EXPECT_EQ(note.kind, NoteKind::finished);
    EXPECT_EQ(note.info.status, JobStatus::exited) << note.info.error;
    EXPECT_TRUE(noted.insert(note.job).second) << "two notes for job " << note.job;
  }
  EXPECT_EQ(noted, ids);
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(lane->drain().empty());
  EXPECT_EQ(lane->running_count(), 0u);
  EXPECT_TRUE(eventually([] { return zombie_children() == 0; }));
}

}  // namespace
}  // namespace meanwhile::testing
