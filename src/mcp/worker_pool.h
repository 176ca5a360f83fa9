// A small pool for requests that may block (tools/call, tasks/result): threads are started on
// demand up to a fixed maximum and then reused, so one background_wait never holds up another
// request, and a flood of calls cannot create unbounded threads (the excess queues).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace meanwhile::mcp {

class WorkerPool {
 public:
  explicit WorkerPool(std::size_t max_threads);
  ~WorkerPool();  // stop_and_join()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Runs `work` on a pool thread; false once stopped.
  bool post(std::function<void()> work);
  // Runs what is queued, then joins every thread. Work must not block forever.
  void stop_and_join();

 private:
  void run();

  const std::size_t max_threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  std::size_t idle_ = 0;
  bool saturated_ = false;  // logged once per stretch of saturation
  bool stopping_ = false;
};

}  // namespace meanwhile::mcp
