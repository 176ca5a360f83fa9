// Slurm jobs through the lane against Slurm's own tools, on a running cluster (SLURM_CONF; run
// by bench/run_bench.py on tests/support/slurm_cluster.sh's single node). One JSON line:
//
//   slurm_bench [N=5] [TASKS=100] --stamp PATH --dir BASE
//
// - N single jobs, one after another, each `exec stamp realtime > FILE` (the job's last act):
//   through the lane (executor slurm), submit -> running and the job's end (the stamp) -> its
//   finished note; with `sbatch --wait` of the same job, the job's end -> sbatch returning.
// - one array of TASKS tasks (`shards`) through the lane, submit -> finished note, against
//   TASKS plain `sbatch` calls and waiting (squeue, every 100 ms) until none is left.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_util.h"
#include "lane/run_program.h"
#include "lane/slurm_tools.h"
#include "meanwhile/lane.h"

namespace fs = std::filesystem;
using namespace meanwhile;
using namespace std::chrono_literals;
using Json = nlohmann::json;

namespace {

double median(std::vector<double> sample) {
  return bench::percentile(std::move(sample), 50);
}

std::int64_t read_stamp(const std::string& path) {
  try {
    return std::stoll(bench::read_text(path));
  } catch (...) {
    return 0;
  }
}

bool all_ended(const std::vector<std::string>& ids) {
  auto tasks = SlurmTools().query(ids);
  if (!tasks) return false;
  for (const SlurmTask& task : *tasks)
    if (!slurm_state_final(task.state) || task.tasks_pending) return false;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const long long n = bench::parse_count(argc, argv, 1, 5);
  const long long tasks = bench::parse_count(argc, argv, 2, 100);
  std::string stamp, base = fs::temp_directory_path().string();
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--stamp") stamp = argv[i + 1];
    if (std::string(argv[i]) == "--dir") base = argv[i + 1];
  }
  if (stamp.empty() || std::getenv("SLURM_CONF") == nullptr) {
    std::fprintf(stderr, "usage: slurm_bench [N] [TASKS] --stamp PATH [--dir BASE] (SLURM_CONF)\n");
    return 2;
  }
  std::string dir = base + "/slurm_bench.XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) return 1;
  ::chmod(dir.c_str(), 0755);

  LaneOptions options;
  options.workspace = dir;
  options.data_dir = dir + "/data";
  auto opened = Lane::open(options);
  if (!opened) {
    std::fprintf(stderr, "slurm_bench: %s\n", opened.error().c_str());
    return 1;
  }
  Lane& lane = **opened;
  Json out{{"scenario", "slurm"}, {"n", n}, {"tasks", tasks}};
  std::vector<double> to_running, end_to_note, end_to_sbatch;
  for (long long i = 0; i < n; ++i) {
    JobSpec spec;
    spec.executor = ExecutorKind::slurm;
    const std::string lane_stamp = dir + "/lane." + std::to_string(i);
    spec.command = "exec " + stamp + " realtime > " + lane_stamp;
    const auto t0 = bench::now_ns();
    auto id = lane.submit(spec);
    if (!id) {
      out["error"] = id.error();
      break;
    }
    for (;;) {  // woken by the lane: no polling here
      auto info = lane.wait_started(*id, 60s);
      if (!info || info->status != JobStatus::queued) break;
    }
    to_running.push_back((bench::now_ns() - t0) / 1e6);
    auto notes = lane.wait(120s, {*id});
    const auto noted = bench::now_ns(CLOCK_REALTIME);
    if (notes.empty()) {
      out["error"] = "no note within 120 s";
      break;
    }
    end_to_note.push_back((noted - read_stamp(lane_stamp)) / 1e6);

    const std::string sbatch_stamp = dir + "/sbatch." + std::to_string(i);
    auto waited =
        run_program({"sbatch", "--wait", "--parsable", "--output=/dev/null", "--chdir=" + dir,
                     "--wrap", "exec " + stamp + " realtime > " + sbatch_stamp},
                    {}, 120s);
    const auto returned = bench::now_ns(CLOCK_REALTIME);
    if (!waited || waited->exit_code != 0) {
      out["error"] = "sbatch --wait failed: " + (waited ? waited->err : waited.error());
      break;
    }
    end_to_sbatch.push_back((returned - read_stamp(sbatch_stamp)) / 1e6);
  }
  out["submit_to_running_ms"] = median(to_running);
  out["end_to_note_ms"] = median(end_to_note);
  out["end_to_sbatch_wait_ms"] = median(end_to_sbatch);
  out["end_to_note_max_ms"] =
      end_to_note.empty() ? 0 : *std::max_element(end_to_note.begin(), end_to_note.end());

  // One array through the lane against as many plain sbatch calls.
  {
    JobSpec spec;
    spec.executor = ExecutorKind::slurm;
    spec.command = "true";
    spec.shards = static_cast<int>(tasks);
    const auto t0 = bench::now_ns();
    auto id = lane.submit(spec);
    if (id) {
      auto notes = lane.wait(600s, {*id});
      out["array_lane_s"] = (bench::now_ns() - t0) / 1e9;
      if (auto info = lane.get(*id)) out["array_summary"] = info->summary;
    }
    const auto t1 = bench::now_ns();
    std::vector<std::string> ids;
    for (long long i = 0; i < tasks; ++i) {
      auto id2 = run_program(
          {"sbatch", "--parsable", "--output=/dev/null", "--chdir=" + dir, "--wrap", "true"}, {},
          60s);
      if (!id2 || id2->exit_code != 0) continue;
      if (auto parsed = parse_sbatch_id(id2->out)) ids.push_back(*parsed);
    }
    out["sbatch_calls_s"] = (bench::now_ns() - t1) / 1e9;
    while (!all_ended(ids) && bench::seconds_since(t1) < 600) ::usleep(100000);
    out["sbatch_plain_s"] = (bench::now_ns() - t1) / 1e9;
  }
  std::printf("%s\n", out.dump().c_str());
  std::error_code ec;
  opened->reset();
  fs::remove_all(dir, ec);
  return 0;
}
