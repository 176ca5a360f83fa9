// The lane through its public C++ API, one host process, one JSON line per scenario.
//
//   lane_bench roundtrip [N=1000]          submit `true`, wait for its finished note, N times
//   lane_bench burst [N=2000]              N x `true` at once until every finished note is in
//   lane_bench concurrent [N=1000] [SECS=2] N x `sleep SECS`: wall, peak threads, peak RSS
//   lane_bench bigout [BYTES=1e9]          one job printing BYTES: wall, peak RSS, bytes logged
//   lane_bench grandchild                  `sleep 20 & echo hi`: time until the finished note
//   lane_bench exitnote [N=200]            job exit (stamped by the job) -> note received
//   lane_bench lines [BYTES=2e8]           one job printing BYTES of 45-byte lines: wall (with
//                                          --watch REGEX: what the matcher costs)
//   lane_bench watchdog [N=20]             N lanes in turn, each running one `true`: lane open ->
//                                          first finished note, and the watchdog's RSS and PSS
// Options (after the scenario's numbers): --dir BASE (temp data dirs go under BASE; default
// $TMPDIR or /tmp), --no-cgroups, --no-watchdog, --watch REGEX (lines only), --max-slots N
// (default: unlimited, as the lane's default), --stamp PATH (default: `stamp` beside this binary).
// Run one scenario per process: peak RSS (VmHWM) is a per-process figure.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_util.h"
#include "meanwhile/lane.h"

namespace fs = std::filesystem;
using meanwhile::Lane;
using meanwhile::Note;
using meanwhile::NoteKind;
using Json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct Config {
  std::string scenario;
  std::vector<long long> numbers;
  std::string base_dir;
  std::string stamp_path;
  bool cgroups = true;
  bool watchdog = true;
  std::string watch;          // JobSpec::watch of the `lines` job
  std::size_t max_slots = 0;  // LaneOptions::max_slots (0: unlimited, the lane's default)
};

// A temp directory removed with everything in it when the scenario ends.
class TempDir {
 public:
  explicit TempDir(const std::string& base) {
    std::string pattern = base + "/lane_bench.XXXXXX";
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "lane_bench: %s\n", message.c_str());
  std::exit(1);
}

std::unique_ptr<Lane> open_lane(const Config& config, const TempDir& dir,
                                std::uint64_t log_cap_bytes = 1ull << 30) {
  if (dir.path().empty()) fail("cannot create a temp directory under " + config.base_dir);
  meanwhile::LaneOptions options;
  options.workspace = dir.path();
  options.data_dir = dir.path() + "/data";
  options.use_cgroups = config.cgroups;
  options.watchdog = config.watchdog;
  options.max_slots = config.max_slots;
  options.log_cap_bytes = log_cap_bytes;
  auto lane = Lane::open(options);
  if (!lane) fail("Lane::open: " + lane.error());
  return std::move(lane.value());
}

meanwhile::JobId submit(Lane& lane, const std::string& command, const std::string& watch = "") {
  meanwhile::JobSpec spec;
  spec.command = command;
  spec.watch = watch;
  auto id = lane.submit(spec);
  if (!id) fail("submit: " + id.error());
  return id.value();
}

// Waits for the finished note of `id`; fails the run after `timeout`.
Note wait_finished(Lane& lane, const meanwhile::JobId& id, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    for (Note& note : lane.wait(std::max(left, 1ms), {id})) {
      if (note.kind == NoteKind::finished) return std::move(note);
    }
  }
  fail("no finished note for job " + id + " within " + std::to_string(timeout.count()) + " ms");
}

Json base_figures(const Config& config) {
  return Json{{"scenario", config.scenario},
              {"cgroups", config.cgroups},
              {"watchdog", config.watchdog},
              {"max_slots", config.max_slots}};
}

void print(const Json& figures) {
  std::printf("%s\n", figures.dump().c_str());
}

int roundtrip(const Config& config, long long n) {
  TempDir dir(config.base_dir);
  auto lane = open_lane(config, dir);
  for (int i = 0; i < 20; ++i) wait_finished(*lane, submit(*lane, "true"), 10s);  // warm-up
  std::vector<double> latency_us, submit_us;
  long long failed = 0;
  for (long long i = 0; i < n; ++i) {
    auto start = bench::now_ns();
    auto id = submit(*lane, "true");
    submit_us.push_back((bench::now_ns() - start) / 1e3);
    Note note = wait_finished(*lane, id, 10s);
    latency_us.push_back((bench::now_ns() - start) / 1e3);
    if (!note.info.succeeded()) ++failed;
  }
  Json figures = base_figures(config);
  figures.update({{"n", n},
                  {"p50_us", bench::percentile(latency_us, 50)},
                  {"p99_us", bench::percentile(latency_us, 99)},
                  {"mean_us", bench::mean(latency_us)},
                  {"submit_p50_us", bench::percentile(submit_us, 50)},
                  {"submit_p99_us", bench::percentile(submit_us, 99)},
                  {"failed", failed}});
  print(figures);
  return failed == 0 ? 0 : 1;
}

// Drains notes until `expected` finished notes are in, sampling threads and RSS every <=20 ms.
struct Collected {
  long long finished = 0;
  long long succeeded = 0;
  int peak_threads = 0;
  double wall_s = 0;
};

Collected collect(Lane& lane, long long expected, std::int64_t start_ns,
                  std::chrono::seconds timeout) {
  Collected got;
  got.peak_threads = bench::thread_count();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (got.finished < expected && std::chrono::steady_clock::now() < deadline) {
    for (const Note& note : lane.wait(20ms)) {
      if (note.kind != NoteKind::finished) continue;
      ++got.finished;
      if (note.info.succeeded()) ++got.succeeded;
    }
    got.peak_threads = std::max(got.peak_threads, bench::thread_count());
  }
  got.wall_s = bench::seconds_since(start_ns);
  return got;
}

int burst(const Config& config, long long n) {
  TempDir dir(config.base_dir);
  auto lane = open_lane(config, dir);
  for (int i = 0; i < 20; ++i) wait_finished(*lane, submit(*lane, "true"), 10s);  // warm-up
  auto start = bench::now_ns();
  for (long long i = 0; i < n; ++i) submit(*lane, "true");
  double submit_s = bench::seconds_since(start);
  Collected got = collect(*lane, n, start, 300s);
  Json figures = base_figures(config);
  figures.update({{"n", n},
                  {"notes", got.finished},
                  {"succeeded", got.succeeded},
                  {"submit_all_s", submit_s},
                  {"wall_s", got.wall_s},
                  {"jobs_per_s", got.finished / got.wall_s},
                  {"peak_threads", got.peak_threads}});
  print(figures);
  return got.finished == n ? 0 : 1;
}

int concurrent(const Config& config, long long n, long long secs) {
  TempDir dir(config.base_dir);
  auto lane = open_lane(config, dir);
  std::string command = "sleep " + std::to_string(secs);
  auto start = bench::now_ns();
  for (long long i = 0; i < n; ++i) submit(*lane, command);
  double submit_s = bench::seconds_since(start);
  Collected got = collect(*lane, n, start, std::chrono::seconds(secs + 120));
  Json figures = base_figures(config);
  figures.update({{"n", n},
                  {"secs", secs},
                  {"notes", got.finished},
                  {"succeeded", got.succeeded},
                  {"submit_all_s", submit_s},
                  {"wall_s", got.wall_s},
                  {"peak_threads", got.peak_threads},
                  {"peak_rss_mib", bench::proc_status_kib("VmHWM") / 1024.0}});
  print(figures);
  return got.succeeded == n ? 0 : 1;
}

int bigout(const Config& config, long long bytes) {
  TempDir dir(config.base_dir);
  // The cap must exceed the output so that all of it is written, as in the raw run.
  auto lane = open_lane(config, dir, std::max<std::uint64_t>(2ull << 30, 2ull * bytes));
  double rss_before = bench::proc_status_kib("VmHWM") / 1024.0;
  auto start = bench::now_ns();
  auto id = submit(*lane, "head -c " + std::to_string(bytes) + " /dev/zero | tr '\\0' x");
  Note note = wait_finished(*lane, id, 600s);
  double wall = bench::seconds_since(start);
  auto info = lane->get(id);
  Json figures = base_figures(config);
  figures.update({{"bytes", bytes},
                  {"wall_s", wall},
                  {"status", meanwhile::to_string(note.info.status)},
                  {"bytes_logged_at_note", note.info.bytes_logged},
                  {"bytes_logged", info ? info->bytes_logged : 0},
                  {"bytes_dropped", info ? info->bytes_dropped : 0},
                  {"peak_rss_before_mib", rss_before},
                  {"peak_rss_mib", bench::proc_status_kib("VmHWM") / 1024.0}});
  print(figures);
  return info && info->bytes_logged == static_cast<std::uint64_t>(bytes) ? 0 : 1;
}

int grandchild(const Config& config) {
  TempDir dir(config.base_dir);
  auto lane = open_lane(config, dir);
  auto start = bench::now_ns();
  auto id = submit(*lane, "sleep 20 & echo hi");
  Note note = wait_finished(*lane, id, 60s);
  double ms = (bench::now_ns() - start) / 1e6;
  auto killed = lane->kill(id);  // ends the leftover `sleep 20`
  Json figures = base_figures(config);
  figures.update({{"done_after_ms", ms},
                  {"status", meanwhile::to_string(note.info.status)},
                  {"exit_code", note.info.exit_code.value_or(-1)},
                  {"descendants_at_note", note.info.descendants.size()},
                  {"preview_has_hi", note.preview.find("hi") != std::string::npos},
                  {"leftover_killed", killed.ok()}});
  print(figures);
  return note.info.succeeded() ? 0 : 1;
}

// The first two integers of the stamp's output (monotonic ns, realtime ns), from the note's
// preview or, failing that, from the log.
std::optional<std::pair<long long, long long>> read_stamp(Lane& lane, const Note& note) {
  std::string text = note.preview;
  if (text.find_first_of("0123456789") == std::string::npos) {
    meanwhile::ReadRequest request;
    request.id = note.job;
    request.mode = meanwhile::ReadMode::all;
    if (auto chunk = lane.read_output(request)) text = chunk->text;
  }
  long long mono = 0, real = 0;
  auto digits = text.find_first_of("0123456789");
  if (digits == std::string::npos ||
      std::sscanf(text.c_str() + digits, "%lld %lld", &mono, &real) != 2) {
    return std::nullopt;
  }
  return std::pair{mono, real};
}

int exitnote(const Config& config, long long n) {
  if (access(config.stamp_path.c_str(), X_OK) != 0) fail("no stamp binary at " + config.stamp_path);
  TempDir dir(config.base_dir);
  auto lane = open_lane(config, dir);
  std::string command = "exec '" + config.stamp_path + "' both";
  for (int i = 0; i < 10; ++i) wait_finished(*lane, submit(*lane, command), 10s);  // warm-up
  std::vector<double> to_note_us, to_end_us;
  for (long long i = 0; i < n; ++i) {
    auto id = submit(*lane, command);
    Note note = wait_finished(*lane, id, 10s);
    auto received = bench::now_ns();
    auto stamp = read_stamp(*lane, note);
    if (!stamp) fail("job " + id + " left no stamp in its output: '" + note.preview + "'");
    to_note_us.push_back((received - stamp->first) / 1e3);
    if (note.info.ended_at) {  // the lane's own record of the exit, on the wall clock
      auto ended = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       note.info.ended_at->time_since_epoch())
                       .count();
      to_end_us.push_back((ended - stamp->second) / 1e3);
    }
  }
  Json figures = base_figures(config);
  figures.update({{"n", n},
                  {"p50_us", bench::percentile(to_note_us, 50)},
                  {"p99_us", bench::percentile(to_note_us, 99)},
                  {"mean_us", bench::mean(to_note_us)},
                  {"stamp_to_ended_at_p50_us", bench::percentile(to_end_us, 50)},
                  {"stamp_to_ended_at_p99_us", bench::percentile(to_end_us, 99)}});
  print(figures);
  return 0;
}

int lines(const Config& config, long long bytes) {
  TempDir dir(config.base_dir);
  auto lane = open_lane(config, dir, std::max<std::uint64_t>(2ull << 30, 2ull * bytes));
  auto start = bench::now_ns();
  auto id = submit(
      *lane, "yes 'src/lane/test_case.cc:42: 1234 tests passed' | head -c " + std::to_string(bytes),
      config.watch);
  Note note = wait_finished(*lane, id, 600s);
  double wall = bench::seconds_since(start);
  auto info = lane->get(id);
  Json figures = base_figures(config);
  figures.update({{"bytes", bytes},
                  {"watch", config.watch},
                  {"wall_s", wall},
                  {"lines", info ? info->lines : 0},
                  {"mb_per_s", bytes / 1e6 / wall},
                  {"status", meanwhile::to_string(note.info.status)}});
  print(figures);
  return 0;
}

// The watchdog child of this process once it has loaded (it names itself), or 0.
pid_t loaded_watchdog() {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] < '0' || name[0] > '9') continue;
    if (bench::read_text("/proc/" + name + "/comm") != "mw-watchdog\n") continue;
    const std::string stat = bench::read_text("/proc/" + name + "/stat");
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    if (std::atoi(stat.c_str() + close + 4) == ::getpid()) return std::atoi(name.c_str());
  }
  return 0;
}

// A "Key:   123 kB" figure from a /proc status-like file, in kB (-1 when absent).
long long kb_field(const std::string& text, const std::string& key) {
  const auto at = text.find(key + ":");
  return at == std::string::npos ? -1 : std::atoll(text.c_str() + at + key.size() + 1);
}

// What the watchdog costs: a lane's first job (which starts it) and its memory.
int watchdog(const Config& config, long long n) {
  std::vector<double> first_us;
  long long rss_kb = -1, pss_kb = -1;
  for (long long i = 0; i < n; ++i) {
    TempDir dir(config.base_dir);
    const auto start = bench::now_ns();
    auto lane = open_lane(config, dir);
    wait_finished(*lane, submit(*lane, "true"), 10s);
    first_us.push_back((bench::now_ns() - start) / 1e3);
    if (i == 0 && config.watchdog) {
      pid_t pid = 0;
      for (int tries = 0; tries < 200 && (pid = loaded_watchdog()) == 0; ++tries) {
        std::this_thread::sleep_for(5ms);
      }
      if (pid == 0) fail("no watchdog process found");
      rss_kb = kb_field(bench::read_text("/proc/" + std::to_string(pid) + "/status"), "VmRSS");
      pss_kb = kb_field(bench::read_text("/proc/" + std::to_string(pid) + "/smaps_rollup"), "Pss");
    }
  }
  Json figures = base_figures(config);
  figures.update({{"n", n},
                  {"open_to_first_note_p50_us", bench::percentile(first_us, 50)},
                  {"open_to_first_note_p99_us", bench::percentile(first_us, 99)},
                  {"watchdog_rss_kb", rss_kb},
                  {"watchdog_pss_kb", pss_kb}});
  print(figures);
  return 0;
}

int usage() {
  std::fputs(
      "usage: lane_bench roundtrip [N] | burst [N] | concurrent [N] [SECS] | bigout [BYTES] |\n"
      "                  grandchild | exitnote [N] | lines [BYTES] | watchdog [N]\n"
      "       options: --dir BASE, --no-cgroups, --no-watchdog, --watch REGEX, --max-slots N,\n"
      "                --stamp PATH\n",
      stderr);
  return 2;
}

std::optional<Config> parse(int argc, char** argv) {
  if (argc < 2) return std::nullopt;
  Config config;
  config.scenario = argv[1];
  const char* tmp = std::getenv("TMPDIR");
  config.base_dir = tmp && *tmp ? tmp : "/tmp";
  std::error_code ec;
  config.stamp_path = (fs::read_symlink("/proc/self/exe", ec).parent_path() / "stamp").string();
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--no-cgroups") {
      config.cgroups = false;
    } else if (arg == "--no-watchdog") {
      config.watchdog = false;
    } else if (arg == "--watch" && i + 1 < argc) {
      config.watch = argv[++i];
    } else if (arg == "--max-slots" && i + 1 < argc) {
      long long slots = bench::parse_count(argc, argv, ++i, 0);
      if (slots <= 0) return std::nullopt;
      config.max_slots = static_cast<std::size_t>(slots);
    } else if ((arg == "--dir" || arg == "--stamp") && i + 1 < argc) {
      (arg == "--dir" ? config.base_dir : config.stamp_path) = argv[++i];
    } else {
      long long value = bench::parse_count(argc, argv, i, 0);
      if (value <= 0) return std::nullopt;
      config.numbers.push_back(value);
    }
  }
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  auto config = parse(argc, argv);
  if (!config) return usage();
  auto number = [&](std::size_t index, long long fallback) {
    return index < config->numbers.size() ? config->numbers[index] : fallback;
  };
  const std::string& s = config->scenario;
  if (s == "roundtrip") return roundtrip(*config, number(0, 1000));
  if (s == "burst") return burst(*config, number(0, 2000));
  if (s == "concurrent") return concurrent(*config, number(0, 1000), number(1, 2));
  if (s == "bigout") return bigout(*config, number(0, 1'000'000'000));
  if (s == "grandchild") return grandchild(*config);
  if (s == "exitnote") return exitnote(*config, number(0, 200));
  if (s == "lines") return lines(*config, number(0, 200'000'000));
  if (s == "watchdog") return watchdog(*config, number(0, 20));
  return usage();
}
