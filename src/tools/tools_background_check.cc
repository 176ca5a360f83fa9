// check_background: every job at a glance (so ids survive context compaction), or one in detail.
#include <algorithm>

#include <fmt/format.h>

#include "tools/format.h"
#include "tools/tools_internal.h"

namespace meanwhile {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxFinishedListed = 30;  // the list shows the newest finished jobs only

std::string job_details(const JobInfo& job) {
  std::string text = job_title(job) + " " + describe_outcome(job) + "\n";
  if (job.exit_code) text += fmt::format("exit code: {}\n", *job.exit_code);
  if (job.term_signal)
    text += fmt::format("signal: {} ({})\n", *job.term_signal, signal_name(*job.term_signal));
  if (job.pid > 0) text += fmt::format("pid: {}\n", job.pid);
  if (job.spec.executor == ExecutorKind::slurm) {
    text += "slurm job: " +
            (job.slurm_job_id.empty() ? std::string("(not submitted yet)") : job.slurm_job_id);
    if (!job.spec.partition.empty()) text += ", partition " + job.spec.partition;
    if (job.spec.shards > 0) text += fmt::format(", {} shards", job.spec.shards);
    text += "\n";
    if (!job.summary.empty()) text += job.summary + "\n";
  }
  if (!job.descendants.empty()) {
    std::string pids;
    for (std::size_t i = 0; i < job.descendants.size() && i < 20; ++i)
      pids += (i ? ", " : "") + std::to_string(job.descendants[i]);
    if (job.descendants.size() > 20) pids += ", …";
    text += fmt::format("processes of the job still alive{}: {} (pids {})\n",
                        job.status == JobStatus::running ? " besides the leader" : "",
                        job.descendants.size(), pids);
  }
  text += fmt::format("output: {} logged, {} line{}", format_bytes(job.bytes_logged), job.lines,
                      job.lines == 1 ? "" : "s");
  if (job.bytes_dropped > 0)
    text += fmt::format(", {} dropped past the log cap", format_bytes(job.bytes_dropped));
  text += "\n";
  if (job.output_open && is_terminal(job.status))
    text += "a leftover process still holds its output open\n";
  if (job.stalled) text += "stalled: no output for a while\n";
  if (job.spec.stdin_mode == StdinMode::pipe) text += "stdin: pipe (background_input)\n";
  if (!job.last_line.empty()) text += "last line: " + one_line(job.last_line, 400) + "\n";
  if (!job.log_path.empty()) text += "log: " + job.log_path + "\n";
  if (!job.ours) text += "started by another or an earlier session\n";
  text.pop_back();
  return text;
}

int list_rank(const JobInfo& job) {
  if (job.status == JobStatus::running) return 0;
  if (job.status == JobStatus::queued) return 1;
  return 2;
}

ToolResult check_background(const json& args, ToolContext& ctx) {
  const JobId id = task_id_arg(args);
  if (!id.empty()) {
    auto job = ctx.lane.get(id);
    if (!job) return error_result(unknown_task_message(id, job.error_info()));
    return ToolResult{job_details(*job), json{{"job", job_to_json(*job)}}, false};
  }
  std::vector<JobInfo> jobs = ctx.lane.list();
  if (jobs.empty())
    return ToolResult{"no background jobs",
                      json{{"jobs", json::array()}, {"running", 0}, {"queued", 0}, {"finished", 0}},
                      false};
  // Running first (oldest first), then queued, then finished newest first.
  std::stable_sort(jobs.begin(), jobs.end(), [](const JobInfo& a, const JobInfo& b) {
    int ra = list_rank(a), rb = list_rank(b);
    if (ra != rb) return ra < rb;
    if (ra == 2) return a.submitted_at > b.submitted_at;
    return false;
  });
  std::size_t running = 0, queued = 0, finished = 0;
  for (const auto& job : jobs) {
    if (job.status == JobStatus::running)
      ++running;
    else if (job.status == JobStatus::queued)
      ++queued;
    else
      ++finished;
  }
  std::string text = fmt::format("{} job{}: {} running, {} queued, {} finished\n", jobs.size(),
                                 jobs.size() == 1 ? "" : "s", running, queued, finished);
  json listed = json::array();
  std::size_t shown_finished = 0;
  for (const auto& job : jobs) {
    if (is_terminal(job.status) && ++shown_finished > kMaxFinishedListed) break;
    text += format_job_line(job) + "\n";
    listed.push_back(job_to_json(job));
  }
  if (finished > kMaxFinishedListed)
    text += fmt::format("({} older finished jobs not shown)\n", finished - kMaxFinishedListed);
  text.pop_back();
  json structured{
      {"jobs", listed}, {"running", running}, {"queued", queued}, {"finished", finished}};
  return ToolResult{std::move(text), std::move(structured), false};
}

}  // namespace

ToolDef check_background_tool() {
  ToolDef check;
  check.name = "check_background";
  check.description =
      "List or inspect background jobs. Without task_id: every job, running first, one line "
      "each with id, command or label, status, elapsed time and last output line. Use it "
      "whenever you are unsure which jobs exist or have lost their ids (for example after the "
      "conversation was summarized) instead of ps, pgrep or pkill. With task_id: that job's "
      "status, elapsed time, exit code, pid, processes still alive, output size, last line and "
      "log path. Returns at once; to block until a job ends use background_wait.";
  check.input_schema = {
      {"type", "object"},
      {"properties", {{"task_id", task_id_schema("The job to inspect; omit to list every job.")}}},
      {"additionalProperties", false}};
  check.output_schema = {{"type", "object"},
                         {"properties",
                          {{"job", job_json_schema()},
                           {"jobs", {{"type", "array"}, {"items", job_json_schema()}}},
                           {"running", {{"type", "integer"}}},
                           {"queued", {{"type", "integer"}}},
                           {"finished", {{"type", "integer"}}}}}};
  check.annotations = annotations("Check background jobs", true, false, true);
  check.background = true;
  check.mcp_text_only = true;
  check.run = check_background;
  return check;
}

}  // namespace meanwhile
