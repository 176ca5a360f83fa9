#include "base/secrets.h"

#include <sys/prctl.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

extern char** environ;

namespace meanwhile::secrets {
namespace {

constexpr std::size_t kMinSecretBytes = 8;

struct Registry {
  std::mutex mutex;
  std::vector<std::string> values;  // longest first, so a value containing another goes first
  std::map<std::string, std::string> withheld;
};

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: used until the last thread ends
  return *r;
}

}  // namespace

void add(std::string value) {
  if (value.size() < kMinSecretBytes) return;
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  if (std::find(r.values.begin(), r.values.end(), value) != r.values.end()) return;
  r.values.push_back(std::move(value));
  std::stable_sort(r.values.begin(), r.values.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

bool contains_secret(std::string_view text) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  return std::any_of(r.values.begin(), r.values.end(),
                     [&](const std::string& v) { return text.find(v) != std::string_view::npos; });
}

std::string redact(std::string_view text) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::string out(text);
  for (const std::string& v : r.values) {
    for (std::size_t pos = out.find(v); pos != std::string::npos;
         pos = out.find(v, pos + kRedacted.size())) {
      out.replace(pos, v.size(), kRedacted);
    }
  }
  return out;
}

std::vector<std::string> parse_name_list(std::string_view text) {
  std::vector<std::string> out;
  std::string item;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    char c = i < text.size() ? text[i] : ',';
    if (c == ',' || c == ' ' || c == '\t' || c == '\n') {
      if (!item.empty()) out.push_back(std::move(item));
      item.clear();
    } else {
      item += c;
    }
  }
  return out;
}

bool name_matches(std::string_view pattern, std::string_view name) {
  if (!pattern.empty() && pattern.back() == '*') {
    return name.starts_with(pattern.substr(0, pattern.size() - 1));
  }
  return pattern == name;
}

std::vector<std::string> withhold_environment(const std::vector<std::string>& patterns) {
  std::vector<std::string> names;
  std::vector<char*> entries;  // the strings themselves: in the initial block unless setenv'd
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view name = entry.substr(0, eq);
    if (std::any_of(patterns.begin(), patterns.end(),
                    [&](const std::string& p) { return name_matches(p, name); })) {
      names.emplace_back(name);
      entries.push_back(*e);
    }
  }
  Registry& r = registry();
  for (std::size_t i = 0; i < names.size(); ++i) {
    char* value = entries[i] + names[i].size() + 1;
    std::string copy(value);
    {
      std::lock_guard lock(r.mutex);
      r.withheld[names[i]] = copy;
    }
    add(copy);
    // /proc/PID/environ reads the initial block from memory, whatever environ points to now:
    // only overwriting the bytes there takes the value out of it (root ignores DUMPABLE).
    std::memset(value, 0, std::strlen(value));
    ::unsetenv(names[i].c_str());
  }
  return names;
}

std::optional<std::string> withheld_value(const std::string& name) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  auto it = r.withheld.find(name);
  if (it == r.withheld.end()) return std::nullopt;
  return it->second;
}

bool make_undumpable() {
  return ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0;
}

}  // namespace meanwhile::secrets
