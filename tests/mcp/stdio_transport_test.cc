// The stdio transport: line framing with a size limit, the wake fd, the serialized writer; and
// the worker pool that keeps blocking requests from holding up others.
#include "mcp/stdio_transport.h"

#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <future>
#include <string>
#include <system_error>
#include <thread>

#include <gtest/gtest.h>

#include "lane/unique_fd.h"
#include "mcp/backpressure.h"
#include "mcp/worker_pool.h"

namespace meanwhile::mcp {
namespace {

using namespace std::chrono_literals;

struct Pipe {
  UniqueFd read_end, write_end;
  Pipe() {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    read_end.reset(fds[0]);
    write_end.reset(fds[1]);
  }
  void write(const std::string& data) {
    ASSERT_EQ(::write(write_end.get(), data.data(), data.size()),
              static_cast<ssize_t>(data.size()));
  }
};

std::string read_all(int fd) {
  std::string out;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) out.append(buffer, n);
  return out;
}

TEST(LineReader, SplitsLinesAcrossReadsAndStripsCarriageReturns) {
  Pipe pipe;
  LineReader reader(pipe.read_end.get(), -1);
  pipe.write("{\"a\":");
  std::thread writer([&] {
    std::this_thread::sleep_for(20ms);
    pipe.write("1}\r\nsecond\nthird");
    pipe.write_end.reset();
  });
  std::string line;
  ASSERT_EQ(reader.next(line), LineReader::Event::line);
  EXPECT_EQ(line, "{\"a\":1}");
  ASSERT_EQ(reader.next(line), LineReader::Event::line);
  EXPECT_EQ(line, "second");
  ASSERT_EQ(reader.next(line), LineReader::Event::line);  // unterminated last line at EOF
  EXPECT_EQ(line, "third");
  EXPECT_EQ(reader.next(line), LineReader::Event::eof);
  EXPECT_EQ(reader.next(line), LineReader::Event::eof);
  writer.join();
}

TEST(LineReader, RefusesALongLineOnceAndSkipsItsRest) {
  Pipe pipe;
  LineReader reader(pipe.read_end.get(), -1, /*max_line=*/16);
  std::thread writer([&] {
    pipe.write("short\n");
    for (int i = 0; i < 50; ++i) pipe.write(std::string(1000, 'x'));  // 50 kB, no newline
    pipe.write("tail of the long line\nexactly-sixteen!\nok\n");
    pipe.write_end.reset();
  });
  std::string line;
  ASSERT_EQ(reader.next(line), LineReader::Event::line);
  EXPECT_EQ(line, "short");
  EXPECT_EQ(reader.next(line), LineReader::Event::too_long);
  ASSERT_EQ(reader.next(line), LineReader::Event::line);
  EXPECT_EQ(line, "exactly-sixteen!");
  ASSERT_EQ(reader.next(line), LineReader::Event::line);
  EXPECT_EQ(line, "ok");
  EXPECT_EQ(reader.next(line), LineReader::Event::eof);
  writer.join();
}

TEST(LineReader, ALongLineEndingInTheSameChunkIsSkippedToo) {
  Pipe pipe;
  LineReader reader(pipe.read_end.get(), -1, /*max_line=*/8);
  pipe.write("0123456789abcdef\nnext\n");
  pipe.write_end.reset();
  std::string line;
  EXPECT_EQ(reader.next(line), LineReader::Event::too_long);
  ASSERT_EQ(reader.next(line), LineReader::Event::line);
  EXPECT_EQ(line, "next");
}

TEST(LineReader, WakeFdInterruptsABlockedRead) {
  Pipe pipe;
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC));
  LineReader reader(pipe.read_end.get(), wake.get());
  std::thread waker([&] {
    std::this_thread::sleep_for(30ms);
    const std::uint64_t one = 1;
    ASSERT_EQ(::write(wake.get(), &one, sizeof one), 8);
  });
  std::string line;
  EXPECT_EQ(reader.next(line), LineReader::Event::woken);
  waker.join();
}

TEST(Outbox, WritesWholeLinesInOrderFromManyThreads) {
  Pipe pipe;
  std::string received;
  std::thread reader([&] { received = read_all(pipe.read_end.get()); });
  {
    Outbox outbox(pipe.write_end.get(), nullptr);
    std::vector<std::thread> senders;
    for (int t = 0; t < 4; ++t) {
      senders.emplace_back([&outbox, t] {
        for (int i = 0; i < 200; ++i)
          outbox.send({{"t", t}, {"i", i}, {"pad", std::string(500, 'p')}});
      });
    }
    for (auto& s : senders) s.join();
    outbox.close();
  }
  pipe.write_end.reset();
  reader.join();
  int last[4] = {-1, -1, -1, -1};
  std::size_t lines = 0;
  for (std::size_t start = 0, end; (end = received.find('\n', start)) != std::string::npos;
       start = end + 1, ++lines) {
    auto message = nlohmann::json::parse(received.substr(start, end - start));
    const int t = message["t"], i = message["i"];
    EXPECT_EQ(i, last[t] + 1) << "per-sender order";
    last[t] = i;
  }
  EXPECT_EQ(lines, 800u);
}

TEST(Outbox, ReportsABrokenPipeOnce) {
  ::signal(SIGPIPE, SIG_IGN);
  Pipe pipe;
  pipe.read_end.reset();
  std::promise<void> broken;
  Outbox outbox(pipe.write_end.get(), [&] { broken.set_value(); });
  outbox.send({{"x", 1}});
  ASSERT_EQ(broken.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(outbox.broken());
  outbox.send({{"x", 2}});  // dropped quietly
}

TEST(WorkerPool, ABlockedRequestDoesNotHoldUpAnother) {
  WorkerPool pool(4);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> quick_done{false};
  pool.post([released] { released.wait(); });
  std::promise<void> quick;
  pool.post([&] {
    quick_done = true;
    quick.set_value();
  });
  EXPECT_EQ(quick.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(quick_done);
  release.set_value();
  pool.stop_and_join();
  EXPECT_FALSE(pool.post([] {}));
}

TEST(WorkerPool, QueuesBeyondItsThreadLimit) {
  WorkerPool pool(2);
  std::atomic<int> running{0}, peak{0}, done{0};
  for (int i = 0; i < 10; ++i) {
    pool.post([&] {
      const int now = ++running;
      int seen = peak.load();
      while (now > seen && !peak.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(5ms);
      --running;
      ++done;
    });
  }
  pool.stop_and_join();
  EXPECT_EQ(done, 10);
  EXPECT_LE(peak, 2);
}

// Starts `allowed` threads, then fails as pthread_create does when RLIMIT_NPROC is reached.
WorkerPool::ThreadStarter failing_after(int allowed, std::atomic<int>& started) {
  return [allowed, &started](std::function<void()> body) {
    if (started.load() >= allowed) {
      throw std::system_error(EAGAIN, std::generic_category(), "thread: cannot start");
    }
    ++started;
    return std::thread(std::move(body));
  };
}

// Issue 9, item 7: std::system_error escaped post() and aborted the server.
TEST(WorkerPool, AThreadThatCannotStartIsABusyAnswerNotACrash) {
  std::atomic<int> started{0};
  WorkerPool pool(WorkerPool::Options{.name = "blocking",
                                      .max_threads = 16,
                                      .queue_when_no_thread = false,
                                      .start_thread = failing_after(2, started)});
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> ran{0};
  int refused = 0;
  for (int i = 0; i < 20; ++i) {
    WorkerPool::Posted posted = pool.post([&ran, released] {
      released.wait();
      ++ran;
    });
    if (!posted) {
      EXPECT_EQ(posted.status, WorkerPool::Status::no_thread);
      EXPECT_NE(posted.error.find("Resource temporarily unavailable"), std::string::npos)
          << posted.error;
      ++refused;
    }
  }
  EXPECT_EQ(refused, 18);  // two threads ran two waits; the others were told at once
  release.set_value();
  pool.stop_and_join();
  EXPECT_EQ(ran, 2);
}

TEST(WorkerPool, QuickWorkWaitsForARunningThreadWhenNoneCanStart) {
  std::atomic<int> started{0};
  WorkerPool pool(WorkerPool::Options{.name = "quick",
                                      .max_threads = 4,
                                      .queue_when_no_thread = true,
                                      .start_thread = failing_after(1, started)});
  ASSERT_TRUE(pool.prestart(1));
  std::atomic<int> ran{0};
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(pool.post([&ran] { ++ran; }));
  pool.stop_and_join();
  EXPECT_EQ(ran, 10);
  EXPECT_EQ(started, 1);

  // With no thread at all, the work is refused rather than left waiting forever.
  std::atomic<int> none{0};
  WorkerPool empty(WorkerPool::Options{.name = "quick",
                                       .max_threads = 4,
                                       .queue_when_no_thread = true,
                                       .start_thread = failing_after(0, none)});
  EXPECT_FALSE(empty.prestart(1));
  EXPECT_EQ(empty.post([] {}).status, WorkerPool::Status::no_thread);
}

TEST(WorkerPool, RefusesWorkPastItsQueueBound) {
  WorkerPool pool(WorkerPool::Options{.name = "blocking", .max_threads = 1, .max_queued = 2});
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> first_running;
  ASSERT_TRUE(pool.post([&, released] {
    first_running.set_value();
    released.wait();
  }));
  first_running.get_future().wait();
  EXPECT_TRUE(pool.post([] {}));
  EXPECT_TRUE(pool.post([] {}));
  WorkerPool::Posted full = pool.post([] {});
  EXPECT_EQ(full.status, WorkerPool::Status::queue_full);
  EXPECT_NE(full.error.find("2 more wait"), std::string::npos) << full.error;
  release.set_value();
}

TEST(Backpressure, ClosesPastEitherBoundAndWakesTheReaderWhenRoomIsMade) {
  Backpressure gate(/*max_bytes=*/100, /*max_requests=*/2);
  EXPECT_TRUE(gate.open());
  gate.add_bytes(100);
  EXPECT_FALSE(gate.open());
  std::promise<bool> waited;
  std::thread reader([&] { waited.set_value(gate.wait(-1)); });
  auto result = waited.get_future();
  EXPECT_EQ(result.wait_for(50ms), std::future_status::timeout);  // really blocked
  gate.remove_bytes(1);
  ASSERT_EQ(result.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(result.get());
  reader.join();

  gate.add_request();
  gate.add_request();
  EXPECT_FALSE(gate.open());
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC));
  const std::uint64_t one = 1;
  ASSERT_EQ(::write(wake.get(), &one, sizeof one), 8);
  EXPECT_FALSE(gate.wait(wake.get()));  // a signal or a broken stdout ends the wait
  gate.remove_request();
  EXPECT_TRUE(gate.wait(wake.get()));
}

// Issue 9, item 18: what waits for a client that does not read is counted, so the reader stops.
TEST(Outbox, CountsWhatTheClientHasNotReadYet) {
  Pipe pipe;
  Backpressure gate(/*max_bytes=*/256 * 1024, /*max_requests=*/10);
  Outbox outbox(pipe.write_end.get(), nullptr, &gate);
  for (int i = 0; i < 8; ++i) outbox.send({{"pad", std::string(64 * 1024, 'p')}});
  EXPECT_GE(gate.bytes(), 8u * 64 * 1024 - 128 * 1024);  // at most the pipe's 64 KiB left
  EXPECT_FALSE(gate.open());
  std::string received;
  std::thread reader([&] { received = read_all(pipe.read_end.get()); });
  std::promise<bool> waited;
  std::thread waiter([&] { waited.set_value(gate.wait(-1)); });
  auto result = waited.get_future();
  ASSERT_EQ(result.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(result.get());
  waiter.join();
  outbox.close();
  EXPECT_EQ(gate.bytes(), 0u);
  pipe.write_end.reset();
  reader.join();
  EXPECT_GE(received.size(), 8u * 64 * 1024);
}

}  // namespace
}  // namespace meanwhile::mcp
