// ToolRegistry: finds a tool, validates its arguments against the input schema, runs it, and
// turns every failure into an is_error result. Nothing escapes as an exception.
#include <sys/stat.h>

#include <algorithm>

#include <fmt/format.h>

#include "base/json_parse.h"
#include "base/secrets.h"
#include "meanwhile/tools.h"
#include "tools/tools_internal.h"

namespace meanwhile {
namespace {

using nlohmann::json;

// Models send task ids both as "12" and as 12. The schemas say string (that is what the lane's
// ids are); a non-negative integer where a task id belongs is accepted as its decimal string
// before validation. Anything else still fails validation with the usual message.
bool is_task_id_key(const std::string& key) {
  return key == "task_id" || key == "task_ids" || key == "after";
}

void normalise_task_id(json& value) {
  if (value.is_number_unsigned() || (value.is_number_integer() && value.get<long long>() >= 0))
    value = std::to_string(value.get<unsigned long long>());
}

void normalise_task_ids(json& args) {
  for (auto& [key, value] : args.items()) {
    if (!is_task_id_key(key)) continue;
    if (value.is_array())
      for (auto& item : value) normalise_task_id(item);
    else
      normalise_task_id(value);
  }
}

std::string serialized(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// "arguments are too large (...); largest field: content (...)".
std::string too_large_message(const json& args, std::size_t size) {
  std::string message =
      fmt::format("arguments are too large: {} serialized (the limit is {})", format_bytes(size),
                  format_bytes(ToolRegistry::kMaxArgumentBytes));
  std::string largest;
  std::size_t largest_size = 0;
  if (args.is_object()) {
    for (const auto& [key, value] : args.items()) {
      std::size_t n = serialized(value).size();
      if (n > largest_size) {
        largest = key;
        largest_size = n;
      }
    }
  }
  if (!largest.empty())
    message += fmt::format("; the largest field is {} ({})", largest, format_bytes(largest_size));
  return message + ". Send less at once, e.g. write a large file in several edits.";
}

// The call went ahead without fields this tool does not take: the result says which, in both
// channels, so that a model relying on one of them learns it had no effect.
void note_ignored_fields(ToolResult& result, const std::vector<std::string>& ignored) {
  std::string names;
  for (const auto& field : ignored) names += (names.empty() ? "" : ", ") + one_line(field, 100);
  result.text += fmt::format("\n(ignored {} {}: this tool does not take {})",
                             ignored.size() == 1 ? "field" : "fields", names,
                             ignored.size() == 1 ? "it" : "them");
  if (result.structured.is_object()) {
    json list = json::array();
    for (const auto& field : ignored) list.push_back(one_line(field, 100));
    result.structured["ignored_fields"] = std::move(list);
  }
}

}  // namespace

ToolResult error_result(std::string text, json structured) {
  ToolResult result;
  result.text = std::move(text);
  result.structured = std::move(structured);
  result.is_error = true;
  return result;
}

std::string string_arg(const json& args, const char* key, std::string fallback) {
  auto it = args.find(key);
  if (it == args.end() || it->is_null()) return fallback;
  return it->is_string() ? it->get<std::string>() : fallback;
}

JobId task_id_arg(const json& args, const char* key) {
  return string_arg(args, key);
}

Result<std::string> job_cwd(const std::string& cwd, const ToolContext& ctx) {
  if (cwd.empty()) return ctx.workspace;
  std::string path = cwd[0] == '/' ? cwd : ctx.workspace + "/" + cwd;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return make_error("cwd " + cwd + " does not exist");
  if (!S_ISDIR(st.st_mode)) return make_error("cwd " + cwd + " is not a directory");
  return path;
}

json annotations(const std::string& title, bool read_only, bool destructive, bool idempotent) {
  return json{{"title", title},
              {"readOnlyHint", read_only},
              {"destructiveHint", destructive},
              {"idempotentHint", idempotent},
              {"openWorldHint", false}};
}

ToolRegistry ToolRegistry::standard(Frontend frontend) {
  ToolRegistry registry;
  registry.add(bash_tool());
  for (auto& def : file_tools()) registry.add(std::move(def));
  for (auto& def : background_tools(frontend)) registry.add(std::move(def));
  return registry;
}

void ToolRegistry::add(ToolDef def) {
  auto same = std::find_if(tools_.begin(), tools_.end(),
                           [&](const ToolDef& t) { return t.name == def.name; });
  if (same != tools_.end())
    *same = std::move(def);  // a later definition replaces an earlier one of the same name
  else
    tools_.push_back(std::move(def));
}

const ToolDef* ToolRegistry::find(const std::string& name) const {
  for (const auto& def : tools_)
    if (def.name == name) return &def;
  return nullptr;
}

namespace {

// A job can print a withheld key (read from a file, say): no tool result carries it out, to the
// model or to an MCP client.
ToolResult redacted(ToolResult result) {
  if (secrets::contains_secret(result.text)) result.text = secrets::redact(result.text);
  if (!result.structured.is_null()) {
    std::string dumped = result.structured.dump(-1, ' ', false, json::error_handler_t::replace);
    if (secrets::contains_secret(dumped)) {
      JsonParse parsed = parse_json(secrets::redact(dumped));
      result.structured = parsed.ok() ? std::move(parsed.value) : json();
    }
  }
  return result;
}

}  // namespace

ToolResult ToolRegistry::call(const std::string& name, const json& args, ToolContext& ctx) const {
  return redacted(call_checked(name, args, ctx));
}

ToolResult ToolRegistry::call_checked(const std::string& name, const json& args,
                                      ToolContext& ctx) const {
  try {
    const ToolDef* def = find(name);
    if (def == nullptr) {
      std::string available;
      for (const auto& t : tools_) available += (available.empty() ? "" : ", ") + t.name;
      return error_result(fmt::format("unknown tool {}; available: {}", one_line(name, 100),
                                      available.empty() ? "(none)" : available));
    }
    // MCP allows omitting `arguments`; a tool whose fields are all optional then just works.
    json input = args.is_null() ? json::object() : args;
    if (!input.is_object())
      return error_result(fmt::format("{}: arguments must be a JSON object, got {}", name,
                                      describe_json_value(input)));
    // The provider could not turn the model's arguments into an object (not JSON, or nested
    // too deep): say why rather than "unexpected property _invalid_arguments".
    if (auto bad = input.find("_invalid_arguments");
        bad != input.end() && bad->is_string() && input.size() == 1)
      return error_result(name + ": invalid arguments: " + one_line(bad->get<std::string>(), 300));
    if (std::size_t size = serialized(input).size(); size > kMaxArgumentBytes)
      return error_result(name + ": " + too_large_message(input, size));
    normalise_task_ids(input);
    std::vector<std::string> ignored;
    if (ctx.frontend == Frontend::mcp) ignored = drop_unknown_fields(def->input_schema, input);
    if (auto valid = validate_json(def->input_schema, input); !valid)
      return error_result(name + ": invalid arguments: " + valid.error());
    if (!def->run) return error_result("tool " + name + " has no implementation");
    ToolResult result = def->run(input, ctx);
    if (!ignored.empty()) note_ignored_fields(result, ignored);
    return result;
  } catch (const std::exception& e) {
    return error_result(fmt::format("tool {} failed: {}", one_line(name, 100), e.what()));
  } catch (...) {
    return error_result(fmt::format("tool {} failed with an unknown error", one_line(name, 100)));
  }
}

}  // namespace meanwhile
