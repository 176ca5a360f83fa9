#include "lane/proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include "lane/pidfd.h"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "lane/unique_fd.h"

namespace meanwhile::proc {

bool read_file(const char* path, std::string& out, std::size_t limit) {
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  out.clear();
  char buf[8192];
  while (out.size() < limit) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n == 0;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return true;
}

namespace {

std::optional<pid_t> parse_pid(const char* name) {
  pid_t pid = 0;
  const char* end = name + std::strlen(name);
  auto [p, ec] = std::from_chars(name, end, pid);
  if (ec != std::errc() || p != end || pid <= 0) return std::nullopt;
  return pid;
}

}  // namespace

std::optional<Stat> read_stat(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  std::string text;
  if (!read_file(path, text, 4096)) return std::nullopt;
  // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
  auto close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  Stat st;
  st.pid = pid;
  unsigned long long start = 0;
  int n = std::sscanf(text.c_str() + close + 1,
                      " %c %d %d %d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d "
                      "%llu",
                      &st.state, &st.ppid, &st.pgrp, &st.session, &start);
  if (n != 5) return std::nullopt;
  st.start_ticks = start;
  return st;
}

void for_each_pid(const std::function<void(pid_t)>& fn) {
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    if (auto pid = parse_pid(entry->d_name)) fn(*pid);
  }
  ::closedir(dir);
}

std::optional<std::string> environ_value(pid_t pid, std::string_view key, std::string& scratch) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/environ", pid);
  if (!read_file(path, scratch, 1 << 20)) return std::nullopt;
  std::string_view env(scratch);
  std::size_t pos = 0;
  while (pos < env.size()) {
    std::size_t end = env.find('\0', pos);
    if (end == std::string_view::npos) end = env.size();
    std::string_view entry = env.substr(pos, end - pos);
    if (entry.size() > key.size() && entry.substr(0, key.size()) == key &&
        entry[key.size()] == '=') {
      return std::string(entry.substr(key.size() + 1));
    }
    pos = end + 1;
  }
  return std::nullopt;
}

std::vector<Marked> find_marked(std::string_view prefix) {
  std::vector<Marked> found;
  std::string scratch;
  const pid_t self = ::getpid();
  for_each_pid([&](pid_t pid) {
    if (pid == self) return;
    auto mark = environ_value(pid, kMarkVariable, scratch);
    if (mark && mark->size() >= prefix.size() && mark->compare(0, prefix.size(), prefix) == 0) {
      found.push_back({pid, std::move(*mark)});
    }
  });
  return found;
}

bool signal_if_marked(pid_t pid, std::string_view mark, int sig, std::string& scratch) {
  if (pid == ::getpid()) return false;
  UniqueFd pidfd(sys::pidfd_open(pid));
  if (!pidfd) return false;
  auto value = environ_value(pid, kMarkVariable, scratch);
  if (!value || *value != mark) return false;
  return sys::pidfd_send_signal(pidfd.get(), sig) == 0;
}

std::vector<pid_t> zombie_children(pid_t session_to_skip) {
  std::vector<pid_t> zombies;
  const pid_t self = ::getpid();
  for_each_pid([&](pid_t pid) {
    auto st = read_stat(pid);
    if (st && st->ppid == self && st->state == 'Z' && st->session != session_to_skip) {
      zombies.push_back(pid);
    }
  });
  return zombies;
}

}  // namespace meanwhile::proc
