// How jobs and notes read, for the model and for people. One format everywhere: the tools'
// results, the loop's <background-results> block and the MCP server's messages.
#include "tools/format.h"

#include <fmt/format.h>

#include "base/secrets.h"
#include "tools/tools_internal.h"

namespace meanwhile {
namespace {

using nlohmann::json;

constexpr std::size_t kCommandInTitle = 100;
constexpr std::size_t kLastLineInList = 160;

std::string after_list(const std::vector<JobId>& after) {
  std::string list;
  for (const auto& id : after) list += (list.empty() ? "" : ", ") + id;
  return list;
}

json optional_time(const std::optional<WallClock::time_point>& time) {
  return time ? json(iso8601(*time)) : json(nullptr);
}

}  // namespace

std::string job_what(const JobInfo& job) {
  std::string what = "`" + one_line(job.spec.command, kCommandInTitle) + "`";
  if (!job.spec.label.empty()) what += " (" + one_line(job.spec.label, 80) + ")";
  return what;
}

std::string job_title(const JobInfo& job) {
  return "[task " + job.id + "] " + job_what(job);
}

std::string describe_outcome(const JobInfo& job) {
  std::string elapsed = format_duration(job.elapsed_seconds());
  switch (job.status) {
    case JobStatus::queued:
      if (!job.slurm_job_id.empty())
        return "waiting in Slurm's queue as job " + job.slurm_job_id + " for " + elapsed;
      return job.spec.after.empty() ? "queued for " + elapsed
                                    : "queued for " + elapsed + " (waiting for task " +
                                          after_list(job.spec.after) + " to succeed)";
    case JobStatus::running:
      if (!job.slurm_job_id.empty())
        return "running for " + elapsed + " (Slurm job " + job.slurm_job_id + ")";
      return "running for " + elapsed;
    case JobStatus::exited:
      if (job.term_signal)
        return fmt::format("died of signal {} ({}) after {}", *job.term_signal,
                           signal_name(*job.term_signal), elapsed);
      return fmt::format("exited {} after {}", job.exit_code.value_or(-1), elapsed) +
             (job.summary.empty() ? std::string() : " (" + one_line(job.summary, 300) + ")");
    case JobStatus::killed:
      return "was killed after " + elapsed;
    case JobStatus::timed_out:
      if (job.spec.timeout)
        return fmt::format("hit its {} timeout and was killed after {}",
                           format_duration(job.spec.timeout->count() / 1000.0), elapsed);
      return "timed out and was killed after " + elapsed;
    case JobStatus::skipped:
      return "was skipped" + (job.error.empty() ? std::string() : ": " + one_line(job.error, 300));
    case JobStatus::failed_to_start:
      return "failed to start" +
             (job.error.empty() ? std::string() : ": " + one_line(job.error, 300));
    case JobStatus::lost:
      return "was lost" + (job.error.empty() ? std::string() : ": " + one_line(job.error, 300));
  }
  return to_string(job.status);
}

std::string format_note(const Note& note) {
  const JobInfo& job = note.info;
  std::string text = job_title(job);
  switch (note.kind) {
    case NoteKind::finished: {
      text += " " + describe_outcome(job) + "\n";
      if (note.preview.empty() && !job.started_at) {
        // Never started (skipped, failed to start, killed while queued): no output to speak of.
      } else if (note.preview.empty()) {
        text += "output: (none)\n";
      } else {
        text += "output:\n" + valid_utf8(note.preview);
        if (text.back() != '\n') text += '\n';
      }
      if (job.bytes_dropped > 0)
        text +=
            fmt::format("({} past the log cap were not kept)\n", format_bytes(job.bytes_dropped));
      if (!job.descendants.empty())
        text += fmt::format(
            "{} process{} it started {} still running; background_kill {{\"task_id\":\"{}\"}} "
            "ends them\n",
            job.descendants.size(), job.descendants.size() == 1 ? "" : "es",
            job.descendants.size() == 1 ? "is" : "are", job.id);
      break;
    }
    case NoteKind::matched: {
      text += " printed lines matching `" + one_line(job.spec.watch, 200) + "`:\n";
      for (const auto& line : note.lines) text += valid_utf8(line) + "\n";
      text += "(" + describe_outcome(job) + ")\n";
      break;
    }
    case NoteKind::stalled: {
      text += " has printed nothing for a while (" + describe_outcome(job);
      if (!job.last_line.empty()) text += "; last line: " + one_line(job.last_line, 200);
      text += ")\n";
      if (job.spec.stdin_mode == StdinMode::pipe)
        text +=
            "It may be waiting for input: send it with background_input, or stop it with "
            "background_kill.\n";
      else
        text +=
            "It may be stuck or just slow: look with background_output, or stop it with "
            "background_kill.\n";
      break;
    }
  }
  if (!job.log_path.empty()) text += "log: " + job.log_path + "\n";
  text.pop_back();  // no trailing newline: callers join notes themselves
  // A job's output can hold a withheld key; the note goes to the model.
  return secrets::contains_secret(text) ? secrets::redact(text) : text;
}

std::string format_job_line(const JobInfo& job) {
  std::string line = job_title(job) + " " + describe_outcome(job);
  if (job.stalled) line += ", silent for a while";
  if (!job.descendants.empty() && is_terminal(job.status))
    line += fmt::format(", {} leftover process{} alive", job.descendants.size(),
                        job.descendants.size() == 1 ? "" : "es");
  if (job.tracking_incomplete)
    line += " (some of its processes could not be tracked without a cgroup: a kill may miss them)";
  if (!job.ours) line += " (another or an earlier session)";
  if (!job.last_line.empty()) line += " — last: " + one_line(job.last_line, kLastLineInList);
  return line;
}

json job_to_json(const JobInfo& job) {
  json env = json::object();
  for (const auto& [name, value] : job.spec.env) env[valid_utf8(name)] = valid_utf8(value);
  json after = json::array();
  for (const auto& id : job.spec.after) after.push_back(id);
  json descendants = json::array();
  for (int pid : job.descendants) descendants.push_back(pid);
  return json{
      {"task_id", job.id},
      {"command", valid_utf8(job.spec.command)},
      {"cwd", valid_utf8(job.spec.cwd)},
      {"label", valid_utf8(job.spec.label)},
      {"env", env},
      {"timeout_seconds",
       job.spec.timeout ? json(job.spec.timeout->count() / 1000.0) : json(nullptr)},
      {"stdin", job.spec.stdin_mode == StdinMode::pipe ? "pipe" : "null"},
      {"watch", valid_utf8(job.spec.watch)},
      {"after", after},
      {"priority", job.spec.priority},
      {"executor", to_string(job.spec.executor.value_or(ExecutorKind::local))},
      {"slurm_job_id", job.slurm_job_id.empty() ? json(nullptr) : json(job.slurm_job_id)},
      {"partition", valid_utf8(job.spec.partition)},
      {"cpus", job.spec.cpus},
      {"memory", valid_utf8(job.spec.memory)},
      {"shards", job.spec.shards},
      {"summary", valid_utf8(job.summary)},
      {"status", to_string(job.status)},
      {"exit_code", job.exit_code ? json(*job.exit_code) : json(nullptr)},
      {"signal", job.term_signal ? json(*job.term_signal) : json(nullptr)},
      {"error", valid_utf8(job.error)},
      {"pid", job.pid},
      {"submitted_at", iso8601(job.submitted_at)},
      {"started_at", optional_time(job.started_at)},
      {"ended_at", optional_time(job.ended_at)},
      {"elapsed_seconds", std::round(job.elapsed_seconds() * 1000) / 1000},
      {"bytes_logged", job.bytes_logged},
      {"bytes_dropped", job.bytes_dropped},
      {"lines", job.lines},
      {"log_path", valid_utf8(job.log_path)},
      {"last_line", valid_utf8(job.last_line)},
      {"descendants", descendants},
      {"output_open", job.output_open},
      {"tracking_incomplete", job.tracking_incomplete},
      {"stalled", job.stalled},
      {"ours", job.ours},
      {"succeeded", job.succeeded()},
  };
}

json job_json_schema() {
  auto str = [](const char* d) { return json{{"type", "string"}, {"description", d}}; };
  auto str_or_null = [](const char* d) {
    return json{{"type", json::array({"string", "null"})}, {"description", d}};
  };
  auto integer = [](const char* d) { return json{{"type", "integer"}, {"description", d}}; };
  auto boolean = [](const char* d) { return json{{"type", "boolean"}, {"description", d}}; };
  json status_enum = json::array();
  for (auto s :
       {JobStatus::queued, JobStatus::running, JobStatus::exited, JobStatus::killed,
        JobStatus::timed_out, JobStatus::skipped, JobStatus::failed_to_start, JobStatus::lost})
    status_enum.push_back(to_string(s));
  return json{
      {"type", "object"},
      {"properties",
       {
           {"task_id", str("the job's id")},
           {"command", str("the shell command")},
           {"cwd", str("working directory (empty: the workspace)")},
           {"label", str("short name given at submit")},
           {"env", {{"type", "object"}, {"additionalProperties", {{"type", "string"}}}}},
           {"timeout_seconds",
            {{"type", json::array({"number", "null"})}, {"description", "null: no timeout"}}},
           {"stdin", {{"type", "string"}, {"enum", {"null", "pipe"}}}},
           {"watch", str("regex whose matching output lines raise notes")},
           {"after", {{"type", "array"}, {"items", {{"type", "string"}}}}},
           {"priority", integer("higher starts first among queued jobs")},
           {"executor", {{"type", "string"}, {"enum", {"local", "slurm"}}}},
           {"slurm_job_id",
            {{"type", json::array({"string", "null"})},
             {"description", "Slurm jobs once submitted: the cluster's job id"}}},
           {"partition", str("Slurm jobs: the partition asked for (empty: the default)")},
           {"cpus", integer("Slurm jobs: cpus per task asked for (0: the default)")},
           {"memory", str("Slurm jobs: memory per task asked for (empty: the default)")},
           {"shards", integer("Slurm jobs: tasks of the job array (0: not sharded)")},
           {"summary", str("sharded jobs, once ended: how each shard ended")},
           {"status", {{"type", "string"}, {"enum", status_enum}}},
           {"exit_code",
            {{"type", json::array({"integer", "null"})}, {"description", "when it exited"}}},
           {"signal",
            {{"type", json::array({"integer", "null"})},
             {"description", "signal that ended the leader"}}},
           {"error", str("why it failed to start, was skipped or lost")},
           {"pid", integer("leader pid once started, else 0")},
           {"submitted_at", str("ISO-8601 UTC")},
           {"started_at", str_or_null("ISO-8601 UTC")},
           {"ended_at", str_or_null("ISO-8601 UTC")},
           {"elapsed_seconds", {{"type", "number"}}},
           {"bytes_logged", integer("output bytes written to the log")},
           {"bytes_dropped", integer("output bytes discarded past the log cap")},
           {"lines", integer("complete output lines so far")},
           {"log_path", str("the full output on disk")},
           {"last_line", str("last non-empty output line")},
           {"descendants", {{"type", "array"}, {"items", {{"type", "integer"}}}}},
           {"output_open", boolean("something still holds the output pipe")},
           {"tracking_incomplete",
            boolean("without a cgroup, some of its processes could not be attributed to it: a "
                    "kill may not reach them")},
           {"stalled", boolean("running and silent for a while")},
           {"ours", boolean("started by this session")},
           {"succeeded", boolean("exited with code 0")},
       }},
      {"required", {"task_id", "command", "status", "exit_code", "log_path"}},
  };
}

json note_to_json(const Note& note) {
  json lines = json::array();
  for (const auto& line : note.lines) lines.push_back(valid_utf8(line));
  return json{{"kind", to_string(note.kind)},        {"task_id", note.job},
              {"job", job_to_json(note.info)},       {"lines", lines},
              {"preview", valid_utf8(note.preview)}, {"text", valid_utf8(format_note(note))}};
}

json note_json_schema() {
  return json{{"type", "object"},
              {"properties",
               {{"kind", {{"type", "string"}, {"enum", {"finished", "matched", "stalled"}}}},
                {"task_id", {{"type", "string"}}},
                {"job", job_json_schema()},
                {"lines", {{"type", "array"}, {"items", {{"type", "string"}}}}},
                {"preview", {{"type", "string"}}},
                {"text", {{"type", "string"}}}}},
              {"required", {"kind", "task_id", "job", "text"}}};
}

}  // namespace meanwhile
