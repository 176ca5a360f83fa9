// Reading /proc: process state, and finding a job's processes by the marker in their
// environment. Used on kill, shutdown, restart and when a job has leftovers; never per event.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace meanwhile::proc {

// The environment variable every process of a job inherits: "<store uuid>:<job id>".
inline constexpr std::string_view kMarkVariable = "MEANWHILE_JOB_MARK";

struct Stat {
  pid_t pid = 0;
  char state = '?';  // R, S, D, Z, ...
  pid_t ppid = 0;
  pid_t pgrp = 0;
  pid_t session = 0;
  std::uint64_t start_ticks = 0;
};

// Reads up to about `limit` bytes of `path` into `out` with read(2) (not iostreams: libstdc++'s
// filebuf throws when a read fails, as reads of /proc and cgroup files do once the process or
// cgroup is gone). False when it cannot be opened or a read fails.
bool read_file(const char* path, std::string& out, std::size_t limit);

std::optional<Stat> read_stat(pid_t pid);

// Calls fn for every process in /proc (numeric entries).
void for_each_pid(const std::function<void(pid_t)>& fn);

// The value of `key` in /proc/PID/environ (the environment the process was exec'd with);
// nullopt when unreadable (gone, zombie, other user) or absent. `scratch` is reused.
std::optional<std::string> environ_value(pid_t pid, std::string_view key, std::string& scratch);

struct Marked {
  pid_t pid = 0;
  std::string mark;  // the full marker value
};

// Every process (but this one) whose marker starts with `prefix`.
std::vector<Marked> find_marked(std::string_view prefix);

// Sends `sig` to `pid` only if it still carries marker `mark`: the pid is pinned with a pidfd
// before the check, so a pid reused in between is never signalled. Returns true if sent.
bool signal_if_marked(pid_t pid, std::string_view mark, int sig, std::string& scratch);

// Zombie children of this process that are not in `session_to_skip`.
std::vector<pid_t> zombie_children(pid_t session_to_skip);

}  // namespace meanwhile::proc
