#include "mcp/worker_pool.h"

#include "mcp/log.h"

namespace meanwhile::mcp {

WorkerPool::WorkerPool(std::size_t max_threads) : max_threads_(max_threads ? max_threads : 1) {}

WorkerPool::~WorkerPool() {
  stop_and_join();
}

bool WorkerPool::post(std::function<void()> work) {
  std::lock_guard lock(mu_);
  if (stopping_) return false;
  queue_.push_back(std::move(work));
  if (idle_ < queue_.size() && threads_.size() < max_threads_) {
    threads_.emplace_back([this] { run(); });
  } else {
    cv_.notify_one();
  }
  const bool saturated = idle_ < queue_.size() && threads_.size() == max_threads_;
  if (saturated && !saturated_) {
    log("{} requests are running: more wait for a free worker", max_threads_);
  }
  saturated_ = saturated;
  return true;
}

void WorkerPool::stop_and_join() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    threads.swap(threads_);
    cv_.notify_all();
  }
  for (auto& thread : threads) thread.join();
}

void WorkerPool::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    ++idle_;
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    --idle_;
    if (queue_.empty()) return;  // stopping and nothing left
    auto work = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    work();
    lock.lock();
  }
}

}  // namespace meanwhile::mcp
