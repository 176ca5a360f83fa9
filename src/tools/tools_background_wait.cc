// background_wait: blocks until a job the model cares about reports something, or a timeout.
// It takes those jobs' notes from the lane's queue and returns every one of them, so nothing it
// consumed is lost to the model.
#include <algorithm>
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

constexpr double kDefaultTimeoutSeconds = 60;
constexpr double kMaxTimeoutSeconds = 600;
constexpr milliseconds kSlice{100};  // how often cancellation is checked

std::vector<JobInfo> active_jobs(Lane& lane) {
  std::vector<JobInfo> active;
  for (auto& job : lane.list())
    if (job.ours && !is_terminal(job.status)) active.push_back(std::move(job));
  return active;
}

std::string id_list(const std::vector<JobId>& ids) {
  std::string list;
  for (const auto& id : ids) list += (list.empty() ? "" : ", ") + id;
  return list;
}

struct WaitOutcome {
  std::vector<Note> notes;
  std::vector<JobInfo> ended_unnoted;  // terminal jobs whose finished note someone else took
  bool timed_out = false;
  bool cancelled = false;
  double elapsed = 0;
};

ToolResult make_result(Lane& lane, const std::vector<JobId>& ids, const WaitOutcome& out) {
  std::string text;
  json events = json::array();
  for (const auto& note : out.notes) events.push_back(note_to_json(note));
  std::size_t count = out.notes.size() + out.ended_unnoted.size();
  if (out.cancelled)
    text = fmt::format("cancelled after {}", format_duration(out.elapsed));
  else if (count == 0)
    text = fmt::format("nothing finished within {}", format_duration(out.elapsed));
  else
    text = fmt::format("{} event{} after {}", count, count == 1 ? "" : "s",
                       format_duration(out.elapsed));
  text += count == 0 ? "\n" : ":\n";
  for (const auto& note : out.notes) text += "\n" + format_note(note) + "\n";
  for (const auto& job : out.ended_unnoted) text += "\n" + format_job_line(job) + "\n";

  // What is still going on, so the model can decide what to do next.
  std::vector<JobInfo> still;
  if (ids.empty()) {
    still = active_jobs(lane);
  } else {
    for (const auto& id : ids)
      if (auto job = lane.get(id); job && !is_terminal(job->status)) still.push_back(*job);
  }
  json running = json::array();
  if (!still.empty()) {
    text += count == 0 ? "still running (not killed; you will be notified when they finish):\n"
                       : "\nstill running:\n";
    for (const auto& job : still) {
      text += format_job_line(job) + "\n";
      running.push_back(job_to_json(job));
    }
  }
  while (!text.empty() && text.back() == '\n') text.pop_back();
  // Events that could not be kept (a host with a bound on pending notes, like the MCP server):
  // say so, so the model knows to look at the jobs themselves. Said for a wait on given jobs
  // too: the MCP server adds the other jobs' pending notes to this result.
  const std::uint64_t dropped = lane.dropped_notes();
  if (dropped > 0) {
    text += fmt::format(
        "\n\n({} older event{} {} dropped because too many were waiting; check_background "
        "shows every job's state)",
        dropped, dropped == 1 ? "" : "s", dropped == 1 ? "was" : "were");
  }
  json ended = json::array();
  for (const auto& job : out.ended_unnoted) ended.push_back(job_to_json(job));
  json structured{{"events", events},
                  {"ended", ended},
                  {"timed_out", out.timed_out},
                  {"cancelled", out.cancelled},
                  {"elapsed_seconds", std::round(out.elapsed * 1000) / 1000},
                  {"running", running}};
  if (dropped > 0) structured["dropped_events"] = dropped;
  ToolResult result{std::move(text), std::move(structured), out.cancelled};
  return result;
}

ToolResult background_wait(const json& args, ToolContext& ctx) {
  std::vector<JobId> ids;
  if (auto it = args.find("task_ids"); it != args.end())
    for (const auto& id : *it) ids.push_back(id.get<std::string>());
  const double timeout_seconds = args.value("timeout", kDefaultTimeoutSeconds);
  const auto start = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };

  WaitOutcome out;
  for (const auto& id : ids)
    if (auto job = ctx.lane.get(id); !job)
      return error_result(unknown_task_message(id, job.error_info()));
  if (ids.empty() && active_jobs(ctx.lane).empty() && ctx.lane.pending_notes() == 0)
    return ToolResult{"no background jobs are running; nothing to wait for",
                      json{{"events", json::array()},
                           {"ended", json::array()},
                           {"timed_out", false},
                           {"cancelled", false},
                           {"elapsed_seconds", 0},
                           {"running", json::array()}},
                      false};

  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(timeout_seconds));
  int reported_seconds = 0;
  const std::string waiting_for = ids.empty() ? "any job" : "task " + id_list(ids);
  while (true) {
    if (cancel_requested(ctx)) {
      out.cancelled = true;
      break;
    }
    auto now = Clock::now();
    if (!ids.empty()) {
      // A job that already ended answers at once (its finished note may have been shown
      // before); the check is in memory, cheap enough for every slice.
      auto ended = ctx.lane.wait_terminal(ids, milliseconds(0));
      if (!ended) return error_result(ended.error());
      if (*ended) {
        // Take the pending notes of these jobs too, so they are reported here and only here.
        out.notes = ctx.lane.wait(milliseconds(0), ids);
        const JobInfo& job = **ended;
        bool noted = std::any_of(out.notes.begin(), out.notes.end(), [&](const Note& n) {
          return n.job == job.id && n.kind == NoteKind::finished;
        });
        if (!noted) out.ended_unnoted.push_back(job);
        break;
      }
    }
    if (now >= deadline) {
      out.timed_out = true;
      break;
    }
    auto slice = std::chrono::duration_cast<milliseconds>(
        std::min<Clock::duration>(kSlice, deadline - now) + milliseconds(1));
    out.notes = ctx.lane.wait(slice, ids);
    if (!out.notes.empty()) break;
    int seconds = static_cast<int>(elapsed());
    if (ctx.progress && seconds > reported_seconds) {
      reported_seconds = seconds;
      ctx.progress(seconds, timeout_seconds,
                   fmt::format("waiting for {} ({}s)", waiting_for, seconds));
    }
  }
  out.elapsed = elapsed();
  return make_result(ctx.lane, ids, out);
}

}  // namespace

ToolDef background_wait_tool(Frontend frontend) {
  ToolDef def;
  def.name = "background_wait";
  def.description =
      "Block until one of the given background jobs (or, without task_ids, any job) finishes "
      "or reports something (a `watch` match, a stall), or until `timeout` seconds pass "
      "(default 60, max 600). Use it only when you have nothing else useful to do until a job "
      "is done; otherwise keep working, since results arrive by themselves " +
      std::string(frontend == Frontend::agent ? "in <background-results>. "
                                              : "with your next call of any meanwhile tool. ") +
      "Returns every event received (status, exit code, output preview, "
      "log path) and the jobs still running. Jobs are never killed by a timeout here. Returns at "
      "once if a given job has already ended, or if no job is running.";
  def.input_schema = {
      {"type", "object"},
      {"properties",
       {{"task_ids",
         {{"type", "array"},
          {"items", task_id_schema("A job to wait for.")},
          {"maxItems", 100},
          {"description", "Jobs to wait for (returns when the first one reports); default any."}}},
        {"timeout",
         {{"type", "number"},
          {"minimum", 0},
          {"maximum", static_cast<int>(kMaxTimeoutSeconds)},
          {"description", "Seconds to wait at most (default 60, max 600)."}}}}},
      {"additionalProperties", false}};
  def.output_schema = {
      {"type", "object"},
      {"properties",
       {{"events", {{"type", "array"}, {"items", note_json_schema()}}},
        {"ended",
         {{"type", "array"},
          {"items", job_json_schema()},
          {"description", "awaited jobs that had already ended (their note was shown before)"}}},
        {"timed_out", {{"type", "boolean"}}},
        {"cancelled", {{"type", "boolean"}}},
        {"elapsed_seconds", {{"type", "number"}}},
        {"dropped_events",
         {{"type", "integer"},
          {"description",
           "events dropped since the server started because too many were waiting"}}},
        {"running", {{"type", "array"}, {"items", job_json_schema()}}}}},
      {"required", {"events", "timed_out", "cancelled", "elapsed_seconds", "running"}}};
  def.annotations = annotations("Wait for background jobs", true, false, false);
  def.background = true;
  def.mcp_text_only = true;
  def.run = background_wait;
  return def;
}

}  // namespace meanwhile
