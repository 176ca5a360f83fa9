// The interactive REPL: one poll() loop over stdin, Ctrl+C and the lane's notification fd, so a
// job that finishes while the user is idle (or typing) starts a turn by itself.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "cli/console.h"
#include "cli/line_input.h"
#include "cli/modes.h"
#include "tools/format.h"

namespace meanwhile::cli {
using nlohmann::json;

namespace {

constexpr const char* kPrompt = "meanwhile> ";

constexpr const char* kHelp =
    "Type a request for the model. Slow commands it starts run in the background; when one\n"
    "finishes while you are at the prompt, the model is woken with its result.\n"
    "  /jobs          list background jobs (id, status, elapsed, last output line)\n"
    "  /output ID     the last 40 lines of a job's output\n"
    "  /kill ID       stop a job (and everything it started)\n"
    "  /wait          wait for the next job to finish and hand it to the model\n"
    "  /clear         start a new conversation (jobs keep running)\n"
    "  /compact       summarise the older turns now (also done by itself near the\n"
    "                 --context-window); the next turn lists every live job\n"
    "  /help          this help\n"
    "  /exit          leave (asks first when jobs are still running)\n"
    "Ctrl+C interrupts the model or the running tool (never background jobs), or clears the\n"
    "line; Ctrl+D exits.";

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

class Repl {
 public:
  Repl(Session& s, const CliOptions& options)
      : s_(s),
        options_(options),
        console_(stdout, stdout),
        terminal_(::isatty(STDIN_FILENO) != 0) {}

  int run() {
    agent::LoopEvents events = console_.loop_events();
    if (terminal_) {
      // The line editor is stopped during a turn: the question reads its own key.
      events.on_permission = [this](const agent::PermissionRequest& request) {
        return console_.ask(request, STDIN_FILENO, s_.interrupt->fd());
      };
    }
    s_.start_loop(std::move(events));
    console_.info("meanwhile " MEANWHILE_VERSION " · " + s_.config.model + " (" + s_.config.kind +
                  ") · " + s_.workspace);
    console_.dim(
        "Slow commands run in the background and wake the model when they finish. "
        "/help for commands, Ctrl+D to exit.");
    if (s_.permissions->mode() != agent::PermissionMode::ask || !terminal_)
      console_.dim(std::string("--permission-mode ") + agent::to_string(s_.permissions->mode()) +
                   (s_.permissions->mode() == agent::PermissionMode::auto_run
                        ? ": commands and file writes run without asking"
                    : s_.permissions->mode() == agent::PermissionMode::read_only
                        ? ": commands and file writes are refused"
                        : ": no terminal to ask on, so commands and writes are refused"));
    if (!s_.loop->messages().empty()) {
      console_.dim("(continuing the last session: " + std::to_string(s_.loop->messages().size()) +
                   " messages)");
    }
    input_ = make_line_input(terminal_, s_.data_dir + "/history");
    input_->start(prompt());
    while (!done_) step();
    input_->stop();
    input_.reset();  // writes the history
    return kExitOk;
  }

 private:
  // "[2 running] meanwhile> " while this session's jobs run, so they are never out of mind.
  std::string prompt() const {
    std::size_t running = 0;
    for (const JobInfo& job : s_.active_jobs())
      if (job.status == JobStatus::running) ++running;
    return running == 0 ? kPrompt : "[" + std::to_string(running) + " running] " + kPrompt;
  }

  void step() {
    const bool wake = options_.wake == "auto";
    pollfd fds[3] = {{STDIN_FILENO, POLLIN, 0},
                     {s_.interrupt->fd(), POLLIN, 0},
                     {s_.lane->notify_fd(), POLLIN, 0}};
    int n = ::poll(fds, wake ? 3 : 2, -1);
    if (n < 0 && errno != EINTR) {
      done_ = true;
      return;
    }
    if (s_.interrupt->pending()) {  // Ctrl+C at the prompt: drop the line
      s_.interrupt->reset();
      input_->stop();
      std::fputs("\n", stdout);
      input_->start(prompt());
      return;
    }
    if (wake && s_.lane->pending_notes() > 0) {
      wake_up();
      return;
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      input_->on_readable();
      while (!done_) {
        auto line = input_->take_line();
        if (!line) break;
        input_->stop();
        handle(*line);
        if (!done_) input_->start(prompt());
      }
      if (!done_ && input_->eof()) {
        input_->stop();
        std::fputs("\n", stdout);
        if (confirm_exit()) {
          done_ = true;
        } else {
          input_ = make_line_input(terminal_, s_.data_dir + "/history");
          input_->start(prompt());
        }
      }
    }
  }

  // A note arrived while the model was idle: a turn of its own, printed above the prompt, and
  // the user's half-typed line put back afterwards.
  void wake_up() {
    std::string typed = input_->partial();
    input_->stop();
    input_->erase_line();
    turn(json::array());
    input_->start(prompt());
    input_->restore(typed);
  }

  void turn(const json& blocks) {
    s_.interrupt->reset();
    agent::RunOutcome outcome = s_.loop->run(blocks, {}, options_.max_turns);
    console_.end_text();
    switch (outcome.stop) {
      case agent::Stop::end_turn:
        break;
      case agent::Stop::interrupted:
        console_.info("⏹ interrupted (background jobs keep running)");
        break;
      case agent::Stop::error:
        // A refused key or an unknown model says its fix (in the error); retrying cannot help.
        if (outcome.error_code == ErrorCode::permission_denied ||
            outcome.error_code == ErrorCode::not_found)
          console_.error(outcome.error + " (the conversation is kept)");
        else
          console_.error(outcome.error + " (the conversation is kept; send a message to retry)");
        break;
      case agent::Stop::max_turns:
        console_.info("(stopped after --max-turns " + std::to_string(options_.max_turns) +
                      " model calls; send a message to go on)");
        break;
    }
    s_.interrupt->reset();
    show_running();
  }

  void show_running() {
    std::vector<JobInfo> active = s_.active_jobs();
    std::size_t shown = 0;
    for (const JobInfo& job : active) {
      if (++shown > 5) {
        console_.dim("  … and " + std::to_string(active.size() - 5) + " more (/jobs)");
        break;
      }
      console_.dim("  ⏳ " + format_job_line(job));
    }
  }

  void handle(const std::string& raw) {
    std::string line = trim(raw);
    if (line.empty()) return;
    input_->remember(line);
    if (line[0] != '/') {
      turn(json::array({{{"type", "text"}, {"text", line}}}));
      return;
    }
    std::string cmd = line, arg;
    if (auto sp = line.find(' '); sp != std::string::npos) {
      cmd = line.substr(0, sp);
      arg = trim(line.substr(sp + 1));
    }
    if (cmd == "/help") {
      console_.info(kHelp);
    } else if (cmd == "/jobs") {
      list_jobs();
    } else if (cmd == "/output") {
      show_output(arg);
    } else if (cmd == "/kill") {
      auto killed = s_.lane->kill(arg);
      console_.info(killed ? "killing task " + arg : "error: " + killed.error());
    } else if (cmd == "/wait") {
      wait_for_job();
    } else if (cmd == "/compact") {
      auto compacted = s_.loop->compact();
      if (!compacted) console_.info("not compacted: " + compacted.error());
    } else if (cmd == "/clear") {
      s_.clear_conversation();
      console_.info("conversation cleared; background jobs keep running");
    } else if (cmd == "/exit" || cmd == "/quit") {
      done_ = confirm_exit();
    } else {
      console_.info("unknown command " + cmd + " (/help lists them)");
    }
  }

  // Every queued or running job first (however many foreground calls ended since), then the
  // newest finished ones.
  void list_jobs() {
    constexpr std::size_t kFinishedShown = 10;
    std::vector<JobInfo> jobs = s_.lane->list(kFinishedShown + 1);
    if (jobs.empty()) console_.info("no background jobs");
    std::vector<const JobInfo*> finished;
    for (const JobInfo& job : jobs) {
      if (is_terminal(job.status))
        finished.push_back(&job);
      else
        console_.info(format_job_line(job));
    }
    const std::size_t shown = std::min(finished.size(), kFinishedShown);
    for (std::size_t i = finished.size() - shown; i < finished.size(); ++i)
      console_.info(format_job_line(*finished[i]));
    if (finished.size() > kFinishedShown)
      console_.dim("(older finished jobs: check_background, or the store in .meanwhile/)");
  }

  void show_output(const std::string& id) {
    if (id.empty()) {
      console_.info("usage: /output ID");
      return;
    }
    ReadRequest request;
    request.id = id;
    request.mode = ReadMode::tail;
    request.lines = 40;
    request.reader = "repl";
    auto chunk = s_.lane->read_output(request);
    if (!chunk) {
      console_.info("error: " + chunk.error());
      return;
    }
    console_.info(chunk->text.empty() ? "(no output yet)" : chunk->text);
    console_.dim(std::string(chunk->job_running ? "(running; " : "(") + "log: " + chunk->log_path +
                 ")");
  }

  void wait_for_job() {
    if (s_.lane->pending_notes() == 0 && s_.active_jobs().empty()) {
      console_.info("no background jobs running");
      return;
    }
    console_.dim("(waiting for a background job; Ctrl+C stops waiting)");
    s_.interrupt->reset();
    while (s_.lane->pending_notes() == 0 && !s_.interrupt->pending()) {
      pollfd fds[2] = {{s_.lane->notify_fd(), POLLIN, 0}, {s_.interrupt->fd(), POLLIN, 0}};
      ::poll(fds, 2, -1);
    }
    if (s_.interrupt->pending()) {
      s_.interrupt->reset();
      return;
    }
    turn(json::array());
  }

  bool confirm_exit() {
    std::size_t n = s_.active_jobs().size();
    if (n == 0) return true;
    std::string question = std::to_string(n) + (n == 1 ? " job is" : " jobs are") +
                           " still running; kill them and exit? [y/N] ";
    std::fputs(question.c_str(), stdout);
    std::fflush(stdout);
    std::string answer;
    char c;
    while (true) {
      ssize_t r = ::read(STDIN_FILENO, &c, 1);
      if (r < 0 && errno == EINTR) {
        s_.interrupt->reset();
        std::fputs("\n", stdout);
        return false;  // Ctrl+C: stay
      }
      if (r <= 0) return true;  // end of input: nobody left to ask
      if (c == '\n') break;
      answer += c;
    }
    answer = trim(answer);
    bool yes = !answer.empty() && (answer[0] == 'y' || answer[0] == 'Y');
    if (yes) console_.info("killing " + std::to_string(n) + " job" + (n == 1 ? "" : "s") + "…");
    return yes;
  }

  Session& s_;
  const CliOptions& options_;
  Console console_;
  bool terminal_;
  std::unique_ptr<LineInput> input_;
  bool done_ = false;
};

}  // namespace

int run_repl(Session& session, const CliOptions& options) {
  return Repl(session, options).run();
}

}  // namespace meanwhile::cli
