// The raw limit: what this machine can do with nothing but posix_spawn("/bin/sh", "-c", CMD)
// and waitpid. No event loop, no logs, no store: the floor every lane figure is compared to.
//
//   raw_spawn roundtrip [N=1000]           sequential `true`: p50/p99 of spawn+wait
//   raw_spawn burst [N=2000] [THREADS]     N x `true`, one spawner per core (spawn, wait, repeat)
//   raw_spawn concurrent [N=1000] [SECS=2] [THREADS]  N x `sleep SECS`: spawn all (one spawner
//                                          per core), then wait all
//   raw_spawn bigout [BYTES=1e9] [FILE]    `head -c BYTES /dev/zero | tr '\0' x > FILE`
// Each prints one JSON line.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"

extern char** environ;

namespace {

// Starts `/bin/sh -c command`; returns the pid, or -1 (with a message) on failure.
pid_t spawn_shell(const std::string& command) {
  const char* argv[] = {"sh", "-c", command.c_str(), nullptr};
  pid_t pid = -1;
  int err = posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ);
  if (err != 0) {
    std::fprintf(stderr, "raw_spawn: posix_spawn: %s\n", std::strerror(err));
    return -1;
  }
  return pid;
}

bool reap(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      std::perror("raw_spawn: waitpid");
      return false;
    }
  }
  return true;
}

int roundtrip(long long n) {
  for (int i = 0; i < 20; ++i) reap(spawn_shell("true"));  // warm the page cache and allocator
  std::vector<double> micros;
  micros.reserve(n);
  for (long long i = 0; i < n; ++i) {
    auto start = bench::now_ns();
    pid_t pid = spawn_shell("true");
    if (pid < 0 || !reap(pid)) return 1;
    micros.push_back((bench::now_ns() - start) / 1e3);
  }
  std::printf(
      "{\"scenario\":\"roundtrip\",\"n\":%lld,\"p50_us\":%.1f,\"p99_us\":%.1f,\"mean_us\":%.1f}\n",
      n, bench::percentile(micros, 50), bench::percentile(micros, 99), bench::mean(micros));
  return 0;
}

int burst(long long n, long long threads) {
  std::atomic<long long> next{0};
  std::atomic<long long> done{0};
  std::atomic<bool> failed{false};
  auto start = bench::now_ns();
  std::vector<std::thread> spawners;
  for (long long t = 0; t < threads; ++t) {
    spawners.emplace_back([&] {
      while (next.fetch_add(1) < n) {
        pid_t pid = spawn_shell("true");
        if (pid < 0 || !reap(pid)) {
          failed = true;
          return;
        }
        ++done;
      }
    });
  }
  for (auto& spawner : spawners) spawner.join();
  double wall = bench::seconds_since(start);
  if (failed) return 1;
  std::printf(
      "{\"scenario\":\"burst\",\"n\":%lld,\"threads\":%lld,\"wall_s\":%.3f,"
      "\"jobs_per_s\":%.0f}\n",
      done.load(), threads, wall, done.load() / wall);
  return 0;
}

int concurrent(long long n, long long secs, long long threads) {
  std::string command = "sleep " + std::to_string(secs);
  std::atomic<long long> next{0};
  std::vector<std::vector<pid_t>> pids(threads);
  auto start = bench::now_ns();
  std::vector<std::thread> spawners;
  for (long long t = 0; t < threads; ++t) {
    spawners.emplace_back([&, t] {
      while (next.fetch_add(1) < n) {
        pid_t pid = spawn_shell(command);
        if (pid < 0) return;
        pids[t].push_back(pid);
      }
    });
  }
  for (auto& spawner : spawners) spawner.join();
  double spawn_wall = bench::seconds_since(start);
  std::size_t started = 0;
  for (const auto& share : pids) {
    for (pid_t pid : share) started += reap(pid);
  }
  double wall = bench::seconds_since(start);
  std::printf(
      "{\"scenario\":\"concurrent\",\"n\":%lld,\"started\":%zu,\"secs\":%lld,"
      "\"threads\":%lld,\"spawn_all_s\":%.3f,\"wall_s\":%.3f}\n",
      n, started, secs, threads, spawn_wall, wall);
  return started == static_cast<std::size_t>(n) ? 0 : 1;
}

int bigout(long long bytes, std::string file) {
  if (file.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    file =
        std::string(tmp && *tmp ? tmp : "/tmp") + "/raw_spawn_bigout." + std::to_string(getpid());
  }
  std::string command =
      "head -c " + std::to_string(bytes) + " /dev/zero | tr '\\0' x > '" + file + "'";
  auto start = bench::now_ns();
  pid_t pid = spawn_shell(command);
  if (pid < 0 || !reap(pid)) return 1;
  double wall = bench::seconds_since(start);
  std::error_code ec;
  auto written = std::filesystem::file_size(file, ec);
  std::filesystem::remove(file, ec);
  std::printf("{\"scenario\":\"bigout\",\"bytes\":%lld,\"written\":%llu,\"wall_s\":%.3f}\n", bytes,
              static_cast<unsigned long long>(written), wall);
  return written == static_cast<std::uintmax_t>(bytes) ? 0 : 1;
}

int usage() {
  std::fputs(
      "usage: raw_spawn roundtrip [N] | burst [N] [THREADS] | concurrent [N] [SECS] [THREADS] |"
      " bigout [BYTES] [FILE]\n",
      stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  std::string mode = argv[1];
  long long cores = std::max(1u, std::thread::hardware_concurrency());
  if (mode == "roundtrip") {
    long long n = bench::parse_count(argc, argv, 2, 1000);
    return n < 0 ? usage() : roundtrip(n);
  }
  if (mode == "burst") {
    long long n = bench::parse_count(argc, argv, 2, 2000);
    long long threads = bench::parse_count(argc, argv, 3, cores);
    return n < 0 || threads < 0 ? usage() : burst(n, threads);
  }
  if (mode == "concurrent") {
    long long n = bench::parse_count(argc, argv, 2, 1000);
    long long secs = bench::parse_count(argc, argv, 3, 2);
    long long threads = bench::parse_count(argc, argv, 4, cores);
    return n < 0 || secs < 0 || threads < 0 ? usage() : concurrent(n, secs, threads);
  }
  if (mode == "bigout") {
    long long bytes = bench::parse_count(argc, argv, 2, 1'000'000'000);
    return bytes < 0 ? usage() : bigout(bytes, argc > 3 ? argv[3] : "");
  }
  return usage();
}
