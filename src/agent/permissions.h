// Permission modes: which tool calls of the agent run at once, which wait for the user's yes,
// and which are refused.
//
// ask (the REPL's default): bash, background_run, write_file, edit_file and background_input
// show what they will do and wait for y / n / a; "a" adds an allow-rule (a command prefix, or a
// directory for file writes) that lets the same kind of call run from then on. auto (-p's
// default): everything runs. read-only: those tools are refused with an error the model reads.
// Tools that only read (read_file, check_background, background_output, background_wait,
// background_kill of the session's own jobs) never ask.
//
// The rules live outside the workspace, in the user's configuration
// ($XDG_CONFIG_HOME/meanwhile/permissions.json, else ~/.config/…), under the workspace's path:
// a repository can ship .meanwhile/, and a shipped allow-rule must not allow anything.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "meanwhile/result.h"

namespace meanwhile::agent {

enum class PermissionMode { ask, auto_run, read_only };
std::optional<PermissionMode> parse_permission_mode(std::string_view text);
const char* to_string(PermissionMode mode);

// One allow-rule: `kind` "command" matches bash and background_run whose command is `pattern`
// or starts with `pattern` + " " and has no shell operator; "write" matches write_file and
// edit_file of a path equal to `pattern` or under it (a pattern ending in "/").
struct AllowRule {
  std::string kind;
  std::string pattern;
  bool operator==(const AllowRule&) const = default;
};

// A call that needs the user's answer.
struct PermissionRequest {
  std::string tool;
  std::string what;  // one line: "run `npm test`", "write src/a.c (120 bytes)"
  AllowRule rule;    // what "a" (always) would allow
};

enum class Verdict { run, ask, refuse };
struct PermissionCheck {
  Verdict verdict = Verdict::run;
  std::string reason;         // refuse: the error the model reads
  PermissionRequest request;  // ask
};

enum class Answer { yes, no, always };

class Permissions {
 public:
  // Loads the rules for `workspace` from `rules_path` (empty: no persistence). A missing file
  // is no rules; an unreadable or malformed one is no rules and a warning in *warning.
  Permissions(PermissionMode mode, std::string workspace, std::string rules_path,
              std::string* warning = nullptr);

  PermissionMode mode() const { return mode_; }
  // What to do with a call of `tool` with `input` (the model's arguments, not yet validated).
  PermissionCheck check(const std::string& tool, const nlohmann::json& input) const;
  // Adds the rule (for this workspace) and writes the file (0600, through a rename).
  Status allow(const AllowRule& rule);
  const std::vector<AllowRule>& rules() const { return rules_; }

  // $XDG_CONFIG_HOME/meanwhile/permissions.json, else $HOME/.config/meanwhile/permissions.json;
  // empty when neither is set.
  static std::string default_rules_path();

 private:
  bool allowed(const AllowRule& wanted) const;

  PermissionMode mode_;
  std::string workspace_;
  std::string rules_path_;
  std::vector<AllowRule> rules_;
};

}  // namespace meanwhile::agent
