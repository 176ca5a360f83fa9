// What the server owes a client that may have stopped reading: bytes of messages queued for it,
// and quick requests read but not answered yet. While either passes its bound the reader takes no
// more requests (the client's writes then block in the pipe), so a client that writes and never
// reads costs bounded memory. Blocking requests (background_wait, tasks/result) are not counted:
// their pool bounds them with busy answers, so that a client blocked in 16 background_waits can
// still be read (a cancellation, a background_kill).
#pragma once

#include <atomic>
#include <cstddef>

#include "lane/unique_fd.h"

namespace meanwhile::mcp {

class Backpressure {
 public:
  static constexpr std::size_t kDefaultMaxBytes = 4 * 1024 * 1024;
  static constexpr std::size_t kDefaultMaxRequests = 32;

  Backpressure(std::size_t max_bytes = kDefaultMaxBytes,
               std::size_t max_requests = kDefaultMaxRequests);

  void add_bytes(std::size_t n);
  void remove_bytes(std::size_t n);
  void add_request();
  void remove_request();

  // Whether the reader may take another request.
  bool open() const;
  // Blocks until open(), or until `wake_fd` is readable (returns false then). Thread-safe with
  // the counters; meant for the one reader thread.
  bool wait(int wake_fd);

  std::size_t bytes() const { return bytes_.load(); }
  std::size_t requests() const { return requests_.load(); }
  std::size_t max_bytes() const { return max_bytes_; }

 private:
  void room_made();

  const std::size_t max_bytes_;
  const std::size_t max_requests_;
  std::atomic<std::size_t> bytes_{0};
  std::atomic<std::size_t> requests_{0};
  // Written whenever a counter falls back below its bound: the reader's poll wakes on it.
  UniqueFd room_fd_;
};

}  // namespace meanwhile::mcp
