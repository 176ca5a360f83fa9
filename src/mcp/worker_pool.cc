#include "mcp/worker_pool.h"

#include <exception>

#include "mcp/log.h"

namespace meanwhile::mcp {

namespace {
WorkerPool::Options at_least_one_thread(WorkerPool::Options options) {
  if (options.max_threads == 0) options.max_threads = 1;
  return options;
}
}  // namespace

WorkerPool::WorkerPool(Options options) : options_(at_least_one_thread(std::move(options))) {}

WorkerPool::WorkerPool(std::size_t max_threads) : WorkerPool(Options{.max_threads = max_threads}) {}

WorkerPool::~WorkerPool() {
  stop_and_join();
}

std::string WorkerPool::start_locked() {
  try {
    auto body = [this] { run(); };
    threads_.push_back(options_.start_thread ? options_.start_thread(body) : std::thread(body));
    start_failed_ = false;
    return {};
  } catch (const std::exception& e) {
    std::string error = e.what();
    if (!start_failed_ && start_failed_log_.due()) {
      // Logged under the lock: rare, and stderr is not the client's pipe to block on.
      log("cannot start a {} thread ({}; {} running): is the process limit (ulimit -u) used up "
          "by jobs?",
          options_.name, error, threads_.size());
    }
    start_failed_ = true;
    return error.empty() ? "cannot start a thread" : error;
  }
}

bool WorkerPool::prestart(std::size_t count) {
  std::lock_guard lock(mu_);
  while (threads_.size() < std::min(count, options_.max_threads)) {
    if (!start_locked().empty()) return false;
  }
  return true;
}

WorkerPool::Posted WorkerPool::post(std::function<void()> work) {
  std::unique_lock lock(mu_);
  if (stopping_) return {Status::stopped, "the server is stopping"};
  const bool needs_thread = idle_ <= queue_.size();  // no idle thread is left for this work
  if (needs_thread && threads_.size() < options_.max_threads) {
    std::string error = start_locked();
    if (!error.empty() && (threads_.empty() || !options_.queue_when_no_thread)) {
      return {Status::no_thread, std::move(error)};
    }
  } else if (needs_thread && queue_.size() - idle_ >= options_.max_queued) {
    return {Status::queue_full,
            std::to_string(threads_.size()) + " " + options_.name + " requests are running and " +
                std::to_string(queue_.size() - idle_) + " more wait for one to end"};
  }
  queue_.push_back(std::move(work));
  cv_.notify_one();
  const bool saturated = idle_ < queue_.size() && threads_.size() == options_.max_threads;
  const bool report = saturated && !saturated_ && saturated_log_.due();
  saturated_ = saturated;
  lock.unlock();
  if (report) {
    log("{} {} requests are running: more wait for a free thread", options_.max_threads,
        options_.name);
  }
  return {};
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
