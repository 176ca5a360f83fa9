#include "mcp/stdio_transport.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "mcp/jsonrpc.h"
#include "mcp/log.h"

namespace meanwhile::mcp {
namespace {
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kKeepCapacity = 1024 * 1024;
}  // namespace

LineReader::LineReader(int fd, int wake_fd, std::size_t max_line)
    : fd_(fd), wake_fd_(wake_fd), max_line_(max_line) {}

// Consumes buffered bytes up to the end of the next line. Returns true with `event` set when
// there is something to report; false when more input is needed.
bool LineReader::take_line(std::string& line, Event& event) {
  while (pos_ < buffer_.size()) {
    const char* start = buffer_.data() + pos_;
    const std::size_t available = buffer_.size() - pos_;
    const void* newline = std::memchr(start, '\n', available);
    const std::size_t length =
        newline ? static_cast<std::size_t>(static_cast<const char*>(newline) - start) : available;
    const std::size_t consumed = length + (newline ? 1 : 0);

    if (discarding_) {
      pos_ += consumed;
      if (newline) discarding_ = false;
      continue;
    }
    if (partial_.size() + length > max_line_) {
      // Refuse the line now, without buffering the rest of it.
      std::string().swap(partial_);
      pos_ += consumed;
      discarding_ = newline == nullptr;
      event = Event::too_long;
      return true;
    }
    if (partial_.capacity() < partial_.size() + length) {
      // Grow geometrically, but never past the limit: a big line costs max_line, not 2x.
      partial_.reserve(
          std::min(max_line_, std::max(partial_.size() + length, 2 * partial_.capacity())));
    }
    partial_.append(start, length);
    pos_ += consumed;
    if (newline) {
      if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
      line.swap(partial_);
      partial_.clear();
      // Keep a small buffer for the next line; give a big one back.
      if (partial_.capacity() > kKeepCapacity) std::string().swap(partial_);
      event = Event::line;
      return true;
    }
  }
  buffer_.clear();
  pos_ = 0;
  return false;
}

LineReader::Event LineReader::next(std::string& line) {
  for (;;) {
    Event event;
    if (take_line(line, event)) return event;
    if (eof_) {
      if (!partial_.empty() && !discarding_) {
        line.swap(partial_);
        partial_.clear();
        return Event::line;
      }
      return Event::eof;
    }

    pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const nfds_t count = wake_fd_ >= 0 ? 2 : 1;
    if (::poll(fds, count, -1) < 0) {
      if (errno == EINTR) continue;
      return Event::error;
    }
    if (count == 2 && (fds[1].revents & POLLIN)) return Event::woken;
    if (fds[0].revents == 0) continue;

    buffer_.resize(kReadChunk);
    const ssize_t n = ::read(fd_, buffer_.data(), buffer_.size());
    if (n < 0) {
      buffer_.clear();
      if (errno == EINTR || errno == EAGAIN) continue;
      return Event::error;
    }
    buffer_.resize(static_cast<std::size_t>(n));
    pos_ = 0;
    if (n == 0) eof_ = true;
  }
}

Outbox::Outbox(int fd, std::function<void()> on_broken, Backpressure* backpressure)
    : fd_(fd),
      on_broken_(std::move(on_broken)),
      backpressure_(backpressure),
      writer_([this] { run(); }) {}

Outbox::~Outbox() {
  close();
}

void Outbox::send(const nlohmann::json& message, bool droppable) {
  std::string line = jsonrpc::serialize(message);
  line.push_back('\n');
  std::lock_guard lock(mu_);
  if (closing_ || broken_) return;
  if (droppable && backlog_bytes_ + line.size() > kMaxBacklogBytes) {
    if (dropped_++ == 0) log("the client is not reading: dropping notifications");
    return;
  }
  backlog_bytes_ += line.size();
  if (backpressure_) backpressure_->add_bytes(line.size());
  queue_.push_back(std::move(line));
  cv_.notify_one();
}

void Outbox::close() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
    cv_.notify_one();
  }
  if (writer_.joinable()) writer_.join();
}

bool Outbox::broken() const {
  std::lock_guard lock(mu_);
  return broken_;
}

void Outbox::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return closing_ || !queue_.empty(); });
    if (queue_.empty()) return;  // closing and drained
    std::string line = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();

    bool failed = false;
    std::size_t written = 0;
    while (written < line.size()) {
      const ssize_t n = ::write(fd_, line.data() + written, line.size() - written);
      if (n < 0) {
        if (errno == EINTR) continue;
        log("writing to stdout failed: {}", std::strerror(errno));
        failed = true;
        break;
      }
      written += static_cast<std::size_t>(n);
    }

    lock.lock();
    backlog_bytes_ -= line.size();
    if (backpressure_) backpressure_->remove_bytes(line.size());
    if (failed) {
      broken_ = true;
      queue_.clear();
      if (backpressure_) backpressure_->remove_bytes(backlog_bytes_);
      backlog_bytes_ = 0;
      lock.unlock();
      if (on_broken_) on_broken_();
      return;
    }
  }
}

}  // namespace meanwhile::mcp
