#include "lane/note_queue.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <set>
#include <thread>

namespace meanwhile {
namespace {

using namespace std::chrono_literals;

Note make_note(NoteKind kind, std::string job, int priority = 0,
               std::vector<std::string> lines = {}) {
  Note note;
  note.kind = kind;
  note.job = std::move(job);
  note.priority = priority;
  note.lines = std::move(lines);
  return note;
}

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

TEST(NoteQueue, DrainsByPriorityThenAge) {
  NoteQueue queue;
  queue.push(make_note(NoteKind::finished, "1", 0));
  queue.push(make_note(NoteKind::finished, "2", 5));
  queue.push(make_note(NoteKind::finished, "3", 0));
  queue.push(make_note(NoteKind::stalled, "4", 5));
  queue.push(make_note(NoteKind::finished, "5", -1));
  auto notes = queue.drain();
  ASSERT_EQ(notes.size(), 5u);
  std::vector<std::string> order;
  for (auto& n : notes) order.push_back(n.job);
  EXPECT_EQ(order, (std::vector<std::string>{"2", "4", "1", "3", "5"}));
  for (std::size_t i = 1; i < notes.size(); ++i) {
    if (notes[i].priority == notes[i - 1].priority) {
      EXPECT_GT(notes[i].seq, notes[i - 1].seq);
    }
  }
  EXPECT_TRUE(queue.drain().empty());
}

TEST(NoteQueue, ALimitDropsTheLowestPriorityOldestNoteAndCountsIt) {
  NoteQueue queue(3);
  queue.push(make_note(NoteKind::finished, "1", 5));  // a failure: outlives successes
  queue.push(make_note(NoteKind::finished, "2", 0));
  queue.push(make_note(NoteKind::finished, "3", 0));
  EXPECT_EQ(queue.dropped(), 0u);
  queue.push(make_note(NoteKind::finished, "4", 0));  // drops 2
  queue.push(make_note(NoteKind::finished, "5", 0));  // drops 3
  EXPECT_EQ(queue.size(), 3u);
  EXPECT_EQ(queue.dropped(), 2u);
  auto notes = queue.drain();
  ASSERT_EQ(notes.size(), 3u);
  EXPECT_EQ(notes[0].job, "1");
  EXPECT_EQ(notes[1].job, "4");
  EXPECT_EQ(notes[2].job, "5");
  NoteQueue unbounded;
  for (int i = 0; i < 2000; ++i) unbounded.push(make_note(NoteKind::finished, std::to_string(i)));
  EXPECT_EQ(unbounded.size(), 2000u);
  EXPECT_EQ(unbounded.dropped(), 0u);
}

TEST(NoteQueue, SameKindSameJobFolds) {
  NoteQueue queue;
  queue.push(make_note(NoteKind::stalled, "1"));
  queue.push(make_note(NoteKind::finished, "2"));
  queue.push(make_note(NoteKind::stalled, "1", 3));
  EXPECT_EQ(queue.size(), 2u);
  auto notes = queue.drain();
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0].kind, NoteKind::stalled);  // the newer note: priority 3
  EXPECT_EQ(notes[0].priority, 3);
  EXPECT_GT(notes[0].seq, notes[1].seq);
}

TEST(NoteQueue, FinishedNeverFolds) {
  NoteQueue queue;
  queue.push(make_note(NoteKind::finished, "1"));
  queue.push(make_note(NoteKind::finished, "1"));
  EXPECT_EQ(queue.drain().size(), 2u);
}

TEST(NoteQueue, DifferentKindsOrJobsDoNotFold) {
  NoteQueue queue;
  queue.push(make_note(NoteKind::matched, "1", 0, {"a"}));
  queue.push(make_note(NoteKind::stalled, "1"));
  queue.push(make_note(NoteKind::matched, "2", 0, {"b"}));
  EXPECT_EQ(queue.drain().size(), 3u);
}

TEST(NoteQueue, MatchedFoldKeepsLinesNewestCapped) {
  NoteQueue queue;
  queue.push(make_note(NoteKind::matched, "1", 0, {"a", "b"}));
  queue.push(make_note(NoteKind::matched, "1", 0, {"c"}));
  auto notes = queue.drain();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].lines, (std::vector<std::string>{"a", "b", "c"}));

  for (int i = 0; i < 30; ++i) {
    queue.push(
        make_note(NoteKind::matched, "1", 0, {std::to_string(2 * i), std::to_string(2 * i + 1)}));
  }
  notes = queue.drain();
  ASSERT_EQ(notes.size(), 1u);
  ASSERT_EQ(notes[0].lines.size(), NoteQueue::kMaxLines);
  EXPECT_EQ(notes[0].lines.front(), "10");  // 60 lines, the newest 50 kept
  EXPECT_EQ(notes[0].lines.back(), "59");
}

TEST(NoteQueue, FoldingAfterDrainStartsFresh) {
  NoteQueue queue;
  queue.push(make_note(NoteKind::matched, "1", 0, {"a"}));
  ASSERT_EQ(queue.drain().size(), 1u);
  queue.push(make_note(NoteKind::matched, "1", 0, {"b"}));
  auto notes = queue.drain();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].lines, std::vector<std::string>{"b"});
}

TEST(NoteQueue, EventFdReadableExactlyWhileNotEmpty) {
  NoteQueue queue;
  ASSERT_GE(queue.fd(), 0);
  EXPECT_FALSE(readable(queue.fd()));
  queue.push(make_note(NoteKind::finished, "1"));
  EXPECT_TRUE(readable(queue.fd()));
  queue.push(make_note(NoteKind::finished, "2"));
  EXPECT_TRUE(readable(queue.fd()));
  // Taking only some notes leaves it readable.
  EXPECT_EQ(queue.wait(0ms, {"1"}).size(), 1u);
  EXPECT_TRUE(readable(queue.fd()));
  EXPECT_EQ(queue.wait(0ms, {"2"}).size(), 1u);
  EXPECT_FALSE(readable(queue.fd()));
  queue.push(make_note(NoteKind::finished, "3"));
  EXPECT_TRUE(readable(queue.fd()));
  queue.drain();
  EXPECT_FALSE(readable(queue.fd()));
}

TEST(NoteQueue, WaitTimesOutEmpty) {
  NoteQueue queue;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(queue.wait(50ms, {}).empty());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
  EXPECT_TRUE(queue.wait(-5ms, {}).empty());  // a negative timeout is a poll
}

TEST(NoteQueue, WaitWithIdsLeavesOthersQueued) {
  NoteQueue queue;
  queue.push(make_note(NoteKind::finished, "1"));
  queue.push(make_note(NoteKind::finished, "2"));
  queue.push(make_note(NoteKind::stalled, "2"));
  auto notes = queue.wait(0ms, {"2", "9"});
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0].job, "2");
  EXPECT_EQ(notes[1].job, "2");
  EXPECT_EQ(queue.size(), 1u);
  // Only job 1 is queued: waiting for job 2 times out and leaves it.
  EXPECT_TRUE(queue.wait(20ms, {"2"}).empty());
  EXPECT_EQ(queue.drain().at(0).job, "1");
}

TEST(NoteQueue, WaitIsWokenByPushFromAnotherThread) {
  NoteQueue queue;
  std::atomic<bool> pushed{false};
  std::thread pusher([&] {
    std::this_thread::sleep_for(100ms);
    queue.push(make_note(NoteKind::finished, "other"));  // not for the waiter
    std::this_thread::sleep_for(50ms);
    pushed = true;
    queue.push(make_note(NoteKind::finished, "7"));
  });
  const auto start = std::chrono::steady_clock::now();
  auto notes = queue.wait(30s, {"7"});
  const auto waited = std::chrono::steady_clock::now() - start;
  pusher.join();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_TRUE(pushed.load());
  EXPECT_EQ(notes[0].job, "7");
  EXPECT_LT(waited, 10s);       // woken, not timed out
  EXPECT_EQ(queue.size(), 1u);  // "other" stays queued
}

TEST(NoteQueue, CloseWakesWaitersAndLaterWaitsReturnAtOnce) {
  NoteQueue queue;
  std::thread closer([&] {
    std::this_thread::sleep_for(100ms);
    queue.close();
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(queue.wait(30s, {}).empty());
  closer.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  const auto again = std::chrono::steady_clock::now();
  EXPECT_TRUE(queue.wait(30s, {}).empty());
  EXPECT_LT(std::chrono::steady_clock::now() - again, 5s);
  // Notes pushed after close are still delivered.
  queue.push(make_note(NoteKind::finished, "1"));
  EXPECT_EQ(queue.wait(30s, {}).size(), 1u);
}

TEST(NoteQueue, ExactlyOnceUnderConcurrentPushersAndDrainers) {
  NoteQueue queue;
  constexpr int kPushers = 4;
  constexpr int kPerPusher = 2500;  // 10,000 finished notes in all
  std::atomic<int> pushers_done{0};
  std::mutex seen_mu;
  std::multiset<std::string> seen;
  auto record = [&](std::vector<Note> notes) {
    std::lock_guard lock(seen_mu);
    for (auto& n : notes) {
      EXPECT_EQ(n.kind, NoteKind::finished);
      seen.insert(n.job);
    }
  };
  std::vector<std::thread> threads;
  for (int p = 0; p < kPushers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < kPerPusher; ++i) {
        queue.push(make_note(NoteKind::finished, std::to_string(p * kPerPusher + i), i % 3));
        // Stalled notes of the same jobs fold among themselves, never into finished ones.
        if (i % 10 == 0)
          queue.push(make_note(NoteKind::stalled, std::to_string(p * kPerPusher + i)));
      }
      ++pushers_done;
    });
  }
  auto only_finished = [](std::vector<Note> notes) {
    std::vector<Note> out;
    for (auto& n : notes) {
      if (n.kind == NoteKind::finished) out.push_back(std::move(n));
    }
    return out;
  };
  threads.emplace_back([&] {  // drains
    while (pushers_done < kPushers) record(only_finished(queue.drain()));
  });
  threads.emplace_back([&] {  // waits for anything
    while (pushers_done < kPushers) record(only_finished(queue.wait(5ms, {})));
  });
  threads.emplace_back([&] {  // waits for particular ids
    for (int i = 0; pushers_done < kPushers; i = (i + 1) % (kPushers * kPerPusher)) {
      record(only_finished(queue.wait(1ms, {std::to_string(i), std::to_string(i + 1)})));
    }
  });
  for (auto& t : threads) t.join();
  record(only_finished(queue.drain()));
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(kPushers * kPerPusher));
  for (int i = 0; i < kPushers * kPerPusher; ++i) {
    ASSERT_EQ(seen.count(std::to_string(i)), 1u) << "job " << i;
  }
  EXPECT_EQ(queue.size(), 0u);
  EXPECT_FALSE(readable(queue.fd()));
}

}  // namespace
}  // namespace meanwhile
