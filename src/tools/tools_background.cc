// background_run and background_output, and the list of the six background tools.
#include <chrono>
#include <filesystem>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tools/format.h"
#include "tools/tools_internal.h"

namespace meanwhile {
namespace {

using nlohmann::json;

constexpr std::size_t kOutputMaxBytes = 30000;
constexpr std::chrono::milliseconds kStartGrace{250};
constexpr std::chrono::milliseconds kSubmitGrace{30000};  // sbatch's own timeout

// --- background_run ---

// A model that lost track of a job (a compaction, a long session) starts it again: a second dev
// server on a taken port, a second test run racing the first. A live job with the same command,
// directory, environment and executor is that job.
std::optional<JobInfo> live_duplicate(Lane& lane, const JobSpec& spec) {
  namespace fs = std::filesystem;
  const ExecutorKind kind = spec.executor.value_or(lane.options().default_executor);
  auto normal = [](const std::string& path) {
    std::string out = fs::path(path).lexically_normal().string();
    while (out.size() > 1 && out.back() == '/') out.pop_back();  // "ws/." is "ws/"
    return out;
  };
  const std::string cwd = normal(spec.cwd);
  for (JobInfo& job : lane.list(0)) {  // every queued or running job, no finished ones
    if (is_terminal(job.status) || job.spec.command != spec.command) continue;
    if (normal(job.spec.cwd) != cwd || job.spec.env != spec.env) continue;
    if (job.spec.executor.value_or(lane.options().default_executor) != kind) continue;
    return std::move(job);
  }
  return std::nullopt;
}

ToolResult already_running(const JobInfo& job) {
  std::string text = fmt::format(
      "already {} as task {}: {} {}{}. Not started again: its result comes as it would "
      "have. Follow it with background_output {{\"task_id\":\"{}\"}}; to start a second copy "
      "anyway, call background_run again with allow_duplicate: true.",
      job.status == JobStatus::queued ? "queued" : "running", job.id, job_what(job),
      describe_outcome(job),
      job.ours ? "" : " (started by another session, which alone can kill it)", job.id);
  json structured{{"task_id", job.id},
                  {"status", to_string(job.status)},
                  {"pid", job.pid},
                  {"log_path", job.log_path},
                  {"already_running", true}};
  if (!job.slurm_job_id.empty()) structured["slurm_job_id"] = job.slurm_job_id;
  return ToolResult{std::move(text), std::move(structured), false};
}

ToolResult background_run(const json& args, ToolContext& ctx) {
  JobSpec spec;
  spec.command = string_arg(args, "command");
  auto cwd = job_cwd(string_arg(args, "cwd"), ctx);
  if (!cwd) return error_result(cwd.error());
  spec.cwd = *cwd;
  if (auto t = args.find("timeout"); t != args.end() && t->is_number())
    spec.timeout = saturating_ms(t->get<double>());
  spec.label = string_arg(args, "label");
  spec.stdin_mode = string_arg(args, "stdin", "null") == "pipe" ? StdinMode::pipe : StdinMode::null;
  spec.watch = string_arg(args, "watch");
  if (auto after = args.find("after"); after != args.end())
    for (const auto& id : *after) spec.after.push_back(id.get<std::string>());
  spec.priority = args.value("priority", 0);
  if (auto executor = args.find("executor"); executor != args.end())
    spec.executor = parse_executor(executor->get<std::string>());  // the schema's enum
  spec.partition = string_arg(args, "partition");
  spec.cpus = args.value("cpus", 0);
  if (auto memory = args.find("memory"); memory != args.end())
    spec.memory = memory->is_string() ? memory->get<std::string>() : memory->dump();
  spec.shards = args.value("shards", 0);
  for (const auto& id : spec.after)
    if (auto dep = ctx.lane.get(id); !dep)
      return error_result("after: " + unknown_task_message(id, dep.error_info()));
  if (!args.value("allow_duplicate", false))
    if (auto same = live_duplicate(ctx.lane, spec)) return already_running(*same);

  auto id = ctx.lane.submit(spec);
  if (!id) {
    // The lane checks the arguments; name the one the model has to fix.
    const std::string& field = id.error_info().field;
    return error_result((field.empty() ? std::string("could not start the job") : field) + ": " +
                        id.error());
  }
  // The lane starts a job on its own thread, a moment after submit: give it that moment, so the
  // result can say "started" with a pid (bounded; a job waiting for a slot stays queued).
  // A Slurm job: until the cluster took it (sbatch answered) or refused it.
  const bool slurm =
      spec.executor.value_or(ctx.lane.options().default_executor) == ExecutorKind::slurm;
  auto info = !spec.after.empty() ? ctx.lane.get(*id)
                                  : ctx.lane.wait_started(*id, slurm ? kSubmitGrace : kStartGrace);
  JobInfo job;
  if (info) {
    job = *info;
  } else {
    job.id = *id;
    job.spec = spec;
  }

  std::string text;
  if (is_terminal(job.status))
    text = fmt::format("task {} was submitted but {}.\n", job.id, describe_outcome(job)) +
           (job.log_path.empty() || !job.started_at ? std::string()
                                                    : "Its output: " + job.log_path + "\n");
  else if (job.status == JobStatus::queued && !spec.after.empty())
    text = fmt::format(
        "queued task {}: {}; it starts once task {} succeeded (skipped if one "
        "fails).\n",
        job.id, job_what(job), fmt::join(spec.after, ", "));
  else if (job.status == JobStatus::queued && !job.slurm_job_id.empty())
    text =
        fmt::format("submitted task {} to Slurm as job {}: {}{}; it runs when Slurm starts it.\n",
                    job.id, job.slurm_job_id, job_what(job),
                    job.spec.shards > 0 ? fmt::format(" ({} shards)", job.spec.shards) : "");
  else if (job.status == JobStatus::queued)
    text =
        fmt::format("queued task {}: {}; it starts when a slot is free.\n", job.id, job_what(job));
  else if (!job.slurm_job_id.empty())
    text = fmt::format("started task {} on Slurm as job {}: {}.\n", job.id, job.slurm_job_id,
                       job_what(job));
  else
    text = fmt::format("started task {}: {} (pid {}).\n", job.id, job_what(job), job.pid);
  if (!is_terminal(job.status)) {
    text += ctx.frontend == Frontend::agent
                ? "It runs in the background. You will be notified automatically in "
                  "<background-results> when it finishes (exit code, output preview, log path): "
                  "no need to poll, sleep or wait. Meanwhile continue with other work."
                : "It runs in the background. When it finishes, the result of your next call of "
                  "any meanwhile tool says so (exit code, output preview, log path), under "
                  "\"since your last call\". Meanwhile continue with other work; when you have "
                  "nothing else to do, background_wait blocks until it ends.";
    if (!spec.watch.empty())
      text += " Output lines matching `" + one_line(spec.watch, 200) +
              "` are reported the same way as they appear.";
    if (spec.stdin_mode == StdinMode::pipe)
      text += " Its stdin is a pipe: send input with background_input (set close when done).";
    text += fmt::format(
        "\nLook at it with background_output {{\"task_id\":\"{0}\"}} or check_background; stop "
        "it with background_kill {{\"task_id\":\"{0}\"}}.",
        job.id);
  }
  json structured{{"task_id", job.id},
                  {"status", to_string(job.status)},
                  {"pid", job.pid},
                  {"log_path", job.log_path}};
  if (!job.slurm_job_id.empty()) structured["slurm_job_id"] = job.slurm_job_id;
  // The text's hints, compactly, for clients that show the model only the structured content.
  if (!is_terminal(job.status))
    structured["next"] = ctx.frontend == Frontend::agent
                             ? "runs in the background; its end is reported in "
                               "<background-results>: keep working"
                             : "runs in the background; its end comes with your next meanwhile "
                               "tool result: keep working (background_wait if nothing else)";
  return ToolResult{std::move(text), std::move(structured),
                    job.status == JobStatus::failed_to_start};
}

// --- background_output ---

ReadMode parse_mode(const std::string& mode) {
  if (mode == "tail") return ReadMode::tail;
  if (mode == "head") return ReadMode::head;
  if (mode == "all") return ReadMode::all;
  return ReadMode::since_last;
}

ToolResult background_output(const json& args, ToolContext& ctx) {
  const JobId id = task_id_arg(args);
  const std::string mode = string_arg(args, "mode", "new");
  ReadRequest request;
  request.id = id;
  request.mode = parse_mode(mode);
  request.lines = args.value("lines", std::size_t{50});
  request.filter = string_arg(args, "filter");
  request.max_bytes = kOutputMaxBytes;
  if (auto shard = args.find("shard"); shard != args.end()) request.shard = shard->get<int>();
  auto job = ctx.lane.get(id);
  if (!job) return error_result(unknown_task_message(id, job.error_info()));
  auto chunk = ctx.lane.read_output(request);
  if (!chunk) {
    const std::string& field = chunk.error_info().field;
    if (field == "filter" || field == "shard") return error_result(field + ": " + chunk.error());
    return error_result(fmt::format("task {}: cannot read its output: {}", id, chunk.error()));
  }

  std::string what;
  if (request.mode == ReadMode::since_last)
    what = "new output since the last read";
  else if (request.mode == ReadMode::all)
    what = "all output";
  else
    what = fmt::format("{} {} lines", mode == "tail" ? "last" : "first", request.lines);
  if (!request.filter.empty()) what += ", lines matching `" + one_line(request.filter, 200) + "`";
  if (request.shard) what += fmt::format(", shard {}", *request.shard);
  std::string text = fmt::format("{} {} — {}:\n", job_title(*job), describe_outcome(*job), what);
  std::string body = valid_utf8(chunk->text);
  if (body.empty())
    text += request.mode == ReadMode::since_last ? "(no new output)" : "(no output)";
  else
    text += body;
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (chunk->job_running && request.mode == ReadMode::since_last)
    text += "\n(still running; more output may follow)";
  json structured{{"task_id", id},
                  {"status", to_string(job->status)},
                  {"mode", mode},
                  {"text", body},
                  {"from_offset", chunk->from_offset},
                  {"to_offset", chunk->to_offset},
                  {"lines_omitted", chunk->lines_omitted},
                  {"bytes_omitted", chunk->bytes_omitted},
                  {"job_running", chunk->job_running},
                  {"log_path", chunk->log_path}};
  return ToolResult{std::move(text), std::move(structured), false};
}

}  // namespace

json task_id_schema(const char* description) {
  return json{{"type", "string"},
              {"minLength", 1},
              {"description", std::string(description) +
                                  " A task id as returned by background_run or bash, e.g. "
                                  "\"12\" (a bare integer is accepted too)."}};
}

std::string unknown_task_message(const JobId& id, const Error& lane_error) {
  if (lane_error.code == ErrorCode::not_found || lane_error.code == ErrorCode::invalid_argument)
    return fmt::format("unknown task {}; check_background without task_id lists every job",
                       one_line(id, 60));
  return fmt::format("task {}: {}; check_background without task_id lists every job",
                     one_line(id, 60), lane_error.message);
}

bool cancel_requested(const ToolContext& ctx) {
  return ctx.cancel != nullptr && ctx.cancel->load(std::memory_order_relaxed);
}

std::vector<ToolDef> background_tools(Frontend frontend) {
  const bool agent = frontend == Frontend::agent;
  std::vector<ToolDef> tools;

  ToolDef run;
  run.name = "background_run";
  run.description =
      "Start a shell command in the background and return at once with its task_id; the "
      "command keeps running while you continue working. Use it for anything slow or "
      "long-lived: test suites, builds, installs, dev servers, watchers. " +
      std::string(agent ? "Do not poll: when the job finishes, its exit code, duration, a "
                          "head-and-tail preview of its output and its log path arrive by "
                          "themselves in a <background-results> block before your next step "
                          "(and wake you when you are idle). "
                        : "Do not poll: when the job finishes, its exit code, duration, a "
                          "head-and-tail preview of its output and its log path come with the "
                          "result of your next call of any meanwhile tool (\"since your last "
                          "call\"); background_wait blocks until one ends. ") +
      "Options: `timeout` kills it after that many seconds; "
      "`watch` (regex) reports each matching output line as it appears (e.g. \"listening "
      "on|ERROR\"); `after` starts it only once the listed tasks have succeeded (skipped if one "
      "fails); `stdin: \"pipe\"` keeps stdin open for background_input (by default stdin is "
      "empty, so a prompt can never hang it). Never append `&` or use nohup: the job is already "
      "in the background and every process it starts is tracked. Stop jobs with "
      "background_kill, never kill/pkill; if you lost an id, check_background lists every job.";
  run.input_schema = {
      {"type", "object"},
      {"properties",
       {{"command",
         {{"type", "string"}, {"minLength", 1}, {"description", "Shell command (/bin/sh -c)."}}},
        {"cwd",
         {{"type", "string"},
          {"description", "Working directory, relative to the workspace; default the workspace."}}},
        {"timeout",
         {{"type", "number"},
          {"minimum", 0.1},
          {"maximum", kMaxJobTimeoutSeconds},
          {"description",
           "Kill the job after this many seconds (status timed_out; at most 2592000, 30 "
           "days); default none."}}},
        {"label",
         {{"type", "string"},
          {"maxLength", 200},
          {"description", "Short name shown in lists and notifications, e.g. \"unit tests\"."}}},
        {"stdin",
         {{"type", "string"},
          {"enum", {"null", "pipe"}},
          {"description",
           "\"null\" (default): stdin is empty. \"pipe\": write to it with background_input."}}},
        {"watch",
         {{"type", "string"},
          {"description",
           agent ? "Regex (RE2 syntax); each output line that matches is reported in "
                   "<background-results> while the job runs."
                 : "Regex (RE2 syntax); each output line that matches is reported (with your "
                   "next meanwhile tool result, or by background_wait) while the job runs."}}},
        {"after",
         {{"type", "array"},
          {"items", task_id_schema("A task that must succeed first.")},
          {"maxItems", 100},
          {"description", "Start only after all these tasks exited 0; skipped otherwise."}}},
        {"allow_duplicate",
         {{"type", "boolean"},
          {"description",
           "Start it even if the same command (same cwd and environment) is already running or "
           "queued; by default that job's id is returned instead (\"already running as task "
           "N\")."}}},
        {"priority",
         {{"type", "integer"},
          {"minimum", -1000},
          {"maximum", 1000},
          {"description", "Among queued jobs, higher starts first (default 0)."}}},
        {"executor",
         {{"type", "string"},
          {"enum", {"local", "slurm"}},
          {"description",
           "Where it runs: \"local\" (this machine) or \"slurm\" (a batch job on the Slurm "
           "cluster this machine submits to); default as the session was started (--executor, "
           "MEANWHILE_EXECUTOR; else local)."}}},
        {"partition",
         {{"type", "string"},
          {"maxLength", 200},
          {"description", "Slurm only: the partition; default the cluster's."}}},
        {"cpus",
         {{"type", "integer"},
          {"minimum", 1},
          {"maximum", 4096},
          {"description", "Slurm only: CPUs per task; default the cluster's."}}},
        {"memory",
         {{"type", {"integer", "string"}},
          {"description",
           "Slurm only: memory per task, in MiB (4096) or with a unit (\"4G\"); default the "
           "cluster's."}}},
        {"shards",
         {{"type", "integer"},
          {"minimum", 1},
          {"maximum", kMaxShards},
          {"description",
           "Slurm only: run N copies as one job array (e.g. a test suite split N ways); each "
           "sees MEANWHILE_SHARD (0..N-1) and MEANWHILE_SHARDS=N. The job exits with the first "
           "failing shard's code; read one shard's output with background_output `shard`."}}}}},
      {"required", {"command"}},
      {"additionalProperties", false}};
  // Open to more fields: an MCP task's final result for this tool is the whole job
  // (job_to_json) plus its output.
  run.output_schema = {
      {"type", "object"},
      {"properties",
       {{"task_id", {{"type", "string"}}},
        {"status", {{"type", "string"}}},
        {"pid", {{"type", "integer"}}},
        {"log_path", {{"type", "string"}}},
        {"slurm_job_id", {{"type", json::array({"string", "null"})}}},
        {"next", {{"type", "string"}, {"description", "what to do now"}}},
        {"already_running",
         {{"type", "boolean"},
          {"description",
           "true: nothing new started; task_id is the live job of the same command"}}},
        {"exit_code", {{"type", json::array({"integer", "null"})}}},
        {"output",
         {{"type", "string"},
          {"description", "in an MCP task's final result: the job's output, head and tail"}}}}},
      {"required", {"task_id", "status"}}};
  run.annotations = annotations("Run in background", false, true, false);
  run.background = true;
  run.task_support = true;
  run.run = background_run;
  tools.push_back(std::move(run));

  tools.push_back(check_background_tool());

  ToolDef output;
  output.name = "background_output";
  output.description =
      "Read a background job's output (stdout and stderr together, ANSI codes stripped, "
      "progress-bar redraws collapsed), while it runs or after it ended. mode \"new\" (default) "
      "returns only what was printed since your previous background_output call for this job, "
      "so repeated calls never repeat text; \"tail\" / \"head\" return the last / first `lines` "
      "lines (default 50); \"all\" returns everything. `filter` (regex) keeps only matching "
      "lines, e.g. \"error|FAIL\". Long output is cut in the middle and the full log's path is "
      "given.";
  output.input_schema = {
      {"type", "object"},
      {"properties",
       {{"task_id", task_id_schema("The job whose output to read.")},
        {"mode",
         {{"type", "string"},
          {"enum", {"new", "tail", "head", "all"}},
          {"description", "\"new\" (default), \"tail\", \"head\" or \"all\"."}}},
        {"lines",
         {{"type", "integer"},
          {"minimum", 1},
          {"maximum", 10000},
          {"description", "Lines for tail and head (default 50)."}}},
        {"filter",
         {{"type", "string"},
          {"description", "Regex (RE2 syntax): keep only the lines that match."}}},
        {"shard",
         {{"type", "integer"},
          {"minimum", 0},
          {"maximum", kMaxShards - 1},
          {"description",
           "Sharded Slurm jobs: one shard's output (default: every shard's, each under a "
           "\"--- shard N ---\" line)."}}}}},
      {"required", {"task_id"}},
      {"additionalProperties", false}};
  output.output_schema = {{"type", "object"},
                          {"properties",
                           {{"task_id", {{"type", "string"}}},
                            {"status", {{"type", "string"}}},
                            {"mode", {{"type", "string"}}},
                            {"text", {{"type", "string"}}},
                            {"from_offset", {{"type", "integer"}}},
                            {"to_offset", {{"type", "integer"}}},
                            {"lines_omitted", {{"type", "integer"}}},
                            {"bytes_omitted", {{"type", "integer"}}},
                            {"job_running", {{"type", "boolean"}}},
                            {"log_path", {{"type", "string"}}}}},
                          {"required", {"task_id", "status", "text", "job_running"}}};
  output.annotations = annotations("Read background output", true, false, false);
  output.background = true;
  output.mcp_text_only = true;
  output.run = background_output;
  tools.push_back(std::move(output));

  tools.push_back(background_wait_tool(frontend));
  tools.push_back(background_kill_tool());
  tools.push_back(background_input_tool());
  return tools;
}

}  // namespace meanwhile
