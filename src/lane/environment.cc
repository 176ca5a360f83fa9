#include "lane/environment.h"

#include <unistd.h>

#include <algorithm>

#include "lane/proc.h"

extern char** environ;

namespace meanwhile {
namespace {

constexpr std::string_view kJobIdVariable = "MEANWHILE_JOB_ID";

std::string_view key_of(std::string_view entry) {
  return entry.substr(0, entry.find('='));
}

}  // namespace

JobEnvironment JobEnvironment::from_host() {
  static constexpr std::pair<std::string_view, std::string_view> kDefaults[] = {
      {"PAGER", "cat"}, {"GIT_PAGER", "cat"}, {"TERM", "dumb"}};
  JobEnvironment env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    std::string_view key = key_of(text);
    if (key == kJobIdVariable || key == proc::kMarkVariable) continue;  // set per job
    bool is_default = std::any_of(std::begin(kDefaults), std::end(kDefaults),
                                  [&](const auto& d) { return d.first == key; });
    if (!is_default) env.base_.emplace_back(text);
  }
  for (const auto& [key, value] : kDefaults) {
    env.base_.push_back(std::string(key) + "=" + std::string(value));
  }
  return env;
}

Status JobEnvironment::check(const std::vector<std::pair<std::string, std::string>>& vars) {
  for (const auto& [key, value] : vars) {
    if (key.empty())
      return make_error(ErrorCode::invalid_argument, "environment variable with an empty name");
    if (key.find('=') != std::string::npos || key.find('\0') != std::string::npos) {
      return make_error(ErrorCode::invalid_argument, "invalid environment variable name '" + key +
                                                         "': it must not contain '=' or NUL");
    }
    if (value.find('\0') != std::string::npos) {
      return make_error(ErrorCode::invalid_argument,
                        "environment variable " + key + " contains a NUL byte");
    }
  }
  return Ok{};
}

EnvBlock JobEnvironment::build(const std::vector<std::pair<std::string, std::string>>& spec_env,
                               std::string_view job_id, std::string_view mark,
                               std::string_view cwd) const {
  EnvBlock block;
  block.owned.reserve(spec_env.size() + 3);
  block.envp.reserve(base_.size() + spec_env.size() + 4);
  const bool spec_sets_pwd = std::any_of(spec_env.begin(), spec_env.end(),
                                         [](const auto& var) { return var.first == "PWD"; });
  const bool set_pwd = !cwd.empty() && !spec_sets_pwd;
  auto overridden = [&](std::string_view key) {
    if (key == kJobIdVariable || key == proc::kMarkVariable) return true;
    if (key == "PWD" && set_pwd) return true;
    return std::any_of(spec_env.begin(), spec_env.end(),
                       [&](const auto& var) { return var.first == key; });
  };
  for (const auto& entry : base_) {
    if ((spec_env.empty() && !set_pwd) || !overridden(key_of(entry))) {
      block.envp.push_back(const_cast<char*>(entry.c_str()));
    }
  }
  // A later duplicate in the spec wins: add each key once, with its last value.
  for (std::size_t i = 0; i < spec_env.size(); ++i) {
    // Not a structured binding: clang 14 cannot capture one in the lambda below.
    const auto& key = spec_env[i].first;
    const auto& value = spec_env[i].second;
    bool later = std::any_of(spec_env.begin() + static_cast<std::ptrdiff_t>(i) + 1, spec_env.end(),
                             [&](const auto& var) { return var.first == key; });
    if (later || key == kJobIdVariable || key == proc::kMarkVariable) continue;
    block.owned.push_back(key + "=" + value);
  }
  // The job's directory, as a shell started there would set it: a plain command exec'd without
  // the shell (direct_exec.h) must not see the host's PWD.
  if (set_pwd) block.owned.push_back("PWD=" + std::string(cwd));
  block.owned.push_back(std::string(kJobIdVariable) + "=" + std::string(job_id));
  block.owned.push_back(std::string(proc::kMarkVariable) + "=" + std::string(mark));
  for (auto& entry : block.owned) block.envp.push_back(entry.data());
  block.envp.push_back(nullptr);
  return block;
}

std::optional<std::string_view> EnvBlock::get(std::string_view name) const {
  for (const char* entry : envp) {
    if (entry == nullptr) break;
    std::string_view view(entry);
    if (view.size() > name.size() && view[name.size()] == '=' && view.starts_with(name)) {
      return view.substr(name.size() + 1);
    }
  }
  return std::nullopt;
}

}  // namespace meanwhile
