// Small helpers shared by the benchmark programs: clocks, percentiles, /proc readings.
// Header-only and free of project dependencies so raw_spawn stays a plain posix program.
#pragma once

#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace bench {

inline std::int64_t now_ns(clockid_t clock = CLOCK_MONOTONIC) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

inline double seconds_since(std::int64_t start_ns) {
  return (now_ns() - start_ns) / 1e9;
}

// Nearest-rank percentile (p in [0, 100]) of an unsorted sample; 0 when empty.
inline double percentile(std::vector<double> sample, double p) {
  if (sample.empty()) return 0;
  std::sort(sample.begin(), sample.end());
  std::size_t rank = static_cast<std::size_t>(p / 100.0 * sample.size());
  return sample[std::min(rank, sample.size() - 1)];
}

inline double mean(const std::vector<double>& sample) {
  if (sample.empty()) return 0;
  double sum = 0;
  for (double v : sample) sum += v;
  return sum / sample.size();
}

// A "Key:   123 kB" field of /proc/self/status, in KiB; -1 if missing.
inline long proc_status_kib(const std::string& key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.compare(0, key.size() + 1, key + ":") == 0) {
      return std::strtol(line.c_str() + key.size() + 1, nullptr, 10);
    }
  }
  return -1;
}

// The whole of a small file ("" when it cannot be read).
inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Threads of this process right now.
inline int thread_count() {
  int count = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/task", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++count;
  }
  return count;
}

// Parses a positive integer argument; `fallback` when absent, -1 when malformed.
inline long long parse_count(int argc, char** argv, int index, long long fallback) {
  if (index >= argc) return fallback;
  char* end = nullptr;
  long long value = std::strtoll(argv[index], &end, 10);
  if (end == argv[index] || *end != '\0' || value <= 0) return -1;
  return value;
}

}  // namespace bench
