// Shared helpers for the lane's behaviour tests: a temporary workspace, opening a lane on it,
// waiting for jobs, and looking at processes through /proc.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "meanwhile/lane.h"
#include "support/test_support.h"

namespace meanwhile::testing {

using namespace std::chrono_literals;

// The shared helpers (tests/support): TempDir, read_file, slowdown, eventually.
using meanwhile::test::eventually;
using meanwhile::test::read_file;
using meanwhile::test::slowdown;
using meanwhile::test::TempDir;

// State letter from /proc/PID/stat, or nullopt when the process does not exist.
inline std::optional<char> proc_state(pid_t pid) {
  const std::string text = read_file("/proc/" + std::to_string(pid) + "/stat");
  auto close = text.rfind(')');
  if (close == std::string::npos || close + 2 >= text.size()) return std::nullopt;
  return text[close + 2];
}

// Alive and not a zombie.
inline bool alive(pid_t pid) {
  auto state = proc_state(pid);
  return state && *state != 'Z' && *state != 'X';
}

inline std::vector<long> stat_fields(pid_t pid) {
  const std::string text = read_file("/proc/" + std::to_string(pid) + "/stat");
  std::vector<long> fields;
  auto close = text.rfind(')');
  if (close == std::string::npos) return fields;
  std::istringstream rest(text.substr(close + 2));
  std::string state;
  rest >> state;
  long value;
  while (rest >> value) fields.push_back(value);
  return fields;  // [0] = ppid, [1] = pgrp, [2] = session
}

// Zombie children of this process.
inline int zombie_children() {
  int zombies = 0;
  const pid_t self = ::getpid();
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] < '0' || name[0] > '9') continue;
    pid_t pid = std::atoi(name.c_str());
    auto fields = stat_fields(pid);
    if (!fields.empty() && fields[0] == self && proc_state(pid) == 'Z') ++zombies;
  }
  return zombies;
}

// Children of `parent` that are lane watchdogs (src/lane/watchdog.h), zombies included.
inline std::vector<pid_t> watchdogs_of(pid_t parent) {
  std::vector<pid_t> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] < '0' || name[0] > '9') continue;
    const pid_t pid = std::atoi(name.c_str());
    auto fields = stat_fields(pid);
    if (fields.empty() || fields[0] != parent) continue;
    const std::string argv0 = "meanwhile-watchdog";
    if (read_file("/proc/" + name + "/cmdline").compare(0, argv0.size() + 1, argv0 + '\0') == 0)
      found.push_back(pid);
  }
  return found;
}

// Pids of processes whose environment has NAME=VALUE.
// Processes running `sleep SECONDS` (found by command line: their environment may be empty),
// and when `cwd` is given, only those working there.
inline std::vector<pid_t> sleeping(const std::string& seconds, const std::string& cwd = "") {
  std::vector<pid_t> found;
  for (const auto& dir : std::filesystem::directory_iterator("/proc")) {
    const std::string name = dir.path().filename().string();
    if (name.empty() || name[0] < '0' || name[0] > '9') continue;
    if (read_file(dir.path().string() + "/cmdline") != std::string("sleep\0", 6) + seconds + '\0')
      continue;
    std::error_code ec;
    if (!cwd.empty() && std::filesystem::read_symlink(dir.path() / "cwd", ec) != cwd) continue;
    found.push_back(std::atoi(name.c_str()));
  }
  return found;
}

inline std::vector<pid_t> processes_with_env(const std::string& entry) {
  std::vector<pid_t> pids;
  for (const auto& dir : std::filesystem::directory_iterator("/proc")) {
    const std::string name = dir.path().filename().string();
    if (name.empty() || name[0] < '0' || name[0] > '9') continue;
    std::string env = read_file(dir.path().string() + "/environ");
    std::size_t pos = 0;
    while (pos < env.size()) {
      std::size_t end = env.find('\0', pos);
      if (end == std::string::npos) end = env.size();
      if (env.compare(pos, end - pos, entry) == 0) {
        pids.push_back(std::atoi(name.c_str()));
        break;
      }
      pos = end + 1;
    }
  }
  return pids;
}

inline std::unique_ptr<Lane> open_lane(const TempDir& dir, LaneOptions options = {}) {
  options.workspace = dir.path();
  if (options.data_dir.empty()) options.data_dir = dir / "data";
  auto lane = Lane::open(std::move(options));
  EXPECT_TRUE(lane.ok()) << (lane.ok() ? "" : lane.error());
  return lane.ok() ? std::move(*lane) : nullptr;
}

inline JobSpec shell(std::string command) {
  JobSpec spec;
  spec.command = std::move(command);
  return spec;
}

inline JobId submit_ok(Lane& lane, JobSpec spec) {
  auto id = lane.submit(std::move(spec));
  EXPECT_TRUE(id.ok()) << (id.ok() ? "" : id.error());
  return id.ok() ? *id : JobId();
}

// Waits for the job to be terminal; fails the test on timeout.
inline JobInfo wait_done(Lane& lane, const JobId& id, std::chrono::milliseconds timeout = 10000ms) {
  auto done = lane.wait_terminal({id}, timeout * slowdown());
  EXPECT_TRUE(done.ok()) << (done.ok() ? "" : done.error());
  if (!done.ok() || !*done) {
    ADD_FAILURE() << "job " << id << " did not finish in time";
    auto info = lane.get(id);
    return info.ok() ? *info : JobInfo{};
  }
  return **done;
}

// Waits for the job's leader to be running and returns its info.
inline JobInfo wait_running(Lane& lane, const JobId& id) {
  JobInfo info;
  eventually([&] {
    auto got = lane.get(id);
    if (got.ok()) info = *got;
    return got.ok() && info.status != JobStatus::queued;
  });
  return info;
}

// Collects notes until `pred` says enough or the timeout passes.
inline std::vector<Note> collect_notes(Lane& lane,
                                       const std::function<bool(const std::vector<Note>&)>& pred,
                                       std::chrono::milliseconds timeout = 10000ms) {
  std::vector<Note> notes;
  const auto deadline = std::chrono::steady_clock::now() + timeout * slowdown();
  while (!pred(notes)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) break;
    for (auto& note : lane.wait(left)) notes.push_back(std::move(note));
  }
  return notes;
}

// Runs SQL on a connection of its own, as another process (an older meanwhile, a hostile
// repository) would on the store's file.
inline void exec_sql(const std::string& db, const std::string& sql) {
  sqlite3* conn = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &conn), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(conn, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
      << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(conn);
}

}  // namespace meanwhile::testing
