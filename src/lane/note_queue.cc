#include "lane/note_queue.h"

#include <sys/eventfd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <iterator>

namespace meanwhile {
namespace {

bool drains_before(const Note& a, const Note& b) {
  if (a.priority != b.priority) return a.priority > b.priority;
  return a.seq < b.seq;
}

bool wanted(const Note& note, const std::vector<JobId>& ids) {
  return ids.empty() || std::find(ids.begin(), ids.end(), note.job) != ids.end();
}

}  // namespace

NoteQueue::NoteQueue(std::size_t limit)
    : limit_(limit), event_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

void NoteQueue::push(Note note) {
  {
    std::lock_guard lock(mu_);
    note.seq = next_seq_++;
    // Same-key folding; `finished` is exactly once per job so it never folds (and the common
    // case, a queue full of finished notes, skips the scan).
    auto older = notes_.end();
    if (note.kind != NoteKind::finished) {
      older = std::find_if(notes_.begin(), notes_.end(), [&](const Note& queued) {
        return queued.kind == note.kind && queued.job == note.job;
      });
    }
    if (older == notes_.end()) {
      notes_.push_back(std::move(note));
    } else {
      if (note.kind == NoteKind::matched) {
        std::vector<std::string> lines = std::move(older->lines);
        lines.insert(lines.end(), std::make_move_iterator(note.lines.begin()),
                     std::make_move_iterator(note.lines.end()));
        if (lines.size() > kMaxLines) {
          lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(kMaxLines));
        }
        note.lines = std::move(lines);
      }
      *older = std::move(note);  // takes the newer seq: it drains as the newer note
    }
    if (limit_ > 0 && notes_.size() > limit_) {
      // The note that would drain last: lowest priority, then oldest (failures outlive successes).
      auto victim =
          std::min_element(notes_.begin(), notes_.end(), [](const Note& a, const Note& b) {
            if (a.priority != b.priority) return a.priority < b.priority;
            return a.seq < b.seq;
          });
      notes_.erase(victim);
      ++dropped_;
    }
    update_fd_locked();
  }
  cv_.notify_all();  // waiters may want different ids
}

std::vector<Note> NoteQueue::drain() {
  std::vector<Note> out;
  {
    std::lock_guard lock(mu_);
    out.assign(std::make_move_iterator(notes_.begin()), std::make_move_iterator(notes_.end()));
    notes_.clear();
    update_fd_locked();
  }
  std::sort(out.begin(), out.end(), drains_before);
  return out;
}

std::vector<Note> NoteQueue::wait(std::chrono::milliseconds timeout,
                                  const std::vector<JobId>& ids) {
  std::vector<Note> out;
  {
    std::unique_lock lock(mu_);
    auto ready = [&] {
      return closed_ || std::any_of(notes_.begin(), notes_.end(),
                                    [&](const Note& note) { return wanted(note, ids); });
    };
    // Clamped: now() + milliseconds::max() would overflow.
    const auto bounded = std::clamp(timeout, std::chrono::milliseconds(0),
                                    std::chrono::milliseconds(std::chrono::hours(24 * 365)));
    cv_.wait_for(lock, bounded, ready);
    auto keep = std::stable_partition(notes_.begin(), notes_.end(),
                                      [&](const Note& note) { return !wanted(note, ids); });
    out.assign(std::make_move_iterator(keep), std::make_move_iterator(notes_.end()));
    notes_.erase(keep, notes_.end());
    update_fd_locked();
  }
  std::sort(out.begin(), out.end(), drains_before);
  return out;
}

std::size_t NoteQueue::size() const {
  std::lock_guard lock(mu_);
  return notes_.size();
}

std::uint64_t NoteQueue::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

void NoteQueue::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

// Keeps the eventfd readable exactly while notes are queued. Every push writes (not only the
// first), so a host that consumed the counter itself still sees the fd readable again.
void NoteQueue::update_fd_locked() {
  if (!event_fd_) return;
  if (!notes_.empty()) {
    const std::uint64_t one = 1;
    ssize_t n;
    do n = ::write(event_fd_.get(), &one, sizeof one);
    while (n < 0 && errno == EINTR);
    fd_signalled_ = true;
  } else if (fd_signalled_) {
    std::uint64_t count;
    ssize_t n;
    do n = ::read(event_fd_.get(), &count, sizeof count);
    while (n < 0 && errno == EINTR);
    fd_signalled_ = false;
  }
}

}  // namespace meanwhile
