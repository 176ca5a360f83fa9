// stamp [monotonic|realtime|both]: prints the clock's time in nanoseconds ("both": monotonic,
// a space, realtime) as its very last act and exits at once. Benchmarks `exec` it as a job's
// last command, so the printed time is the job's exit time to within the kernel's teardown.
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace {

long long ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<long long>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "monotonic";
  char text[64];
  int length = 0;
  if (std::strcmp(mode, "monotonic") == 0) {
    length = std::snprintf(text, sizeof text, "%lld\n", ns(CLOCK_MONOTONIC));
  } else if (std::strcmp(mode, "realtime") == 0) {
    length = std::snprintf(text, sizeof text, "%lld\n", ns(CLOCK_REALTIME));
  } else if (std::strcmp(mode, "both") == 0) {
    long long mono = ns(CLOCK_MONOTONIC);
    length = std::snprintf(text, sizeof text, "%lld %lld\n", mono, ns(CLOCK_REALTIME));
  } else {
    std::fputs("usage: stamp [monotonic|realtime|both]\n", stderr);
    return 2;
  }
  if (write(STDOUT_FILENO, text, length) != length) _exit(1);
  _exit(0);
}
