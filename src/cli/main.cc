// meanwhile: an agent whose slow commands run in a background lane. Parses the command line
// and hands over to print mode, the REPL or the MCP server.
#include <CLI/CLI.hpp>

#include <termios.h>
#include <unistd.h>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <iterator>

#include "base/secrets.h"
#include "cli/modes.h"
#include "cli/session.h"

#ifdef MEANWHILE_HAVE_MCP
#include "mcp/server.h"
#endif

namespace {

using namespace meanwhile::cli;

termios g_saved_termios;
bool g_have_termios = false;

// SIGTERM/SIGHUP in the REPL: the lane has killed the jobs; put the terminal back and die.
void restore_terminal_and_exit(int sig) {
  if (g_have_termios) ::tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_termios);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

int serve_mcp(const std::string& workspace, std::size_t max_events, const std::string& executor,
              bool all_structured) {
#ifdef MEANWHILE_HAVE_MCP
  meanwhile::mcp::ServerOptions options;
  options.max_events = max_events;
  options.all_structured = all_structured;
  options.default_executor =
      meanwhile::parse_executor(executor).value_or(meanwhile::ExecutorKind::local);
  std::error_code ec;
  options.workspace = workspace.empty() ? std::filesystem::current_path(ec).string() : workspace;
  return meanwhile::mcp::serve_stdio(options);
#else
  (void)workspace;
  (void)max_events;
  (void)executor;
  (void)all_structured;
  std::fprintf(stderr, "meanwhile: this build has no MCP server (src/mcp was not built)\n");
  return kExitError;
#endif
}

// Takes the provider keys and the variables the user names out of every job's reach, before any
// thread or job starts: they stay only in memory (secrets::withheld_value) and are redacted.
void withhold_secrets(const std::string& flag) {
  namespace secrets = meanwhile::secrets;
  std::vector<std::string> patterns = secrets::parse_name_list(secrets::kDefaultWithheld);
  const char* from_env = std::getenv("MEANWHILE_WITHHOLD_ENV");
  for (auto& p : secrets::parse_name_list(from_env ? from_env : "")) patterns.push_back(p);
  for (auto& p : secrets::parse_name_list(flag)) patterns.push_back(p);
  secrets::withhold_environment(patterns);
  // Without this a job of the same user reads our /proc/PID/mem (and environ); jobs become
  // dumpable again at execve, so the lane still reads their environ for its marks.
  if (!secrets::make_undumpable())
    std::fprintf(stderr, "meanwhile: cannot make the process undumpable: %s\n",
                 std::strerror(errno));
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  CliOptions o;
  CLI::App app{
      "meanwhile: a coding agent whose slow commands run in a background lane.\n"
      "Without -p: an interactive session. Configuration: ANTHROPIC_API_KEY,\n"
      "ANTHROPIC_BASE_URL, MODEL_ID, LLM_PROVIDER=anthropic|openai, OPENAI_API_KEY,\n"
      "OPENAI_BASE_URL, from the environment or WORKSPACE/.env (the environment wins).\n"
      "A key from the environment is never sent to an endpoint or provider that .env\n"
      "chose (those .env lines are ignored) unless MEANWHILE_TRUST_DOTENV=1.\n"
      "Jobs never see the provider keys; MEANWHILE_WITHHOLD_ENV or --withhold-env\n"
      "withholds more variables (e.g. GITHUB_TOKEN,AWS_*).",
      "meanwhile"};
  app.set_version_flag("--version", std::string("meanwhile ") + MEANWHILE_VERSION);
  CLI::Option* print_opt = app.add_option("-p,--print", o.prompt,
                                          "Run one task without interaction and print the result "
                                          "(\"-\": read the prompt from stdin)");
  app.add_option("--output-format", o.output_format,
                 "With -p: text (the final answer on stdout), or stream-json: one JSON event per "
                 "line")
      ->check(CLI::IsMember({"text", "stream-json"}))
      ->needs(print_opt);
  app.add_option("--model", o.model, "Model id (default: MODEL_ID, else the provider's default)");
  app.add_option("--provider", o.provider, "anthropic, openai (any compatible endpoint) or script")
      ->check(CLI::IsMember({"anthropic", "openai", "script"}));
  app.add_option("--script", o.script,
                 "The scripted model's replies (JSONL) for --provider script");
  app.add_option("--max-turns", o.max_turns, "At most this many model calls (0: no limit)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--wake", o.wake,
                 "auto: a finished job wakes the idle model; off: it waits for you (with -p: "
                 "exit when the model ends its turn, killing the jobs still running)")
      ->check(CLI::IsMember({"auto", "off"}));
  app.add_option("--max-wait", o.max_wait_s,
                 "With -p: seconds to wait for a running job to finish before giving up")
      ->check(CLI::Validator(
          [](const std::string& text) -> std::string {
            try {
              std::size_t used = 0;
              const double v = std::stod(text, &used);
              if (used == text.size() && v > 0 && v <= 1e9) return {};
            } catch (const std::exception&) {
            }
            return "must be a number of seconds above 0 (at most 1e9), got " + text;
          },
          "SECONDS"))
      ->needs(print_opt)
      ->capture_default_str();
  app.add_flag("--continue", o.resume, "Resume the last session of this workspace");
  app.add_option("--context-window", o.context_window,
                 "Input budget of one request, in tokens (default: the model's, 200000 for "
                 "Claude, else 128000); past 80% of it older turns are summarised")
      ->check(CLI::Range(std::size_t{1000}, std::size_t{100000000}));
  app.add_option("--permission-mode", o.permission_mode,
                 "ask: bash, background_run, write_file and edit_file wait for your y / n / a "
                 "(always: saved per workspace in ~/.config/meanwhile/permissions.json), the "
                 "default in the REPL; auto: everything runs without asking, the default with "
                 "-p; read-only: commands and writes are refused (the model is told)")
      ->check(CLI::IsMember({"ask", "auto", "read-only"}));
  app.add_option("--workspace", o.workspace, "The project directory (default: the current one)");
  app.add_option("--executor", o.executor,
                 "Where background jobs run unless a call says otherwise: local (this machine) "
                 "or slurm (batch jobs on the Slurm cluster this machine submits to)")
      ->envname("MEANWHILE_EXECUTOR")
      ->check(CLI::IsMember({"local", "slurm"}))
      ->capture_default_str();
  std::string withhold;
  const char* withhold_help =
      "More environment variables to keep from jobs (comma or space separated; AWS_* globs), "
      "besides ANTHROPIC_API_KEY, OPENAI_API_KEY, ANTHROPIC_AUTH_TOKEN and "
      "MEANWHILE_WITHHOLD_ENV's; their values are also redacted from all output";
  app.add_option("--withhold-env", withhold, withhold_help);
  app.footer(
      "Exit codes: 0 done; 1 error (the model API failed after retries, --max-turns or\n"
      "--max-wait reached); 2 usage or configuration error; 130 interrupted (Ctrl+C).\n"
      "Sessions are saved in WORKSPACE/.meanwhile/sessions/; jobs' logs in "
      "WORKSPACE/.meanwhile/logs/.");
  CLI::App* mcp = app.add_subcommand("mcp",
                                     "Serve the background tools to an MCP client over stdio "
                                     "(jobs run in --workspace, default: the current directory)");
  mcp->fallthrough();
  std::size_t max_events = 1000;
  mcp->add_option("--max-events", max_events,
                  "Job events kept for background_wait when the client does not wait; past "
                  "this the oldest successes are dropped (and counted)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 30))
      ->capture_default_str();
  std::string mcp_withhold;
  mcp->add_option("--withhold-env", mcp_withhold, withhold_help);
  bool all_structured = false;
  mcp->add_flag("--all-structured", all_structured,
                "Send structuredContent for every tool, also check_background, "
                "background_output and background_wait, which otherwise answer with text only "
                "(Claude Code and Codex show a model the JSON instead of the text)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "meanwhile: %s\nRun 'meanwhile --help' for the options.\n", e.what());
    return kExitUsage;
  }
  o.print = print_opt->count() > 0;
  withhold_secrets(withhold + "," + mcp_withhold);

  if (mcp->parsed()) return serve_mcp(o.workspace, max_events, o.executor, all_structured);
  if (o.print && o.prompt == "-") {
    o.prompt.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  if (o.print && o.prompt.find_first_not_of(" \t\r\n") == std::string::npos) {
    std::fprintf(stderr, "meanwhile: -p needs a prompt (or \"-\" to read it from stdin)\n");
    return kExitUsage;
  }

  std::function<void(int)> on_signal;
  if (!o.print) {
    g_have_termios = ::tcgetattr(STDIN_FILENO, &g_saved_termios) == 0;
    on_signal = restore_terminal_and_exit;
  }
  int code = kExitOk;
  auto session = Session::open(o, &code, on_signal);
  if (!session) return code;
  return o.print ? run_print_mode(*session, o) : run_repl(*session, o);
}
