#include "cli/console.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "agent/conversation.h"
#include "cli/key_input.h"

namespace meanwhile::cli {
using nlohmann::json;

namespace {

// One line, at most `width` bytes, not cutting a UTF-8 character.
std::string one_line(std::string s, std::size_t width) {
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (s.size() <= width) return s;
  std::size_t cut = width;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "…";
}

// "[task 2] `long command` (label) running for 4.0s" reads as "task 2 running for 4.0s", and
// "started task 3: `command` (pid 9)." as "started task 3.": the tool line above already shows
// the command. (No std::regex here: g++ 12 warns inside <regex> under ASan.)
std::string shorten_task_title(const std::string& line) {
  std::size_t at = line.find("task ");
  if (at == std::string::npos) return line;
  std::size_t i = at + 5, digits = i;
  while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i]))) ++i;
  if (i == digits || i + 2 >= line.size() || (line[i] != ']' && line[i] != ':')) return line;
  if (line.compare(i + 1, 2, " `") != 0) return line;
  std::size_t close = line.find('`', i + 3);
  if (close == std::string::npos) return line;
  std::size_t rest = close + 1;
  if (line.compare(rest, 2, " (") == 0) {
    std::size_t paren = line.find(')', rest);
    if (paren != std::string::npos) rest = paren + 1;
  }
  std::size_t start = at > 0 && line[at - 1] == '[' ? at - 1 : at;
  return line.substr(0, start) + line.substr(at, i - at) + line.substr(rest);
}

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", s);
  return buf;
}

}  // namespace

// Colour on a terminal unless NO_COLOR is set to anything non-empty (no-color.org).
Console::Console(FILE* text_out, FILE* info_out)
    : text_out_(text_out),
      info_out_(info_out),
      color_(::isatty(fileno(info_out)) != 0 &&
             (std::getenv("NO_COLOR") == nullptr || *std::getenv("NO_COLOR") == '\0')) {}

std::string Console::style(const char* code, const std::string& s) const {
  if (!color_) return s;
  return std::string("\033[") + code + "m" + s + "\033[0m";
}

void Console::text(std::string_view delta) {
  if (delta.empty()) return;
  if (replayed_ != std::string::npos) {
    // A retry streams the reply from its start: what matches the part already shown is not
    // shown again.
    const std::size_t n = std::min(delta.size(), shown_.size() - replayed_);
    if (shown_.compare(replayed_, n, delta.substr(0, n)) == 0) {
      replayed_ += n;
      delta.remove_prefix(n);
      if (replayed_ < shown_.size()) return;
      replayed_ = std::string::npos;
      if (delta.empty()) return;
      std::fputs("…", text_out_);  // the reply goes on where it was cut
    } else {
      // The retried reply differs: show it whole, said as such.
      const std::string again = shown_.substr(0, replayed_);
      replayed_ = std::string::npos;
      shown_.clear();
      dim("(the retried reply differs from the part above; here it is from its start)");
      text(again);
    }
  }
  shown_.append(delta.data(), delta.size());
  std::fwrite(delta.data(), 1, delta.size(), text_out_);
  std::fflush(text_out_);
  text_open_ = delta.back() != '\n';
  streamed_ = true;
}

void Console::end_text() {
  if (text_open_) {
    std::fputc('\n', text_out_);
    std::fflush(text_out_);
    text_open_ = false;
  }
}

agent::Answer Console::ask(const agent::PermissionRequest& request, int in_fd, int interrupt_fd) {
  std::string always;
  if (request.rule.kind == "write")
    always = !request.rule.pattern.empty() && request.rule.pattern.back() == '/'
                 ? "files under " + request.rule.pattern
                 : request.rule.pattern;
  else
    always = "`" + one_line(request.rule.pattern, 60) + "` (and it with more arguments)";
  // Below the tool's line (it has no newline yet: its result goes there).
  std::fputc('\n', info_out_);
  info("  " + style("1;33", "? " + one_line(request.what, 200)) + "  " + style("1", "[y]") +
       "es  " + style("1", "[n]") + "o  " + style("1", "[a]") + "lways for " + always);
  for (;;) {
    const std::optional<char> key = read_key(in_fd, interrupt_fd);
    agent::Answer answer;
    const char* said;
    if (!key) {
      answer = agent::Answer::no;
      said = "no (interrupted)";
    } else if (*key == 'y' || *key == 'Y') {
      answer = agent::Answer::yes;
      said = "yes";
    } else if (*key == 'n' || *key == 'N' || *key == 27) {
      answer = agent::Answer::no;
      said = "no";
    } else if (*key == 'a' || *key == 'A') {
      answer = agent::Answer::always;
      said = "always";
    } else {
      continue;  // Enter and stray keys decide nothing
    }
    dim(std::string("  → ") + said);
    if (!tool_line_
             .empty()) {  // the result's preview goes after the tool's line, as without a question
      std::fputs(style("2", tool_line_).c_str(), info_out_);
      std::fflush(info_out_);
    }
    return answer;
  }
}

void Console::info(const std::string& line) {
  end_text();
  std::fputs(line.c_str(), info_out_);
  std::fputc('\n', info_out_);
  std::fflush(info_out_);
}

void Console::dim(const std::string& line) {
  info(style("2", line));
}

void Console::error(const std::string& line) {
  end_text();
  std::fprintf(stderr, "meanwhile: error: %s\n", line.c_str());
  std::fflush(stderr);
}

void Console::notes(const std::vector<Note>& notes) {
  for (const Note& note : notes) {
    // A failure must not look like a success: red, and marked in words for NO_COLOR.
    const bool failed = note.kind == NoteKind::finished && !note.info.succeeded();
    info(style(failed ? "1;31" : "1;36",
               std::string(failed ? "✗" : "──") + " background: " + describe_note(note) + " ──"));
  }
}

agent::LoopEvents Console::loop_events() {
  agent::LoopEvents events;
  events.on_request = [this](int) {
    streamed_ = false;
    shown_.clear();
    replayed_ = std::string::npos;
  };
  events.on_text = [this](std::string_view delta) { text(delta); };
  events.on_assistant = [this](const json& message) {
    // Providers that do not stream (the script provider may not) still get their text shown.
    if (!streamed_) text(agent::message_text(message));
    end_text();
  };
  events.on_tool_use = [this](const json& use) {
    end_text();
    std::string name = use.value("name", "?");
    json input = use.contains("input") ? use["input"] : json::object();
    std::string line = "▸ " + name + " " + summarize_tool_input(name, input);
    tool_line_ = line;
    std::fputs(style("2", line).c_str(), info_out_);
    std::fflush(info_out_);
  };
  events.on_tool_result = [this](const json&, const ToolResult& result) {
    std::string preview = " → " + preview_result(result);
    std::fputs(style(result.is_error ? "31" : "2", preview).c_str(), info_out_);
    std::fputc('\n', info_out_);
    std::fflush(info_out_);
  };
  events.on_compacted = [this](std::size_t replaced, std::size_t tokens) {
    dim("(compacted: " + std::to_string(replaced) + " earlier messages, about " +
        std::to_string(tokens) +
        " tokens, replaced by a summary; the next request lists every live job)");
  };
  events.on_background_results = [this](const std::vector<Note>& list, const std::string&) {
    notes(list);
  };
  events.on_retry = [this](int attempt, const std::string& why, std::chrono::milliseconds wait) {
    if (!shown_.empty()) replayed_ = 0;  // the next attempt starts the reply again
    dim("(attempt " + std::to_string(attempt) + " failed: " + one_line(why, 120) +
        "; retrying in " + seconds(wait.count() / 1000.0) + ")");
  };
  return events;
}

std::string summarize_tool_input(const std::string& name, const json& input) {
  if (!input.is_object()) return one_line(input.dump(), 70);
  for (const char* key : {"command", "path", "task_id", "task_ids"}) {
    if (!input.contains(key)) continue;
    const json& v = input[key];
    std::string s = v.is_string() ? v.get<std::string>() : v.dump();
    if (name == "background_run" && input.contains("label") && input["label"].is_string()) {
      s = "[" + input["label"].get<std::string>() + "] " + s;
    }
    return one_line(s, 60);
  }
  return input.empty() ? ""
                       : one_line(input.dump(-1, ' ', false, json::error_handler_t::replace), 70);
}

std::string preview_result(const ToolResult& result, std::size_t width) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  const std::string& t = result.text;
  while (pos < t.size()) {
    std::size_t nl = t.find('\n', pos);
    if (nl == std::string::npos) nl = t.size();
    std::string line = t.substr(pos, nl - pos);
    if (line.find_first_not_of(" \t\r") != std::string::npos) lines.push_back(line);
    pos = nl + 1;
  }
  if (lines.empty()) return result.is_error ? "error" : "(no output)";
  std::string first = shorten_task_title(lines[0]);
  std::size_t used = 1;
  if (!first.empty() && first.back() == ':' && lines.size() > 1) {  // "1 event after 4.0s:"
    first += " " + shorten_task_title(lines[1]);
    used = 2;
  }
  std::string out = (result.is_error ? "error: " : "") + one_line(first, width);
  if (lines.size() > used) out += " (+" + std::to_string(lines.size() - used) + " lines)";
  return out;
}

std::string describe_note(const Note& note) {
  const JobInfo& job = note.info;
  std::string who = "task " + job.id;
  std::string what = !job.spec.label.empty() ? job.spec.label : one_line(job.spec.command, 40);
  who += " (" + what + ")";
  switch (note.kind) {
    case NoteKind::matched:
      return who + " printed a watched line: " +
             one_line(note.lines.empty() ? "" : note.lines.back(), 60);
    case NoteKind::stalled:
      return who + " has printed nothing for a while";
    case NoteKind::finished:
      break;
  }
  std::string status = to_string(job.status);
  if (job.status == JobStatus::exited && job.exit_code) {
    status = "exited " + std::to_string(*job.exit_code);
  } else if (job.term_signal) {
    status += " (signal " + std::to_string(*job.term_signal) + ")";
  }
  std::string out = who + " " + status + " after " + seconds(job.elapsed_seconds());
  if (!job.last_line.empty()) out += ": " + one_line(job.last_line, 60);
  return out;
}

}  // namespace meanwhile::cli
