#include "cli/session.h"

#include <csignal>
#include <cstdio>
#include <filesystem>

#include "agent/compaction.h"
#include "agent/config.h"
#include "base/secrets.h"

namespace meanwhile::cli {
namespace fs = std::filesystem;

namespace {

void say(const std::string& line) {
  std::fprintf(stderr, "meanwhile: %s\n", line.c_str());
}

}  // namespace

Session::~Session() = default;

std::unique_ptr<Session> Session::open(const CliOptions& options, int* exit_code,
                                       std::function<void(int)> on_signal) {
  std::unique_ptr<Session> s(new Session());
  *exit_code = kExitUsage;
  std::error_code ec;
  fs::path ws = options.workspace.empty() ? fs::current_path(ec) : fs::path(options.workspace);
  ws = fs::canonical(ws, ec);
  if (ec || !fs::is_directory(ws)) {
    say("workspace " + options.workspace + " is not a directory");
    return nullptr;
  }
  s->workspace = ws.string();
  s->context_window = options.context_window;
  s->data_dir = s->workspace + "/.meanwhile";

  agent::DotEnv dotenv = agent::load_dotenv(s->workspace);
  for (const std::string& w : dotenv.warnings) say(".env " + w);
  agent::CliChoices choices{options.provider, options.model, options.script};
  if (!choices.script_path.empty())
    choices.script_path = fs::absolute(choices.script_path, ec).string();
  std::vector<std::string> ignored;
  auto config =
      agent::resolve_provider_config(choices, agent::process_env(), dotenv.values, &ignored);
  for (const std::string& w : ignored) say(w);
  if (!config) {
    say(config.error());
    return nullptr;
  }
  s->config = *config;
  // main() withheld the keys from the environment; a key from .env is redacted all the same.
  secrets::add(s->config.api_key);
  auto provider = llm::make_provider(s->config);
  if (!provider) {
    say(provider.error());
    return nullptr;
  }
  s->provider = std::move(*provider);

  *exit_code = kExitError;
  LaneOptions lane_options;
  lane_options.workspace = s->workspace;
  lane_options.data_dir = s->data_dir;
  lane_options.default_executor = parse_executor(options.executor).value_or(ExecutorKind::local);
  lane_options.shutdown_signals = {SIGTERM, SIGHUP};
  lane_options.on_signal = std::move(on_signal);
  auto lane = Lane::open(std::move(lane_options));
  if (!lane) {
    say("cannot start the background lane: " + lane.error());
    return nullptr;
  }
  s->lane = std::move(*lane);
  s->registry = ToolRegistry::standard();
  s->interrupt = &Interrupt::install();
  s->tool_context =
      std::make_unique<ToolContext>(ToolContext{*s->lane, s->workspace, s->interrupt->flag(), {}});

  const auto mode =
      options.permission_mode.empty()
          ? (options.print ? agent::PermissionMode::auto_run : agent::PermissionMode::ask)
          : agent::parse_permission_mode(options.permission_mode)
                .value_or(agent::PermissionMode::ask);  // main() checked it
  std::string rules_warning;
  s->permissions = std::make_unique<agent::Permissions>(
      mode, s->workspace, agent::Permissions::default_rules_path(), &rules_warning);
  if (!rules_warning.empty()) say(rules_warning);
  if (mode == agent::PermissionMode::auto_run && options.print)
    say("commands and file writes run without asking (--permission-mode auto, the default with "
        "-p; ask or read-only to change it)");

  const std::string sessions = s->data_dir + "/sessions";
  if (options.resume) {
    std::vector<std::string> warnings;
    auto t = agent::Transcript::open_latest(sessions, &s->resumed_, &warnings);
    for (const std::string& w : warnings) say("--continue: " + w);
    if (t) {
      s->transcript.emplace(std::move(*t));
    } else {
      say(t.error() + "; starting a new session");
    }
  }
  if (!s->transcript) {
    auto t = agent::Transcript::create(sessions);
    if (t) {
      s->transcript.emplace(std::move(*t));
    } else {
      say(t.error() + " (the session will not be saved)");
    }
  }
  *exit_code = kExitOk;
  return s;
}

void Session::start_loop(agent::LoopEvents events) {
  auto user_on_message = std::move(events.on_message);
  events.on_message = [this, user_on_message](const nlohmann::json& message) {
    if (transcript) {
      auto written = transcript->append(message);
      if (!written && !transcript_warned_) {
        say(written.error());
        transcript_warned_ = true;
      }
    }
    if (user_on_message) user_on_message(message);
  };
  agent::LoopOptions loop_options;
  loop_options.model = config.model;
  loop_options.permissions = permissions.get();
  loop_options.context_window =
      context_window > 0 ? context_window : agent::default_context_window(config.model);
  loop = std::make_unique<agent::Loop>(*provider, registry, *tool_context, loop_options,
                                       std::move(events));
  if (!resumed_.empty()) {
    std::size_t n = resumed_.size();
    // A trailing user turn was added by the repair and is not in the file yet.
    std::size_t settled = resumed_.back().value("role", "") == "user" ? n - 1 : n;
    loop->set_messages(std::move(resumed_), settled);
    loop->mark_live_jobs_due();  // the conversation's ids may be stale: the store's are not
    resumed_ = nlohmann::json();
  }
}

void Session::clear_conversation() {
  if (loop) loop->clear();
  auto t = agent::Transcript::create(data_dir + "/sessions");
  if (t) {
    transcript.emplace(std::move(*t));
  } else {
    transcript.reset();
    say(t.error() + " (the session will not be saved)");
  }
}

std::vector<JobInfo> Session::active_jobs() const {
  std::vector<JobInfo> out;
  for (JobInfo& job : lane->list()) {
    if (job.ours && !is_terminal(job.status)) out.push_back(std::move(job));
  }
  return out;
}

}  // namespace meanwhile::cli
