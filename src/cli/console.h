// Text rendering for people (REPL and print mode's text output): the model's text streamed as it
// arrives, each tool call as one line with a short preview of its result, background results
// as a rule line. `text_out` gets the model's text; `info_out` gets everything else.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/loop.h"
#include "meanwhile/lane.h"
#include "meanwhile/tools.h"

namespace meanwhile::cli {

class Console {
 public:
  Console(FILE* text_out, FILE* info_out);

  agent::LoopEvents loop_events();

  // One line on info_out, after ending an open line of streamed text.
  void info(const std::string& line);
  void dim(const std::string& line);    // info(), dimmed on a terminal
  void error(const std::string& line);  // "meanwhile: error: ..." on stderr
  void end_text();                      // ends an open line of streamed text
  // "── background: task 3 (tests) exited 0 after 2.0s ──" for each note.
  void notes(const std::vector<Note>& notes);
  // --permission-mode ask: shows what the call will do and reads y / n / a from `in_fd`, a key
  // at a time (other keys are ignored). Ctrl+C (`interrupt_fd`) or the end of input is a no.
  agent::Answer ask(const agent::PermissionRequest& request, int in_fd, int interrupt_fd);

 private:
  void text(std::string_view delta);
  std::string style(const char* code, const std::string& s) const;

  FILE* text_out_;
  FILE* info_out_;
  bool color_;
  bool text_open_ = false;  // streamed text without its final newline
  bool streamed_ = false;   // text arrived through on_text during this model call
  std::string tool_line_;   // the last tool call's line, printed again after a question
  std::string shown_;       // the reply's text shown during this model call (all attempts)
  std::size_t replayed_ = std::string::npos;  // after a retry: how much of shown_ came again
};

// Short forms used in tool lines and job status lines.
std::string summarize_tool_input(const std::string& name, const nlohmann::json& input);
std::string preview_result(const ToolResult& result, std::size_t width = 80);
std::string describe_note(const Note& note);

}  // namespace meanwhile::cli
