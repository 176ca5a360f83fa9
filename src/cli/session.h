// Everything one run of `meanwhile` needs, built in order from the command line: workspace,
// configuration (.env + environment), provider, lane, tools, transcript and the loop.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/loop.h"
#include "agent/permissions.h"
#include "agent/transcript.h"
#include "cli/interrupt.h"
#include "cli/stream_json.h"
#include "meanwhile/lane.h"
#include "meanwhile/llm.h"
#include "meanwhile/tools.h"

namespace meanwhile::cli {

struct CliOptions {
  std::string prompt;  // -p; "-" reads stdin
  bool print = false;  // -p given
  std::string output_format = "text";
  std::string model, provider, script;
  int max_turns = 0;  // 0: unlimited
  std::string wake = "auto";
  double max_wait_s = 1800;
  bool resume = false;             // --continue
  std::string workspace;           // empty: the current directory
  std::string executor = "local";  // --executor / MEANWHILE_EXECUTOR: local or slurm
  std::string permission_mode;     // ask, auto or read-only; empty: ask in the REPL, auto in -p
  std::size_t context_window = 0;  // tokens; 0: the model's default
};

// Exit codes.
constexpr int kExitOk = 0, kExitError = 1, kExitUsage = 2, kExitInterrupted = 130;

class Session {
 public:
  // On failure prints one line to stderr and sets *exit_code (2: usage/config, 1: other).
  // `on_signal` runs after the lane killed its jobs on SIGTERM/SIGHUP (unset: the default action).
  static std::unique_ptr<Session> open(const CliOptions& options, int* exit_code,
                                       std::function<void(int)> on_signal = {});
  ~Session();

  // Creates the loop; messages are written to the transcript as they settle.
  void start_loop(agent::LoopEvents events);
  // Starts a new transcript and an empty conversation (REPL /clear).
  void clear_conversation();
  // This process's jobs still queued or running.
  std::vector<JobInfo> active_jobs() const;

  std::string workspace;  // absolute, symlinks resolved
  std::string data_dir;   // WORKSPACE/.meanwhile
  llm::ProviderConfig config;
  std::unique_ptr<llm::Provider> provider;
  Interrupt* interrupt = nullptr;
  JobEvents job_events;  // declared before the lane: its observer must outlive the lane
  std::unique_ptr<Lane> lane;
  ToolRegistry registry;
  std::unique_ptr<ToolContext> tool_context;
  std::unique_ptr<agent::Permissions> permissions;
  std::size_t context_window = 0;  // CliOptions::context_window
  std::optional<agent::Transcript> transcript;
  std::unique_ptr<agent::Loop> loop;

 private:
  Session() = default;
  nlohmann::json resumed_;  // messages loaded by --continue, until the loop exists
  bool transcript_warned_ = false;
};

}  // namespace meanwhile::cli
