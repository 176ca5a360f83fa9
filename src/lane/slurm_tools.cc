#include "lane/slurm_tools.h"

#include <algorithm>
#include <charconv>

#include "lane/run_program.h"

namespace meanwhile {
namespace {

constexpr std::string_view kSqueueFormat =
    "JobID:|,ArrayJobID:|,ArrayTaskID:|,State:|,Reason:|,exit_code:|,Name:200|";

std::string trim(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r'))
    text.remove_suffix(1);
  while (!text.empty() && (text.front() == '\n' || text.front() == ' ')) text.remove_prefix(1);
  return std::string(text);
}

bool all_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<int> to_int(std::string_view text) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The tool's words for an error: its stderr (else stdout), on one line.
std::string tool_words(const std::string& tool, const ProgramOutput& out) {
  std::string words = trim(out.err.empty() ? out.out : out.err);
  std::replace(words.begin(), words.end(), '\n', ' ');
  if (out.timed_out) return tool + " did not answer in time" + (words.empty() ? "" : ": " + words);
  if (words.empty()) {
    return tool + (out.term_signal ? " was killed by signal " + std::to_string(out.term_signal)
                                   : " failed with exit code " + std::to_string(out.exit_code));
  }
  return words;
}

// Slurm's client errors that mean "could not talk to the controller".
bool unreachable(const std::string& words) {
  for (std::string_view sign :
       {"Unable to contact slurm controller", "Socket timed out", "Connection refused",
        "Zero Bytes were transmitted", "did not answer in time", "not installed"}) {
    if (words.find(sign) != std::string::npos) return true;
  }
  return false;
}

// A tool that cannot be run (not installed, no processes left) makes Slurm unavailable.
Error unavailable_error(Error error) {
  error.code = ErrorCode::unavailable;
  return error;
}

}  // namespace

bool slurm_state_final(std::string_view state) {
  for (std::string_view live :
       {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_HOLD",
        "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD"}) {
    if (state == live) return false;
  }
  return !state.empty();
}

std::vector<SlurmTask> parse_squeue(std::string_view text) {
  std::vector<SlurmTask> tasks;
  while (!text.empty()) {
    const auto eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    std::vector<std::string_view> fields;
    while (true) {
      const auto bar = line.find('|');
      if (bar == std::string_view::npos) break;
      fields.push_back(line.substr(0, bar));
      line.remove_prefix(bar + 1);
    }
    if (fields.size() < 6 || !all_digits(fields[0])) continue;
    SlurmTask task;
    task.job_id = std::string(fields[0]);
    task.array_id = all_digits(fields[1]) ? std::string(fields[1]) : task.job_id;
    if (auto index = to_int(fields[2]); index && *index >= 0) {
      task.task = *index;
    } else if (fields[2] != "N/A") {
      task.tasks_pending = true;  // "0-3", "1,3", "0-99%4": tasks not yet started
    }
    task.state = trim(fields[3]);
    task.reason = trim(fields[4]);
    task.raw_status = to_int(fields[5]).value_or(0);
    if (fields.size() > 6) task.name = trim(fields[6]);
    tasks.push_back(std::move(task));
  }
  return tasks;
}

Result<std::string> parse_sbatch_id(std::string_view text) {
  std::string line = trim(text.substr(0, text.find(';')));
  if (!all_digits(line)) {
    return make_error(ErrorCode::internal, "sbatch printed no job id: '" + trim(text) + "'");
  }
  return line;
}

Result<std::string> SlurmTools::submit(const SlurmSubmit& request) const {
  std::vector<std::string> argv = {"sbatch",
                                   "--parsable",
                                   "--job-name=" + request.job_name,
                                   "--output=" + request.output_pattern,
                                   "--open-mode=append",
                                   "--chdir=" + request.cwd,
                                   "--export=ALL"};
  if (!request.partition.empty()) argv.push_back("--partition=" + request.partition);
  if (request.cpus > 0) argv.push_back("--cpus-per-task=" + std::to_string(request.cpus));
  if (!request.memory.empty()) argv.push_back("--mem=" + request.memory);
  if (request.shards > 0) argv.push_back("--array=0-" + std::to_string(request.shards - 1));
  if (request.time_limit_minutes)
    argv.push_back("--time=" + std::to_string(*request.time_limit_minutes));
  argv.push_back(request.script_path);
  auto out = run_program(argv, request.env, timeout_);
  if (!out) return unavailable_error(out.error_info());
  if (out->exit_code != 0) {
    const std::string words = tool_words("sbatch", *out);
    return make_error(unreachable(words) ? ErrorCode::unavailable : ErrorCode::invalid_argument,
                      words);
  }
  return parse_sbatch_id(out->out);
}

Result<std::vector<SlurmTask>> SlurmTools::query(const std::vector<std::string>& ids) const {
  if (ids.empty()) return std::vector<SlurmTask>();
  std::string list;
  for (const std::string& id : ids) list += (list.empty() ? "" : ",") + id;
  auto out = run_program(
      {"squeue", "-h", "-t", "all", "-j", list, "-O", std::string(kSqueueFormat)}, {}, timeout_);
  if (!out) return unavailable_error(out.error_info());
  if (out->exit_code != 0) {
    const std::string words = tool_words("squeue", *out);
    // One unknown id alone is an error to squeue (several are not): Slurm forgot the job.
    if (words.find("Invalid job id specified") != std::string::npos) {
      return std::vector<SlurmTask>();
    }
    return make_error(ErrorCode::unavailable, words);
  }
  return parse_squeue(out->out);
}

Status SlurmTools::signal(const std::string& id, int signal) const {
  auto out =
      run_program({"scancel", "--full", "--signal=" + std::to_string(signal), id}, {}, timeout_);
  if (!out) return unavailable_error(out.error_info());
  if (out->exit_code != 0) return make_error(ErrorCode::unavailable, tool_words("scancel", *out));
  return Ok{};
}

Status SlurmTools::cancel(const std::string& id, bool pending_only) const {
  std::vector<std::string> argv = {"scancel"};
  if (pending_only) argv.push_back("--state=PENDING");
  argv.push_back(id);
  auto out = run_program(argv, {}, timeout_);
  if (!out) return unavailable_error(out.error_info());
  if (out->exit_code != 0) return make_error(ErrorCode::unavailable, tool_words("scancel", *out));
  return Ok{};
}

}  // namespace meanwhile
