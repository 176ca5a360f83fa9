#include "agent/permissions.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "base/json_parse.h"
#include "lane/unique_fd.h"
#include "tools/format.h"

namespace meanwhile::agent {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr std::size_t kMaxRulesFileBytes = 1 << 20;
constexpr std::size_t kMaxRulesPerWorkspace = 1000;

bool asks(const std::string& tool) {
  return tool == "bash" || tool == "background_run" || tool == "write_file" || tool == "edit_file";
}

bool is_command_tool(const std::string& tool) {
  return tool == "bash" || tool == "background_run";
}

// Anything that can chain, redirect or substitute: a prefix rule never covers such a command
// ("npm test; rm -rf ~" is not "npm test").
bool has_shell_operator(std::string_view command) {
  return command.find_first_of(";&|<>`$()\n\r\\") != std::string_view::npos;
}

std::vector<std::string> words(std::string_view command) {
  std::vector<std::string> out;
  std::istringstream in{std::string(command)};
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// "npm test --watch" -> "npm test"; "make -j2" -> "make"; "ls" -> "ls". Tools whose first
// argument is a subcommand keep it, so that "always" for `git status` is not `git push`.
std::string command_pattern(const std::string& command) {
  static const std::set<std::string> kSubcommandTools = {
      "npm",    "npx",     "pnpm", "yarn", "bun",   "git",    "cargo",  "go",
      "docker", "kubectl", "pip",  "pip3", "uv",    "poetry", "bundle", "mix",
      "dotnet", "gradle",  "mvn",  "make", "cmake", "ctest",  "python", "python3"};
  if (has_shell_operator(command)) return command;  // only this exact command
  const auto w = words(command);
  if (w.empty()) return command;
  if (w.size() >= 2 && kSubcommandTools.count(w[0]) && w[1][0] != '-') return w[0] + " " + w[1];
  return w[0];
}

std::string trimmed(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// The path relative to the workspace, normalised; empty when it leaves the workspace.
std::string relative_path(const std::string& workspace, const std::string& path) {
  fs::path p = fs::path(path);
  if (p.is_relative()) p = fs::path(workspace) / p;
  fs::path rel = p.lexically_normal().lexically_relative(fs::path(workspace).lexically_normal());
  const std::string out = rel.string();
  if (out.empty() || out == "." || out.rfind("..", 0) == 0) return {};
  return out;
}

json read_rules_file(const std::string& path, std::string* warning) {
  std::error_code ec;
  if (path.empty() || !fs::exists(path, ec)) return json::object();
  std::ifstream in(path, std::ios::binary);
  std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    if (warning) *warning = path + ": cannot be read; no allow-rules are used";
    return json::object();
  }
  if (body.size() > kMaxRulesFileBytes) {
    if (warning) *warning = path + ": larger than 1 MiB; no allow-rules are used";
    return json::object();
  }
  JsonParse parsed = parse_json(body);
  if (!parsed.ok() || !parsed.value.is_object()) {
    if (warning) *warning = path + ": not a JSON object; no allow-rules are used";
    return json::object();
  }
  return std::move(parsed.value);
}

}  // namespace

std::optional<PermissionMode> parse_permission_mode(std::string_view text) {
  if (text == "ask") return PermissionMode::ask;
  if (text == "auto") return PermissionMode::auto_run;
  if (text == "read-only") return PermissionMode::read_only;
  return std::nullopt;
}

const char* to_string(PermissionMode mode) {
  switch (mode) {
    case PermissionMode::ask:
      return "ask";
    case PermissionMode::auto_run:
      return "auto";
    case PermissionMode::read_only:
      return "read-only";
  }
  return "?";
}

Permissions::Permissions(PermissionMode mode, std::string workspace, std::string rules_path,
                         std::string* warning)
    : mode_(mode), workspace_(std::move(workspace)), rules_path_(std::move(rules_path)) {
  const json file = read_rules_file(rules_path_, warning);
  auto ws = file.find("workspaces");
  if (ws == file.end() || !ws->is_object()) return;
  auto mine = ws->find(workspace_);
  if (mine == ws->end() || !mine->is_object()) return;
  auto allow = mine->find("allow");
  if (allow == mine->end() || !allow->is_array()) return;
  for (const json& item : *allow) {
    if (rules_.size() >= kMaxRulesPerWorkspace) break;
    if (!item.is_object()) continue;
    auto kind = item.find("kind");
    auto pattern = item.find("pattern");
    if (kind == item.end() || pattern == item.end() || !kind->is_string() || !pattern->is_string())
      continue;
    AllowRule rule{kind->get<std::string>(), pattern->get<std::string>()};
    if ((rule.kind != "command" && rule.kind != "write") || trimmed(rule.pattern).empty()) continue;
    rules_.push_back(std::move(rule));
  }
}

std::string Permissions::default_rules_path() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg == '/')
    return std::string(xdg) + "/meanwhile/permissions.json";
  if (const char* home = std::getenv("HOME"); home && *home == '/')
    return std::string(home) + "/.config/meanwhile/permissions.json";
  return {};
}

bool Permissions::allowed(const AllowRule& wanted) const {
  for (const AllowRule& rule : rules_) {
    if (rule.kind != wanted.kind) continue;
    if (rule.kind == "command") {
      const std::string& command = wanted.pattern;
      if (command == rule.pattern) return true;
      if (!has_shell_operator(command) && command.rfind(rule.pattern + " ", 0) == 0) return true;
    } else {
      const std::string& path = wanted.pattern;
      if (path.empty()) continue;  // outside the workspace: always asks
      if (path == rule.pattern) return true;
      if (!rule.pattern.empty() && rule.pattern.back() == '/' && path.rfind(rule.pattern, 0) == 0)
        return true;
    }
  }
  return false;
}

PermissionCheck Permissions::check(const std::string& tool, const json& input) const {
  PermissionCheck out;
  if (!asks(tool) || mode_ == PermissionMode::auto_run) return out;
  if (mode_ == PermissionMode::read_only) {
    out.verdict = Verdict::refuse;
    out.reason = fmt::format(
        "refused: meanwhile runs in read-only mode (--permission-mode read-only), so {} does not "
        "run: no commands, no file writes. Read and explain instead, and tell the user what you "
        "would run or change.",
        tool);
    return out;
  }
  const json args = input.is_object() ? input : json::object();
  out.request.tool = tool;
  if (is_command_tool(tool)) {
    const std::string command = args.value("command", json()).is_string()
                                    ? args["command"].get<std::string>()
                                    : std::string();
    if (allowed(AllowRule{"command", trimmed(command)})) return out;
    out.request.what = fmt::format("{} `{}`", tool == "bash" ? "run" : "run in the background",
                                   one_line(command, 300));
    out.request.rule = AllowRule{"command", command_pattern(trimmed(command))};
  } else {
    const std::string path =
        args.value("path", json()).is_string() ? args["path"].get<std::string>() : std::string();
    const std::string rel = relative_path(workspace_, path);
    if (allowed(AllowRule{"write", rel})) return out;
    std::string what = fmt::format("{} {}", tool == "write_file" ? "write" : "edit",
                                   one_line(rel.empty() ? path : rel, 300));
    if (tool == "write_file" && args.value("content", json()).is_string())
      what += fmt::format(" ({} bytes)", args["content"].get_ref<const std::string&>().size());
    out.request.what = std::move(what);
    const fs::path parent = fs::path(rel).parent_path();
    out.request.rule = AllowRule{"write", rel.empty()      ? path
                                          : parent.empty() ? rel
                                                           : parent.string() + "/"};
  }
  out.verdict = Verdict::ask;
  return out;
}

Status Permissions::allow(const AllowRule& rule) {
  // An empty pattern would match every call (a call without a path asks for one): never kept.
  if (trimmed(rule.pattern).empty())
    return make_error(ErrorCode::invalid_argument, "an allow-rule needs a pattern");
  if (std::find(rules_.begin(), rules_.end(), rule) != rules_.end()) return Ok{};
  rules_.push_back(rule);
  if (rules_path_.empty()) return Ok{};  // for this run only
  // Re-read the file: other workspaces' rules (and another session's) are kept.
  json file = read_rules_file(rules_path_, nullptr);
  if (!file.contains("workspaces") || !file["workspaces"].is_object())
    file["workspaces"] = json::object();
  json list = json::array();
  for (const AllowRule& r : rules_) list.push_back({{"kind", r.kind}, {"pattern", r.pattern}});
  file["version"] = 1;
  file["workspaces"][workspace_] = {{"allow", std::move(list)}};

  std::error_code ec;
  const fs::path path(rules_path_);
  fs::create_directories(path.parent_path(), ec);
  if (ec) return make_error("cannot create " + path.parent_path().string() + ": " + ec.message());
  ::chmod(path.parent_path().c_str(), 0700);
  const std::string tmp = rules_path_ + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return make_error("cannot write " + tmp + ": " + std::strerror(errno));
  const std::string body = file.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  bool ok = ::write(fd.get(), body.data(), body.size()) == static_cast<ssize_t>(body.size());
  ok = ::fsync(fd.get()) == 0 && ok;
  fd.reset();
  if (!ok || ::rename(tmp.c_str(), rules_path_.c_str()) != 0) {
    const int saved = errno;
    ::unlink(tmp.c_str());
    return make_error("cannot write " + rules_path_ + ": " + std::strerror(saved));
  }
  return Ok{};
}

}  // namespace meanwhile::agent
