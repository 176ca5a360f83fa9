// The stdio transport: newline-delimited messages in from one fd, out to another.
//
// LineReader never holds more than one line (at most max_line bytes) in memory: a longer line is
// reported once as too_long and the rest of it is discarded up to its newline.
// Outbox serializes every outgoing message through one writer thread, so a slow client blocks
// neither the request handlers nor the lane thread, and lines never interleave. What it holds is
// counted in a Backpressure, which stops the reader while a client does not read its answers.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "mcp/backpressure.h"

namespace meanwhile::mcp {

class LineReader {
 public:
  static constexpr std::size_t kDefaultMaxLine = 10 * 1024 * 1024;

  // Reads `fd`; returns `woken` as soon as `wake_fd` (an eventfd or pipe, may be -1) is readable.
  LineReader(int fd, int wake_fd, std::size_t max_line = kDefaultMaxLine);

  enum class Event {
    line,      // `line` holds one message (a trailing '\r' removed)
    too_long,  // a line exceeded max_line: dropped; its remaining bytes will be skipped
    eof,       // the peer closed the stream (an unterminated last line is returned first)
    woken,     // wake_fd became readable
    error,     // read or poll failed (errno is logged by the caller)
  };
  Event next(std::string& line);

 private:
  bool take_line(std::string& line, Event& event);

  int fd_;
  int wake_fd_;
  std::size_t max_line_;
  std::string buffer_;  // bytes read but not yet consumed: [pos_, size)
  std::size_t pos_ = 0;
  std::string partial_;      // the current line's bytes so far
  bool discarding_ = false;  // skipping the rest of an over-long line
  bool eof_ = false;
};

class Outbox {
 public:
  // Pending notifications beyond this many bytes are dropped (responses never are: they are
  // bounded by the reader stopping, see Backpressure).
  static constexpr std::size_t kMaxBacklogBytes = 16 * 1024 * 1024;

  // `on_broken` runs once (on the writer thread) when a write fails, e.g. EPIPE. Queued bytes
  // are counted in `backpressure` when given (it must outlive the Outbox).
  Outbox(int fd, std::function<void()> on_broken, Backpressure* backpressure = nullptr);
  ~Outbox();  // close()
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Queues one message as one line. `droppable`: a notification that may be dropped when the
  // client has stopped reading and the backlog is full.
  void send(const nlohmann::json& message, bool droppable = false);
  // Writes everything queued, then stops the writer thread. Idempotent.
  void close();
  bool broken() const;

 private:
  void run();

  int fd_;
  std::function<void()> on_broken_;
  Backpressure* backpressure_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::size_t backlog_bytes_ = 0;
  std::size_t dropped_ = 0;
  bool closing_ = false;
  bool broken_ = false;
  std::thread writer_;
};

}  // namespace meanwhile::mcp
