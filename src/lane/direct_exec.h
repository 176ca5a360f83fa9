// Running a plain command without /bin/sh in between.
//
// `sh -c 'sleep 2'` costs two execs on Debian (dash forks for the last command too), and an exec
// is the largest cost of starting a job (docs/PERFORMANCE.md). A command that is one simple
// command made of plain words (no quotes, expansions, globs, redirections, operators,
// assignments or shell builtins) means the same with or without the shell, so the lane execs it
// directly. The child tries each candidate path in turn and falls back on `/bin/sh -c COMMAND`
// when none can be exec'd, so a missing command, a script without `#!` or a permission error
// behave exactly as with the shell (sh prints the error and exits 127 or 126).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace meanwhile {

struct DirectExec {
  std::vector<std::string> argv;        // the command's words
  std::vector<std::string> candidates;  // paths to try, in order (PATH search, or the word)
};

// The plan for `command`, or nullopt when it needs the shell. `path_var` is the PATH the job
// will see (the shell would search it); unset or empty means the shell's default.
std::optional<DirectExec> plan_direct_exec(std::string_view command,
                                           std::optional<std::string_view> path_var);

}  // namespace meanwhile
