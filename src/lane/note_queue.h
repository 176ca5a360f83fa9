// NoteQueue: the thread-safe notification queue between the lane thread and the host.
//
// Notes drain highest priority first, then oldest first. A newer note of the same kind for the
// same job replaces an undrained older one (a `matched` note keeps the older note's lines
// before its own, at most kMaxLines); `finished` notes never fold (there is one per job).
// An eventfd is readable exactly while the queue is not empty, for hosts with a poll loop.
// With a limit, a push past it drops the lowest-priority, oldest note (counted in dropped()):
// a host that never drains (an MCP server whose client never waits) stays bounded.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <vector>

#include "lane/unique_fd.h"
#include "meanwhile/lane.h"

namespace meanwhile {

class NoteQueue {
 public:
  static constexpr std::size_t kMaxLines = 50;

  explicit NoteQueue(std::size_t limit = 0);  // 0: no limit
  NoteQueue(const NoteQueue&) = delete;
  NoteQueue& operator=(const NoteQueue&) = delete;

  void push(Note note);  // assigns note.seq
  std::vector<Note> drain();
  // Blocks until a note for one of `ids` (any note when empty) is queued, or the timeout
  // passes, or close() is called; removes and returns the matching notes.
  std::vector<Note> wait(std::chrono::milliseconds timeout, const std::vector<JobId>& ids);
  std::size_t size() const;
  std::uint64_t dropped() const;  // notes dropped past the limit, since the queue was made
  int fd() const { return event_fd_.get(); }
  void close();  // wakes every waiter; later waits return at once

 private:
  void update_fd_locked();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Note> notes_;  // unsorted; drain sorts
  std::uint64_t next_seq_ = 1;
  std::size_t limit_;
  std::uint64_t dropped_ = 0;
  bool closed_ = false;
  bool fd_signalled_ = false;
  UniqueFd event_fd_;
};

}  // namespace meanwhile
