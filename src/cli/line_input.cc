#include "cli/line_input.h"

#include <editline/readline.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <utility>

namespace meanwhile::cli {
namespace {

class LibeditInput final : public LineInput {
 public:
  explicit LibeditInput(std::string history_path) : history_path_(std::move(history_path)) {
    rl_catch_signals = 0;  // Ctrl+C is ours (the Interrupt pipe), not libedit's
    rl_catch_sigwinch = 0;
    using_history();
    stifle_history(1000);
    if (!history_path_.empty()) read_history(history_path_.c_str());
    active_ = this;
  }
  ~LibeditInput() override {
    stop();
    if (!history_path_.empty()) write_history(history_path_.c_str());
    if (active_ == this) active_ = nullptr;
  }

  void start(const std::string& prompt) override {
    prompt_ = prompt;
    rl_callback_handler_install(prompt_.c_str(), &LibeditInput::on_line);
    installed_ = true;
    typed_ = false;
  }
  void stop() override {
    if (!installed_) return;
    rl_callback_handler_remove();
    installed_ = false;
  }
  void on_readable() override {
    if (!installed_) return;
    rl_callback_read_char();
    // A key that did not end the line: rl_line_buffer now holds what is being typed.
    if (!line_ && !eof_) typed_ = true;
  }
  std::optional<std::string> take_line() override { return std::exchange(line_, std::nullopt); }
  bool eof() const override { return eof_; }
  // libedit keeps the line last sent in rl_line_buffer until the next key is read: before one,
  // nothing is half-typed (returning the buffer put the sent line back, and Enter resent it).
  std::string partial() const override {
    return installed_ && typed_ && rl_line_buffer ? std::string(rl_line_buffer) : std::string();
  }
  void restore(const std::string& text) override {
    if (text.empty() || !installed_) return;
    rl_insert_text(text.c_str());
    // Redraw from column 0: libedit's redraw assumes the cursor is at the line start.
    std::fputs("\r", stdout);
    std::fflush(stdout);
    rl_forced_update_display();
  }
  void erase_line() override {
    std::fputs("\r\033[K", stdout);
    std::fflush(stdout);
  }
  void remember(const std::string& line) override {
    add_history(line.c_str());
    if (!history_path_.empty()) write_history(history_path_.c_str());
  }

 private:
  static void on_line(char* line) {
    if (!active_) return;
    if (line == nullptr) {
      active_->eof_ = true;
    } else {
      active_->line_ = std::string(line);
      std::free(line);
    }
    active_->typed_ = false;
  }

  static inline LibeditInput* active_ = nullptr;
  std::string history_path_;
  std::string prompt_;
  bool installed_ = false;
  bool typed_ = false;  // a key was read since start() or since the last line ended
  bool eof_ = false;
  std::optional<std::string> line_;
};

class PlainInput final : public LineInput {
 public:
  void start(const std::string& prompt) override {
    std::fputs(prompt.c_str(), stdout);
    std::fflush(stdout);
  }
  void stop() override {}
  void on_readable() override {
    char buf[4096];
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
      if (!pending_.empty()) lines_.push_back(std::exchange(pending_, ""));
      eof_ = true;
      return;
    }
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] == '\n') {
        lines_.push_back(std::exchange(pending_, ""));
      } else {
        pending_ += buf[i];
      }
    }
  }
  std::optional<std::string> take_line() override {
    if (lines_.empty()) return std::nullopt;
    std::string line = std::move(lines_.front());
    lines_.pop_front();
    return line;
  }
  bool eof() const override { return eof_ && lines_.empty(); }
  std::string partial() const override { return {}; }  // kept in pending_, never lost
  void restore(const std::string&) override {}
  void erase_line() override {
    std::fputs("\n", stdout);
    std::fflush(stdout);
  }
  void remember(const std::string&) override {}

 private:
  std::string pending_;
  std::deque<std::string> lines_;
  bool eof_ = false;
};

}  // namespace

std::unique_ptr<LineInput> make_line_input(bool terminal, const std::string& history_path) {
  if (terminal) return std::make_unique<LibeditInput>(history_path);
  return std::make_unique<PlainInput>();
}

}  // namespace meanwhile::cli
