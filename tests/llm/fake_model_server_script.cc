#include "fake_model_server_script.h"

#include <fmt/format.h>

#include <set>

#include "llm/script.h"

namespace fake_server {

using meanwhile::make_error;
using nlohmann::json;

namespace {

const std::set<std::string> kKnownFields = {
    "role",          "content",      "stop_reason",   "usage",         "status",
    "retry_after",   "body",         "error_message", "error_type",    "disconnect_after_events",
    "malformed_sse", "stream_error", "delay_ms",      "chunk_delay_ms"};

meanwhile::Result<int> non_negative_int(const json& entry, const char* key) {
  const json& value = entry[key];
  if (!value.is_number_integer() || value.get<long long>() < 0 ||
      value.get<long long>() > 86'400'000) {
    return make_error(fmt::format("\"{}\" must be a non-negative integer", key));
  }
  return value.get<int>();
}

meanwhile::Result<Entry> parse_entry(const json& value, int& tool_ids_issued) {
  Entry entry;
  if (value.is_array()) {
    auto reply = meanwhile::llm::scripted_response(value, tool_ids_issued);
    if (!reply.ok()) return make_error(reply.error());
    entry.reply = std::move(*reply);
    return entry;
  }
  if (!value.is_object()) return make_error("expected an object or an array of content blocks");
  for (const auto& [key, field] : value.items()) {
    if (!kKnownFields.count(key)) return make_error(fmt::format("unknown field \"{}\"", key));
  }
  if (value.contains("status")) {
    auto status = non_negative_int(value, "status");
    if (!status.ok()) return make_error(status.error());
    if (*status < 200 || *status > 599) return make_error("\"status\" must be 200..599");
    entry.status = *status;
  }
  if (value.contains("retry_after")) {
    if (!value["retry_after"].is_number() || value["retry_after"].get<double>() < 0) {
      return make_error("\"retry_after\" must be a non-negative number of seconds");
    }
    entry.retry_after = value["retry_after"].get<double>();
  }
  if (value.contains("body")) entry.body = value["body"];
  for (auto [key, target] : {std::pair{"error_message", &entry.error_message},
                             std::pair{"error_type", &entry.error_type},
                             std::pair{"stream_error", &entry.stream_error}}) {
    if (!value.contains(key)) continue;
    if (!value[key].is_string()) return make_error(fmt::format("\"{}\" must be a string", key));
    *target = value[key].get<std::string>();
  }
  if (value.contains("malformed_sse")) {
    if (!value["malformed_sse"].is_boolean())
      return make_error("\"malformed_sse\" must be true or false");
    entry.malformed_sse = value["malformed_sse"].get<bool>();
  }
  for (auto [key, target] : {std::pair{"disconnect_after_events", &entry.disconnect_after_events},
                             std::pair{"delay_ms", &entry.delay_ms},
                             std::pair{"chunk_delay_ms", &entry.chunk_delay_ms}}) {
    if (!value.contains(key)) continue;
    auto number = non_negative_int(value, key);
    if (!number.ok()) return make_error(number.error());
    *target = *number;
  }
  bool needs_content = entry.status < 400 && !entry.malformed_sse && entry.stream_error.empty();
  if (value.contains("content") || needs_content) {
    auto reply = meanwhile::llm::scripted_response(value, tool_ids_issued);
    if (!reply.ok()) return make_error(reply.error());
    entry.reply = std::move(*reply);
  }
  return entry;
}

}  // namespace

meanwhile::Result<std::vector<Entry>> load_script(const std::string& path) {
  auto lines = meanwhile::llm::read_jsonl(path);
  if (!lines.ok()) return make_error(lines.error());
  std::vector<Entry> entries;
  int tool_ids_issued = 0;
  for (const auto& line : *lines) {
    auto entry = parse_entry(line.value, tool_ids_issued);
    if (!entry.ok())
      return make_error(fmt::format("{} line {}: {}", path, line.line_number, entry.error()));
    entry->line_number = line.line_number;
    entries.push_back(std::move(*entry));
  }
  return entries;
}

}  // namespace fake_server
