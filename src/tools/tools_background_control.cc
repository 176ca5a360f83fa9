// background_kill and background_input: acting on a running job.
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "tools/format.h"
#include "tools/tools_internal.h"

namespace meanwhile {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr milliseconds kSlice{100};

std::string pid_list(const std::vector<int>& pids) {
  std::string list;
  for (std::size_t i = 0; i < pids.size() && i < 20; ++i)
    list += (i ? ", " : "") + std::to_string(pids[i]);
  if (pids.size() > 20) list += ", …";
  return list;
}

// --- background_kill ---

ToolResult background_kill(const json& args, ToolContext& ctx) {
  const JobId id = task_id_arg(args);
  auto before = ctx.lane.get(id);
  if (!before) return error_result(unknown_task_message(id, before.error_info()));
  const JobInfo job = *before;
  json structured{{"task_id", id}, {"status_before", to_string(job.status)}};

  if (is_terminal(job.status) && job.descendants.empty()) {
    structured["signalled"] = false;
    structured["status"] = to_string(job.status);
    return ToolResult{fmt::format("{} had already ended ({}); nothing is left to kill{}",
                                  job_title(job), describe_outcome(job),
                                  job.tracking_incomplete
                                      ? " that could be traced to it (some of its processes "
                                        "could not be told apart from another job's without a "
                                        "cgroup)"
                                      : ""),
                      std::move(structured), false};
  }
  if (auto killed = ctx.lane.kill(id); !killed)
    return error_result(fmt::format("task {}: could not kill it: {}", id, killed.error()));
  structured["signalled"] = true;

  // The lane kills on its own thread; wait for the end (SIGKILL comes after its grace period)
  // so the result can say how the job ended.
  std::optional<JobInfo> ended;
  if (!is_terminal(job.status)) {
    auto deadline =
        std::chrono::steady_clock::now() + ctx.lane.options().kill_grace + milliseconds(1000);
    while (!ended && std::chrono::steady_clock::now() < deadline && !cancel_requested(ctx)) {
      auto done = ctx.lane.wait_terminal({id}, kSlice);
      if (!done) break;
      if (*done) ended = **done;
    }
    // The leader ends first; the rest of its group is still exiting for a moment. Wait for
    // that too, so "killed" means gone (and a second kill finds nothing left). get() is what
    // looks the descendants up.
    if (ended)
      if (auto fresh = ctx.lane.get(id); fresh) ended = *fresh;
    while (ended && !ended->descendants.empty() && std::chrono::steady_clock::now() < deadline &&
           !cancel_requested(ctx)) {
      std::this_thread::sleep_for(milliseconds(10));
      if (auto fresh = ctx.lane.get(id); fresh) ended = *fresh;
    }
  }

  std::string text;
  if (job.status == JobStatus::queued) {
    text = fmt::format("{} was queued; it is now cancelled and will not start", job_title(job));
  } else if (is_terminal(job.status)) {
    text = fmt::format(
        "{} had already ended ({}); sent SIGTERM to the {} process{} it left running (pids {}), "
        "SIGKILL follows for any that do not exit",
        job_title(job), describe_outcome(job), job.descendants.size(),
        job.descendants.size() == 1 ? "" : "es", pid_list(job.descendants));
  } else {
    text = fmt::format("sent SIGTERM to {} (process group of pid {}", job_title(job), job.pid);
    if (!job.descendants.empty())
      text += fmt::format(" and {} other process{} it started", job.descendants.size(),
                          job.descendants.size() == 1 ? "" : "es");
    text += ")";
    if (ended) text += fmt::format("; it {}", describe_outcome(*ended));
    if (ended && !ended->descendants.empty())
      text += fmt::format(" ({} of its processes still exiting: {})", ended->descendants.size(),
                          pid_list(ended->descendants));
    else
      text +=
          "; it is still shutting down (SIGKILL follows after the grace period); you will be "
          "notified when it ends";
  }
  auto after = ctx.lane.get(id);
  structured["status"] = after ? to_string(after->status) : to_string(job.status);
  structured["descendants_signalled"] = job.descendants.size();
  return ToolResult{std::move(text), std::move(structured), false};
}

// --- background_input ---

ToolResult background_input(const json& args, ToolContext& ctx) {
  const JobId id = task_id_arg(args);
  const std::string text = string_arg(args, "text");
  const bool close = args.value("close", false);
  auto job = ctx.lane.get(id);
  if (!job) return error_result(unknown_task_message(id, job.error_info()));
  if (job->spec.stdin_mode != StdinMode::pipe)
    return error_result(fmt::format(
        "{} was not started with stdin \"pipe\", so it cannot take input (its stdin is empty). "
        "Start it again with background_run and stdin: \"pipe\"",
        job_title(*job)));
  if (auto written = ctx.lane.write_input(id, text, close); !written)
    return error_result(
        fmt::format("task {}: could not write to its stdin: {}", id, written.error()));
  std::string message = fmt::format("wrote {} byte{} to the stdin of task {}", text.size(),
                                    text.size() == 1 ? "" : "s", id);
  if (close) message += " and closed it (the program now reads end-of-file)";
  message += fmt::format(". Read its reaction with background_output {{\"task_id\":\"{}\"}}.", id);
  json structured{{"task_id", id}, {"bytes_written", text.size()}, {"closed", close}};
  return ToolResult{std::move(message), std::move(structured), false};
}

}  // namespace

ToolDef background_kill_tool() {
  ToolDef def;
  def.name = "background_kill";
  def.description =
      "Stop a background job: SIGTERM to every process it started (its whole process group and "
      "descendants, including ones that detached), then SIGKILL after a short grace period. A "
      "queued job is cancelled before it starts. On a job that already ended, it ends the "
      "processes the job left running (e.g. a server started with `&`). Always use this instead "
      "of kill, pkill or killall: it touches only the job's own processes. Returns what was "
      "signalled and the job's final status.";
  def.input_schema = {{"type", "object"},
                      {"properties", {{"task_id", task_id_schema("The job to stop.")}}},
                      {"required", {"task_id"}},
                      {"additionalProperties", false}};
  def.output_schema = {{"type", "object"},
                       {"properties",
                        {{"task_id", {{"type", "string"}}},
                         {"status_before", {{"type", "string"}}},
                         {"status", {{"type", "string"}}},
                         {"signalled", {{"type", "boolean"}}},
                         {"descendants_signalled", {{"type", "integer"}}}}},
                       {"required", {"task_id", "status", "signalled"}}};
  def.annotations = annotations("Kill background job", false, true, true);
  def.background = true;
  def.run = background_kill;
  return def;
}

ToolDef background_input_tool() {
  ToolDef def;
  def.name = "background_input";
  def.description =
      "Write `text` to the stdin of a background job started with stdin: \"pipe\", e.g. to "
      "answer a prompt or feed a REPL. The text is sent exactly as given: end a line with "
      "\\n. Set `close` to true to close stdin afterwards (the program then reads end-of-file, "
      "as `cat` or `sort` need to finish). Read the job's reaction with background_output.";
  def.input_schema = {
      {"type", "object"},
      {"properties",
       {{"task_id", task_id_schema("The job to write to.")},
        {"text", {{"type", "string"}, {"description", "Bytes to write (may be empty)."}}},
        {"close",
         {{"type", "boolean"}, {"description", "Close stdin after writing (default false)."}}}}},
      {"required", {"task_id", "text"}},
      {"additionalProperties", false}};
  def.output_schema = {{"type", "object"},
                       {"properties",
                        {{"task_id", {{"type", "string"}}},
                         {"bytes_written", {{"type", "integer"}}},
                         {"closed", {{"type", "boolean"}}}}},
                       {"required", {"task_id", "bytes_written", "closed"}}};
  def.annotations = annotations("Send input to background job", false, false, false);
  def.background = true;
  def.run = background_input;
  return def;
}

}  // namespace meanwhile
