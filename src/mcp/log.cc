#include "mcp/log.h"

#include <unistd.h>

#include <cerrno>
#include <string>

namespace meanwhile::mcp {

void log_line(std::string_view text) {
  std::string line = "meanwhile mcp: ";
  line.append(text);
  line.push_back('\n');
  // One write per line keeps concurrent lines whole (stderr is unbuffered at the fd level).
  std::size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = ::write(STDERR_FILENO, line.data() + written, line.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    written += static_cast<std::size_t>(n);
  }
}

}  // namespace meanwhile::mcp
