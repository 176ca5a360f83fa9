// JobSpec <-> JSON for the store's spec column (declared in store.h).
//
// {"command": "...", "cwd": "...", "env": [["K", "V"], ...], "timeout_ms": 1000 | null,
//  "label": "...", "stdin": "null" | "pipe", "watch": "...", "after": ["3", ...],
//  "priority": 0, "log_cap_bytes": 123 | null, "executor": "local" | "slurm" | null,
//  "partition": "...", "cpus": 0, "memory": "...", "shards": 0}
// env is written as an array of pairs (order matters: a later pair overrides an earlier one);
// an object {"K": "V"} is accepted too. Missing fields keep their defaults. Never throws.
#include <nlohmann/json.hpp>

#include <limits>
#include <tuple>

#include "base/json_parse.h"
#include "lane/store.h"

namespace meanwhile {
namespace {

using nlohmann::json;

Error field_error(std::string_view field, std::string_view expected) {
  return make_error(ErrorCode::invalid_argument,
                    "job spec: field '" + std::string(field) + "' must be " + std::string(expected),
                    std::string(field));
}

// Reads one optional field; returns an error message (empty when fine).
std::optional<Error> read_string(const json& object, const char* field, std::string& out) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) return field_error(field, "a string");
  out = it->get<std::string>();
  return std::nullopt;
}

std::optional<Error> read_env(const json& object, JobSpec& spec) {
  auto it = object.find("env");
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (it->is_object()) {
    for (const auto& [key, value] : it->items()) {
      if (!value.is_string()) return field_error("env", "an object of strings");
      spec.env.emplace_back(key, value.get<std::string>());
    }
    return std::nullopt;
  }
  if (!it->is_array()) return field_error("env", "an object or an array of [name, value] pairs");
  for (const json& pair : *it) {
    if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() || !pair[1].is_string()) {
      return field_error("env", "an object or an array of [name, value] pairs");
    }
    spec.env.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
  }
  return std::nullopt;
}

std::optional<Error> read_after(const json& object, JobSpec& spec) {
  auto it = object.find("after");
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (!it->is_array()) return field_error("after", "an array of job ids");
  for (const json& id : *it) {
    if (id.is_string())
      spec.after.push_back(id.get<std::string>());
    else if (id.is_number_integer())
      spec.after.push_back(id.dump());
    else
      return field_error("after", "an array of job ids");
  }
  return std::nullopt;
}

Result<JobSpec> parse(const json& doc) {
  if (!doc.is_object()) return make_error("job spec: expected a JSON object");
  JobSpec spec;
  for (auto [field, out] :
       {std::pair{"command", &spec.command}, std::pair{"cwd", &spec.cwd},
        std::pair{"label", &spec.label}, std::pair{"watch", &spec.watch},
        std::pair{"partition", &spec.partition}, std::pair{"memory", &spec.memory}}) {
    if (auto error = read_string(doc, field, *out)) return *error;
  }
  if (auto error = read_env(doc, spec)) return *error;
  if (auto error = read_after(doc, spec)) return *error;
  if (auto it = doc.find("timeout_ms"); it != doc.end() && !it->is_null()) {
    if (!it->is_number_integer()) return field_error("timeout_ms", "an integer (milliseconds)");
    spec.timeout = std::chrono::milliseconds(it->get<std::int64_t>());
  }
  if (auto it = doc.find("stdin"); it != doc.end() && !it->is_null()) {
    if (*it == "null")
      spec.stdin_mode = StdinMode::null;
    else if (*it == "pipe")
      spec.stdin_mode = StdinMode::pipe;
    else
      return field_error("stdin", "\"null\" or \"pipe\"");
  }
  if (auto it = doc.find("priority"); it != doc.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < std::numeric_limits<int>::min() ||
        it->get<std::int64_t>() > std::numeric_limits<int>::max()) {
      return field_error("priority", "an integer");
    }
    spec.priority = it->get<int>();
  }
  // Bounded as submit() bounds them: a stored row is input (a repository can ship the store).
  for (auto [field, out, most] :
       {std::tuple{"cpus", &spec.cpus, 4096}, std::tuple{"shards", &spec.shards, kMaxShards}}) {
    auto it = doc.find(field);
    if (it == doc.end() || it->is_null()) continue;
    if (!it->is_number_integer() || it->get<std::int64_t>() < 0 || it->get<std::int64_t>() > most) {
      return field_error(field, "an integer from 0 to " + std::to_string(most));
    }
    *out = it->get<int>();
  }
  if (auto it = doc.find("executor"); it != doc.end() && !it->is_null()) {
    auto kind = it->is_string() ? parse_executor(it->get<std::string>()) : std::nullopt;
    if (!kind) return field_error("executor", "\"local\" or \"slurm\"");
    spec.executor = *kind;
  }
  if (auto it = doc.find("log_cap_bytes"); it != doc.end() && !it->is_null()) {
    if (!it->is_number_unsigned()) return field_error("log_cap_bytes", "a non-negative integer");
    spec.log_cap_bytes = it->get<std::uint64_t>();
  }
  return spec;
}

}  // namespace

std::string spec_to_json(const JobSpec& spec) {
  try {
    json doc = {{"command", spec.command}, {"cwd", spec.cwd},     {"label", spec.label},
                {"watch", spec.watch},     {"after", spec.after}, {"priority", spec.priority}};
    json env = json::array();
    for (const auto& [name, value] : spec.env) env.push_back({name, value});
    doc["env"] = std::move(env);
    doc["timeout_ms"] = spec.timeout ? json(spec.timeout->count()) : json(nullptr);
    doc["stdin"] = spec.stdin_mode == StdinMode::pipe ? "pipe" : "null";
    doc["log_cap_bytes"] = spec.log_cap_bytes ? json(*spec.log_cap_bytes) : json(nullptr);
    doc["executor"] = spec.executor ? json(to_string(*spec.executor)) : json(nullptr);
    // Only when set: most jobs are local, and their rows stay as they were.
    if (!spec.partition.empty()) doc["partition"] = spec.partition;
    if (spec.cpus != 0) doc["cpus"] = spec.cpus;
    if (!spec.memory.empty()) doc["memory"] = spec.memory;
    if (spec.shards != 0) doc["shards"] = spec.shards;
    // Invalid UTF-8 in a command must not make dump() throw: replace it.
    return doc.dump(-1, ' ', false, json::error_handler_t::replace);
  } catch (const std::exception&) {
    return "{}";  // not reachable with the replace handler; never throw out of the store
  }
}

Result<JobSpec> spec_from_json(const std::string& text) {
  try {
    JsonParse doc = parse_json(text);
    if (!doc.ok()) return make_error("job spec: " + doc.error);
    return parse(doc.value);
  } catch (const std::exception& e) {
    return make_error(std::string("job spec: ") + e.what());
  }
}

}  // namespace meanwhile
