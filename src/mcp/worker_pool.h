// A small pool for requests: threads are started on demand up to a fixed maximum and then reused,
// and a flood of calls cannot create unbounded threads (the excess queues, up to a bound).
//
// Starting a thread can fail (EAGAIN when the user's process limit, RLIMIT_NPROC, is used up by
// jobs): post() then says so instead of throwing, and the caller answers "busy", or, for a pool
// whose work is quick, the work waits for a thread that already runs.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mcp/log.h"

namespace meanwhile::mcp {

class WorkerPool {
 public:
  // Starts one thread running `body`; throws (std::system_error) when it cannot. Tests inject a
  // starter that fails like a full process table.
  using ThreadStarter = std::function<std::thread(std::function<void()> body)>;

  struct Options {
    std::string name = "worker";  // in log lines
    std::size_t max_threads = 16;
    // Work accepted while every thread is busy; beyond it post() answers queue_full.
    std::size_t max_queued = std::numeric_limits<std::size_t>::max();
    // When no thread can be started: queue behind the running ones (true, for quick work) or
    // refuse with no_thread (false, for work that may block for minutes).
    bool queue_when_no_thread = false;
    ThreadStarter start_thread = {};  // empty: std::thread
  };

  explicit WorkerPool(Options options);
  explicit WorkerPool(std::size_t max_threads);
  ~WorkerPool();  // stop_and_join()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  enum class Status { accepted, stopped, queue_full, no_thread };
  struct Posted {
    Status status = Status::accepted;
    std::string error;  // no_thread: why the thread could not start; queue_full: the counts
    explicit operator bool() const { return status == Status::accepted; }
  };

  // Runs `work` on a pool thread (now, or once one is free). Never throws.
  Posted post(std::function<void()> work);
  // Starts `count` threads now (so that quick work always has one); false if one failed.
  bool prestart(std::size_t count);
  // Runs what is queued, then joins every thread. Work must not block forever.
  void stop_and_join();

 private:
  void run();
  // Starts one more thread; returns the error ("" on success). Holds mu_.
  std::string start_locked();

  const Options options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  std::size_t idle_ = 0;
  bool saturated_ = false;  // a stretch of saturation, logged at its start (rate-limited)
  LogEvery saturated_log_{std::chrono::seconds(10)};
  bool start_failed_ = false;  // a stretch of failures to start a thread, logged at its start
  LogEvery start_failed_log_{std::chrono::seconds(10)};
  bool stopping_ = false;
};

}  // namespace meanwhile::mcp
