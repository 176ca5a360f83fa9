#include "mcp/backpressure.h"

#include <poll.h>
#include <sys/eventfd.h>

#include <cerrno>
#include <cstdint>

namespace meanwhile::mcp {

Backpressure::Backpressure(std::size_t max_bytes, std::size_t max_requests)
    : max_bytes_(max_bytes),
      max_requests_(max_requests),
      room_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

void Backpressure::add_bytes(std::size_t n) {
  bytes_ += n;
}

void Backpressure::remove_bytes(std::size_t n) {
  const std::size_t before = bytes_.fetch_sub(n);
  if (before >= max_bytes_ && before - n < max_bytes_) room_made();
}

void Backpressure::add_request() {
  ++requests_;
}

void Backpressure::remove_request() {
  const std::size_t before = requests_.fetch_sub(1);
  if (before >= max_requests_ && before - 1 < max_requests_) room_made();
}

bool Backpressure::open() const {
  return bytes_.load() < max_bytes_ && requests_.load() < max_requests_;
}

void Backpressure::room_made() {
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = ::write(room_fd_.get(), &one, sizeof one);
}

bool Backpressure::wait(int wake_fd) {
  // A counter that falls below its bound after open() was checked writes room_fd_, so the poll
  // below cannot miss it; a stale wake-up only costs one more look.
  if (!room_fd_) return true;  // no eventfd (at startup): no backpressure rather than a hang
  while (!open()) {
    pollfd fds[2] = {{room_fd_.get(), POLLIN, 0}, {wake_fd, POLLIN, 0}};
    const nfds_t count = wake_fd >= 0 ? 2 : 1;
    if (::poll(fds, count, -1) < 0) {
      if (errno == EINTR) continue;
      return open();  // cannot wait: let the reader go on rather than hang
    }
    if (count == 2 && (fds[1].revents & POLLIN)) return false;
    std::uint64_t value;
    [[maybe_unused]] const ssize_t got = ::read(room_fd_.get(), &value, sizeof value);
  }
  return true;
}

}  // namespace meanwhile::mcp
