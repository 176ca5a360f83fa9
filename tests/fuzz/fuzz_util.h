// Shared by the fuzz targets: a check that crashes when an invariant breaks (so libFuzzer and
// the standalone driver both report the input), and chunkings of an input for the parsers that
// receive bytes in pieces.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace meanwhile::fuzz {

[[noreturn]] inline void check_failed(const char* condition, const std::string& detail,
                                      const char* file, int line) {
  std::fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n  %s\n", file, line, condition,
               detail.c_str());
  std::abort();
}

// FUZZ_CHECK(condition, detail): `detail` (a std::string expression) is only built on failure.
#define FUZZ_CHECK(condition, detail)                                                            \
  do {                                                                                           \
    if (!(condition)) ::meanwhile::fuzz::check_failed(#condition, (detail), __FILE__, __LINE__); \
  } while (0)

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A deterministic split of `input` into pieces of 0 to `max_chunk` bytes (empty pieces
// included), seeded by the input itself: every input has its own chunking and a crash
// reproduces from the file alone, while the seeds stay plain, real inputs (no control prefix).
inline std::vector<std::string_view> random_chunks(std::string_view input, std::size_t max_chunk) {
  std::uint64_t state = 1469598103934665603ull;  // FNV-1a of the input, then splitmix64
  for (char c : input) state = (state ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  auto next = [&state] {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  std::vector<std::string_view> chunks;
  while (!input.empty()) {
    // Mostly short pieces (so boundaries fall inside fields, CRLFs and UTF-8 characters), some
    // long ones.
    std::size_t n = next() % (1 + (std::size_t{1} << (next() % 11)));
    if (n > max_chunk) n = max_chunk;
    if (n > input.size()) n = input.size();
    chunks.push_back(input.substr(0, n));
    input.remove_prefix(n);
  }
  return chunks;
}

// `input` in pieces of exactly `size` bytes (the last one shorter).
inline std::vector<std::string_view> fixed_chunks(std::string_view input, std::size_t size) {
  std::vector<std::string_view> chunks;
  for (; !input.empty(); input.remove_prefix(std::min(size, input.size())))
    chunks.push_back(input.substr(0, size));
  return chunks;
}

}  // namespace meanwhile::fuzz
