// bash: a foreground command that runs through the lane. It is a lane job like any other, so a
// command that outlives its timeout simply stays in the background instead of being killed.
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "tools/format.h"
#include "tools/tools_internal.h"

namespace meanwhile {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr double kDefaultTimeoutSeconds = 120;
constexpr double kMaxTimeoutSeconds = 600;
constexpr milliseconds kSlice{100};  // how often cancellation is checked
constexpr std::size_t kMaxOutputBytes = 30000;
constexpr std::size_t kBackgroundedOutputBytes = 10000;

bool cancelled(const ToolContext& ctx) {
  return ctx.cancel != nullptr && ctx.cancel->load(std::memory_order_relaxed);
}

std::string read_output(Lane& lane, const JobId& id, ReadMode mode, std::size_t max_bytes,
                        std::string* log_path) {
  ReadRequest request;
  request.id = id;
  request.mode = mode;
  request.max_bytes = max_bytes;
  auto chunk = lane.read_output(request);
  if (!chunk) return "(output unavailable: " + chunk.error() + ")";
  if (log_path != nullptr && log_path->empty()) *log_path = chunk->log_path;
  return valid_utf8(chunk->text);
}

void ensure_newline(std::string& text) {
  if (!text.empty() && text.back() != '\n') text += '\n';
}

// "exit code 0 after 1.2s", "exit code 2 after 0.3s (the command failed)", ...
std::string outcome_line(const JobInfo& job) {
  std::string took = format_duration(job.elapsed_seconds());
  if (job.status == JobStatus::exited && job.term_signal)
    return fmt::format("killed by {} (signal {}) after {}", signal_name(*job.term_signal),
                       *job.term_signal, took);
  if (job.status == JobStatus::exited && job.exit_code)
    return *job.exit_code == 0
               ? fmt::format("exit code 0 after {}", took)
               : fmt::format("exit code {} after {} (the command failed)", *job.exit_code, took);
  if (job.status == JobStatus::killed)
    return "killed (by background_kill or shutdown) after " + took;
  return describe_outcome(job);
}

json result_json(const JobInfo& job, const std::string& output, bool backgrounded) {
  return json{{"task_id", job.id},
              {"status", to_string(job.status)},
              {"exit_code", job.exit_code ? json(*job.exit_code) : json(nullptr)},
              {"signal", job.term_signal ? json(*job.term_signal) : json(nullptr)},
              {"elapsed_seconds", std::round(job.elapsed_seconds() * 1000) / 1000},
              {"output", output},
              {"backgrounded", backgrounded},
              {"log_path", job.log_path}};
}

ToolResult finished_result(Lane& lane, const JobInfo& ended) {
  // A fresh record: the lane looks up leftover processes (`sleep 9 & echo hi`) on get().
  auto fresh = lane.get(ended.id);
  const JobInfo& job = fresh && is_terminal(fresh->status) ? *fresh : ended;
  if (job.status == JobStatus::failed_to_start)
    return error_result("the command could not be started: " + job.error,
                        result_json(job, "", false));
  std::string log_path = job.log_path;
  std::string output = read_output(lane, job.id, ReadMode::all, kMaxOutputBytes, &log_path);
  std::string text = outcome_line(job) + "\n";
  text += output.empty() ? "(no output)\n" : output;
  ensure_newline(text);
  if (!job.descendants.empty())
    text += fmt::format(
        "[{} process{} started by the command {} still running as part of task {}; "
        "background_kill {{\"task_id\":\"{}\"}} ends them]\n",
        job.descendants.size(), job.descendants.size() == 1 ? "" : "es",
        job.descendants.size() == 1 ? "is" : "are", job.id, job.id);
  text.pop_back();
  return ToolResult{std::move(text), result_json(job, output, false), false};
}

ToolResult backgrounded_result(Lane& lane, const JobInfo& job, double timeout_seconds) {
  // Read with the default cursor, so a later background_output (mode "new") continues here.
  std::string output =
      read_output(lane, job.id, ReadMode::since_last, kBackgroundedOutputBytes, nullptr);
  std::string text = fmt::format(
      "still running after {}: moved to the background as task {} (it was not killed).\n",
      format_duration(timeout_seconds), job.id);
  text += output.empty() ? "output so far: (none)\n" : "output so far:\n" + output;
  ensure_newline(text);
  text += fmt::format(
      "It keeps running; you will be notified in <background-results> when it finishes, so "
      "continue with other work. Follow it with background_output {{\"task_id\":\"{0}\"}}, "
      "wait for it with background_wait {{\"task_ids\":[\"{0}\"]}}, stop it with background_kill "
      "{{\"task_id\":\"{0}\"}}.",
      job.id);
  return ToolResult{std::move(text), result_json(job, output, true), false};
}

ToolResult interrupted_result(Lane& lane, const JobId& id) {
  (void)lane.kill(id);
  // Take the job's notes so the model is not told again about a command it already knows
  // was interrupted; give up after a moment if the process ignores SIGTERM.
  std::optional<JobInfo> last;
  auto deadline = Clock::now() + milliseconds(1000);
  while (Clock::now() < deadline) {
    for (auto& note : lane.wait(kSlice, {id}))
      if (note.kind == NoteKind::finished) last = note.info;
    if (last) break;
  }
  if (!last) {
    auto info = lane.get(id);
    if (info) last = *info;
  }
  std::string text = "interrupted: the command was stopped (task " + id + " killed)";
  json structured = last ? result_json(*last, "", false) : json{{"task_id", id}};
  return error_result(std::move(text), std::move(structured));
}

ToolResult run_bash(const json& args, ToolContext& ctx) {
  const std::string command = string_arg(args, "command");
  const double timeout_seconds = args.value("timeout", kDefaultTimeoutSeconds);
  auto cwd = job_cwd(string_arg(args, "cwd"), ctx);
  if (!cwd) return error_result(cwd.error());

  JobSpec spec;
  spec.command = command;
  spec.cwd = *cwd;
  spec.label = one_line(string_arg(args, "description"), 80);
  spec.stdin_mode = StdinMode::null;
  auto id = ctx.lane.submit(std::move(spec));
  if (!id) return error_result("the command could not be started: " + id.error());

  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(timeout_seconds));
  auto next_check = start + milliseconds(500);
  int reported_seconds = 0;
  while (true) {
    if (cancelled(ctx)) return interrupted_result(ctx.lane, *id);
    auto now = Clock::now();
    if (now >= deadline) {
      auto info = ctx.lane.get(*id);
      if (!info) return error_result("task " + *id + ": " + info.error());
      if (is_terminal(info->status)) return finished_result(ctx.lane, *info);
      return backgrounded_result(ctx.lane, *info, timeout_seconds);
    }
    auto slice = std::min<Clock::duration>(kSlice, deadline - now);
    for (auto& note :
         ctx.lane.wait(std::chrono::duration_cast<milliseconds>(slice) + milliseconds(1), {*id}))
      if (note.kind == NoteKind::finished) return finished_result(ctx.lane, note.info);
    now = Clock::now();
    if (now >= next_check) {
      // The finished note may have been taken by another reader of the lane (a host draining
      // concurrently): the job's record still tells.
      next_check = now + milliseconds(500);
      auto ended = ctx.lane.wait_terminal({*id}, milliseconds(0));
      if (ended && *ended) return finished_result(ctx.lane, **ended);
    }
    int seconds = static_cast<int>(std::chrono::duration<double>(now - start).count());
    if (ctx.progress && seconds > reported_seconds) {
      reported_seconds = seconds;
      ctx.progress(seconds, timeout_seconds,
                   fmt::format("running `{}` ({}s)", one_line(command, 60), seconds));
    }
  }
}

}  // namespace

ToolDef bash_tool() {
  ToolDef def;
  def.name = "bash";
  def.description =
      "Run a shell command (/bin/sh -c) in the workspace and return its exit code and output "
      "(stdout and stderr together; long output is cut in the middle and the full log path is "
      "given). Waits up to `timeout` seconds (default 120, max 600). A command still running at "
      "its timeout is NOT killed: it is moved to the background, the result gives its task_id, "
      "and its result arrives by itself in <background-results> when it finishes. For commands "
      "you know are slow (test suites, builds, installs, servers) use background_run instead and "
      "keep working. stdin is empty, so an interactive prompt gets end-of-file instead of "
      "hanging: pass flags like --yes. Do not append `&`. Prefer read_file, write_file and "
      "edit_file for files.";
  def.input_schema = {
      {"type", "object"},
      {"properties",
       {{"command",
         {{"type", "string"}, {"minLength", 1}, {"description", "The shell command to run."}}},
        {"timeout",
         {{"type", "number"},
          {"minimum", 1},
          {"maximum", static_cast<int>(kMaxTimeoutSeconds)},
          {"description",
           "Seconds to wait before moving the command to the background (default 120, max "
           "600). It is not killed then."}}},
        {"cwd",
         {{"type", "string"},
          {"description", "Working directory, relative to the workspace; default the workspace."}}},
        {"description",
         {{"type", "string"},
          {"maxLength", 200},
          {"description",
           "A few words on what the command does (e.g. \"run unit tests\"); shown to the user "
           "and used as the job's label."}}}}},
      {"required", {"command"}},
      {"additionalProperties", false}};
  def.output_schema = {{"type", "object"},
                       {"properties",
                        {{"task_id", {{"type", "string"}}},
                         {"status", {{"type", "string"}}},
                         {"exit_code", {{"type", json::array({"integer", "null"})}}},
                         {"signal", {{"type", json::array({"integer", "null"})}}},
                         {"elapsed_seconds", {{"type", "number"}}},
                         {"output", {{"type", "string"}}},
                         {"backgrounded",
                          {{"type", "boolean"},
                           {"description", "still running at the timeout: now a background job"}}},
                         {"log_path", {{"type", "string"}}}}},
                       {"required", {"task_id", "status", "exit_code", "output", "backgrounded"}}};
  def.annotations = annotations("Run shell command", false, true, false);
  def.run = run_bash;
  return def;
}

}  // namespace meanwhile
