// The environment of a job: the host's (snapshot taken when the lane opens), non-interactive
// defaults (PAGER=cat, GIT_PAGER=cat, TERM=dumb), the spec's variables, and the job's
// MEANWHILE_JOB_ID and MEANWHILE_JOB_MARK (inherited by every descendant: how kill finds them).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "meanwhile/result.h"

namespace meanwhile {

struct EnvBlock {
  std::vector<std::string> owned;  // entries made for this job
  std::vector<char*> envp;         // null-terminated, points into the base and `owned`

  // The value of `name` as the job will see it; nullopt when unset.
  std::optional<std::string_view> get(std::string_view name) const;
};

class JobEnvironment {
 public:
  static JobEnvironment from_host();

  // An error for a variable name that execve could not carry (empty, '=' or NUL in it).
  static Status check(const std::vector<std::pair<std::string, std::string>>& vars);

  // The job's environment; `cwd` (when not empty) becomes PWD unless spec_env sets it.
  EnvBlock build(const std::vector<std::pair<std::string, std::string>>& spec_env,
                 std::string_view job_id, std::string_view mark, std::string_view cwd = {}) const;

 private:
  std::vector<std::string> base_;  // "KEY=VALUE"
};

}  // namespace meanwhile
