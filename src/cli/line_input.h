// Reading the REPL's lines without blocking the event loop: the caller polls stdin itself and
// calls on_readable(), so a background note can start a turn while the user is typing.
// On a terminal, libedit's callback interface gives line editing and history; otherwise
// (stdin is a pipe or file) lines are split from plain reads.
#pragma once

#include <memory>
#include <optional>
#include <string>

namespace meanwhile::cli {

class LineInput {
 public:
  virtual ~LineInput() = default;
  virtual void start(const std::string& prompt) = 0;  // shows the prompt; reading begins
  virtual void stop() = 0;                            // terminal back to normal mode
  virtual void on_readable() = 0;                     // stdin has bytes
  virtual std::optional<std::string> take_line() = 0;
  virtual bool eof() const = 0;                        // Ctrl+D on an empty line, or end of input
  virtual std::string partial() const = 0;             // the half-typed line
  virtual void restore(const std::string& text) = 0;   // after start(): puts text back on the line
  virtual void erase_line() = 0;                       // after stop(): wipes the prompt line
  virtual void remember(const std::string& line) = 0;  // history
};

// `history_path` empty: no history file.
std::unique_ptr<LineInput> make_line_input(bool terminal, const std::string& history_path);

}  // namespace meanwhile::cli
