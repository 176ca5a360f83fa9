#include "cli/key_input.h"

#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>

namespace meanwhile::cli {
namespace {

// Puts the terminal's mode back however the read ends.
class RawMode {
 public:
  explicit RawMode(int fd) : fd_(fd) {
    if (::tcgetattr(fd_, &saved_) != 0) return;
    termios raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);  // ISIG stays: Ctrl+C interrupts
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    active_ = ::tcsetattr(fd_, TCSANOW, &raw) == 0;
  }
  ~RawMode() {
    if (active_) ::tcsetattr(fd_, TCSANOW, &saved_);
  }
  RawMode(const RawMode&) = delete;
  RawMode& operator=(const RawMode&) = delete;

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
};

// 0: interrupted or the input ended.
int next_byte(int fd, int interrupt_fd) {
  for (;;) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {interrupt_fd, POLLIN, 0}};
    const int n = ::poll(fds, interrupt_fd >= 0 ? 2 : 1, -1);
    if (n < 0 && errno == EINTR) continue;  // the SIGINT handler wrote its pipe: seen next
    if (n < 0) return 0;
    if (interrupt_fd >= 0 && (fds[1].revents & POLLIN)) return 0;
    char c = 0;
    const ssize_t got = ::read(fd, &c, 1);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got <= 0) return 0;
    return static_cast<unsigned char>(c) == 0 ? ' ' : static_cast<unsigned char>(c);
  }
}

}  // namespace

std::optional<char> read_key(int fd, int interrupt_fd) {
  if (::isatty(fd)) {
    RawMode raw(fd);
    const int c = next_byte(fd, interrupt_fd);
    if (c == 0) return std::nullopt;
    return static_cast<char>(c);
  }
  std::optional<char> first;
  for (;;) {
    const int c = next_byte(fd, interrupt_fd);
    if (c == 0) return first;
    if (c == '\n') return first ? first : std::optional<char>(' ');
    if (!first && c != ' ' && c != '\t' && c != '\r') first = static_cast<char>(c);
  }
}

}  // namespace meanwhile::cli
