#include "cli/modes.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>

#include "agent/conversation.h"
#include "cli/console.h"
#include "cli/stream_json.h"

namespace meanwhile::cli {
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

enum class WaitResult { note, interrupted, timed_out };

// Waits for a note without polling: the lane's eventfd, the Ctrl+C pipe, and (stream-json)
// the job-event pipe, whose events are written as they come.
WaitResult wait_for_note(Session& s, JsonLines* json_out, Clock::time_point deadline) {
  while (true) {
    if (s.lane->pending_notes() > 0) return WaitResult::note;
    if (s.interrupt->pending()) return WaitResult::interrupted;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return WaitResult::timed_out;
    pollfd fds[3] = {{s.lane->notify_fd(), POLLIN, 0},
                     {s.interrupt->fd(), POLLIN, 0},
                     {s.job_events.fd(), POLLIN, 0}};
    int n =
        ::poll(fds, json_out ? 3 : 2, static_cast<int>(std::min<long long>(left.count(), 1 << 30)));
    if (n < 0 && errno != EINTR) return WaitResult::timed_out;
    if (json_out && (fds[2].revents & POLLIN)) s.job_events.flush(*json_out);
  }
}

}  // namespace

int run_print_mode(Session& s, const CliOptions& options) {
  const auto started = Clock::now();
  const bool stream_json = options.output_format == "stream-json";
  JsonLines json_out(stdout);
  Console console(stdout, stderr);
  agent::LoopEvents events = stream_json ? json_loop_events(json_out) : console.loop_events();
  if (!stream_json) {
    // stdout gets the final answer alone, printed at the end; what the model says on the way
    // (turns that call tools) is progress, on stderr with the tool lines.
    events.on_text = nullptr;
    events.on_request = nullptr;
    events.on_assistant = [&console](const json& message) {
      const std::string said = agent::message_text(message);
      if (!agent::tool_uses(message).empty() && !said.empty()) console.dim(said);
    };
  }
  if (stream_json) {
    s.lane->set_observer(s.job_events.observer());
    // Job events are written by this thread between model calls and tools.
    auto on_tool_result = events.on_tool_result;
    events.on_tool_result = [&s, &json_out, on_tool_result](const json& use, const ToolResult& r) {
      on_tool_result(use, r);
      s.job_events.flush(json_out);
    };
    auto on_background_results = events.on_background_results;
    events.on_background_results = [&s, &json_out, on_background_results](
                                       const std::vector<Note>& notes, const std::string& block) {
      s.job_events.flush(json_out);  // a job's "exited" event comes before its result
      on_background_results(notes, block);
    };
    auto on_assistant = events.on_assistant;
    events.on_assistant = [&s, &json_out, on_assistant](const json& m) {
      s.job_events.flush(json_out);
      on_assistant(m);
    };
  }
  if (::isatty(STDIN_FILENO)) {
    // -p with --permission-mode ask on a terminal: the question goes to stderr, the key is read
    // from the terminal. Without one, asking calls are refused (the loop says why).
    events.on_permission = [&s, &console](const agent::PermissionRequest& request) {
      return console.ask(request, STDIN_FILENO, s.interrupt->fd());
    };
  }
  s.start_loop(std::move(events));

  if (stream_json) {
    json tools = json::array();
    for (const ToolDef& def : s.registry.tools()) tools.push_back(def.name);
    json_out.emit({{"type", "system"},
                   {"subtype", "init"},
                   {"version", MEANWHILE_VERSION},
                   {"provider", s.config.kind},
                   {"model", s.config.model},
                   {"workspace", s.workspace},
                   {"transcript", s.transcript ? s.transcript->path() : ""},
                   {"tools", tools}});
  }

  int calls = 0;
  std::string final_text;  // of the last assistant turn that said something
  auto budget = [&] { return options.max_turns > 0 ? options.max_turns - calls : 0; };
  auto finish = [&](int code, std::string subtype, std::string error) {
    if (stream_json) {
      s.job_events.flush(json_out);
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
      json result = {
          {"type", "result"},   {"subtype", subtype},        {"is_error", code != kExitOk},
          {"num_turns", calls}, {"duration_ms", ms.count()}, {"result", final_text}};
      if (!error.empty()) result["error"] = error;
      json_out.emit(std::move(result));
    }
    console.end_text();
    if (!stream_json && !final_text.empty()) {
      std::fputs(final_text.c_str(), stdout);
      if (final_text.back() != '\n') std::fputc('\n', stdout);
      std::fflush(stdout);
    }
    if (!error.empty()) console.error(error);  // stderr, in both formats
    return code;
  };

  agent::RunOutcome outcome = s.loop->run_user_text(options.prompt, options.max_turns);
  while (true) {
    calls += outcome.model_calls;
    if (!outcome.final_text.empty()) final_text = outcome.final_text;
    if (outcome.stop == agent::Stop::error) return finish(kExitError, "error", outcome.error);
    if (outcome.stop == agent::Stop::interrupted) {
      return finish(kExitInterrupted, "interrupted", "interrupted by the user");
    }
    const std::string limit_msg = "reached --max-turns " + std::to_string(options.max_turns);
    if (outcome.stop == agent::Stop::max_turns) return finish(kExitError, "max_turns", limit_msg);

    // The model ended its turn. Notes it has not seen yet, or jobs still running, wake it.
    if (s.lane->pending_notes() == 0) {
      std::vector<JobInfo> active = s.active_jobs();
      if (active.empty()) return finish(kExitOk, "success", "");
      if (options.wake == "off") {
        return finish(kExitOk, "success", "");  // the lane kills them on exit
      }
      json ids = json::array();
      for (const JobInfo& job : active) ids.push_back(job.id);
      if (stream_json) {
        json_out.emit({{"type", "waiting"}, {"running", ids}, {"max_wait_s", options.max_wait_s}});
      } else {
        console.dim("(waiting for " + std::to_string(active.size()) + " background job" +
                    (active.size() == 1 ? "" : "s") + " to finish…)");
      }
      auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<long long>(
                                         std::llround(options.max_wait_s * 1000)));
      switch (wait_for_note(s, stream_json ? &json_out : nullptr, deadline)) {
        case WaitResult::note:
          break;
        case WaitResult::interrupted:
          return finish(kExitInterrupted, "interrupted", "interrupted by the user");
        case WaitResult::timed_out:
          return finish(kExitError, "max_wait",
                        "no background job finished within --max-wait " +
                            std::to_string(static_cast<long long>(options.max_wait_s)) +
                            " s; running jobs were killed");
      }
    }
    if (options.max_turns > 0 && budget() <= 0) {
      return finish(kExitError, "max_turns", limit_msg);
    }
    outcome = s.loop->run(json::array(), {}, budget());
  }
}

}  // namespace meanwhile::cli
