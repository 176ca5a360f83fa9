#include "lane/direct_exec.h"

#include <algorithm>
#include <iterator>

namespace meanwhile {
namespace {

// Characters that mean the same to the shell as to the command: no quoting, expansion,
// globbing, redirection, operator, comment, tilde or history character is among them.
bool plain_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == '/' || c == '+' || c == ':' || c == ',' || c == '@' ||
         c == '%' || c == '=';
}

// dash's builtins and the shell's reserved words: these behave differently (or only exist)
// inside the shell, even where a program of the same name exists (pwd, echo, kill, test).
constexpr std::string_view kShellWords[] = {
    ".",       ":",        "[",      "alias",  "bg",     "break", "case",    "cd",     "chdir",
    "command", "continue", "do",     "done",   "echo",   "elif",  "else",    "esac",   "eval",
    "exec",    "exit",     "export", "false",  "fc",     "fg",    "fi",      "for",    "function",
    "getopts", "hash",     "if",     "in",     "jobs",   "kill",  "local",   "printf", "pwd",
    "read",    "readonly", "return", "select", "set",    "shift", "test",    "then",   "time",
    "times",   "trap",     "true",   "type",   "ulimit", "umask", "unalias", "unset",  "until",
    "wait",    "while",    "{",      "}",      "!"};

bool shell_word(std::string_view word) {
  return std::find(std::begin(kShellWords), std::end(kShellWords), word) != std::end(kShellWords);
}

// dash's search path when PATH is unset.
constexpr std::string_view kDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

}  // namespace

std::optional<DirectExec> plan_direct_exec(std::string_view command,
                                           std::optional<std::string_view> path_var) {
  DirectExec plan;
  std::size_t i = 0;
  while (i < command.size()) {
    const char c = command[i];
    if (c == ' ' || c == '\t') {
      ++i;
      continue;
    }
    if (!plain_char(c)) return std::nullopt;
    std::size_t end = i;
    while (end < command.size() && plain_char(command[end])) ++end;
    if (end < command.size() && command[end] != ' ' && command[end] != '\t') return std::nullopt;
    plan.argv.emplace_back(command.substr(i, end - i));
    i = end;
  }
  if (plan.argv.empty()) return std::nullopt;
  const std::string& name = plan.argv.front();
  // An assignment (`CC=gcc make`), a builtin or keyword, or a name the shell treats specially.
  if (name.find('=') != std::string::npos || shell_word(name) || name.front() == '-' ||
      name.front() == '%') {
    return std::nullopt;
  }
  if (name.find('/') != std::string::npos) {
    plan.candidates.push_back(name);  // relative to the job's working directory, like the shell
    return plan;
  }
  std::string_view path = path_var && !path_var->empty() ? *path_var : kDefaultPath;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t colon = path.find(':', start);
    if (colon == std::string_view::npos) colon = path.size();
    std::string_view dir = path.substr(start, colon - start);
    // An empty entry means the working directory; so does ".". Either is a path the child
    // resolves after its chdir().
    std::string candidate = dir.empty() ? std::string(".") : std::string(dir);
    candidate += '/';
    candidate += name;
    plan.candidates.push_back(std::move(candidate));
    start = colon + 1;
  }
  return plan;
}

}  // namespace meanwhile
