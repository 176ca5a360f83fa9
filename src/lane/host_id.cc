// HostId: a process identified by its pid and start time, read from /proc.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <string>
#include <string_view>

#include "lane/store.h"

namespace meanwhile {
namespace {

// Parses /proc/PID/stat: the comm field (2) may hold spaces and ')', so fields are counted from
// the last ')'. Returns false when the process does not exist or is a zombie.
bool read_proc_stat(int pid, std::uint64_t* start_ticks) {
  if (pid <= 0) return false;
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  std::size_t len = 0;
  while (len < sizeof buf) {
    const ssize_t n = ::read(fd, buf + len, sizeof buf - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += static_cast<std::size_t>(n);
  }
  ::close(fd);
  const std::string_view stat(buf, len);
  const std::size_t paren = stat.rfind(')');
  if (paren == std::string_view::npos) return false;
  // After ") ": field 3 (state) is token 0, so field 22 (starttime) is token 19.
  std::string_view rest = stat.substr(paren + 1);
  int token = 0;
  std::size_t pos = 0;
  while (pos < rest.size()) {
    while (pos < rest.size() && rest[pos] == ' ') ++pos;
    const std::size_t end = std::min(rest.find(' ', pos), rest.size());
    const std::string_view field = rest.substr(pos, end - pos);
    if (token == 0 && (field == "Z" || field == "X" || field == "x")) return false;
    if (token == 19) {
      std::uint64_t value = 0;
      auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
      if (ec != std::errc()) return false;
      *start_ticks = value;
      return true;
    }
    ++token;
    pos = end;
  }
  return false;
}

}  // namespace

HostId HostId::self() {
  HostId id;
  id.pid = static_cast<int>(::getpid());
  read_proc_stat(id.pid, &id.start_ticks);
  return id;
}

bool HostId::alive() const {
  std::uint64_t start = 0;
  return read_proc_stat(pid, &start) && start == start_ticks;
}

}  // namespace meanwhile
