// Helpers shared by the tool registry, the tools and the formatting code in src/agent.
// Not a public API: the loop and the MCP server use tools.h and format.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "meanwhile/lane.h"
#include "meanwhile/tools.h"
#include "tools/format.h"

namespace meanwhile {

// --- text (tools_text.cc) ---
// `raw` with every invalid UTF-8 sequence replaced by U+FFFD, so it can go into JSON.
std::string valid_utf8(std::string_view raw);
// Number of code points in valid UTF-8 (invalid bytes count one each).
std::size_t utf8_length(std::string_view text);
// At most max_bytes of `text`, cut at a character boundary, with "…" appended when cut.
std::string shorten(std::string_view text, std::size_t max_bytes);
// "0.4s", "12.3s", "2m05s", "1h02m".
std::string format_duration(double seconds);
// Longest job timeout the tools accept (the schemas' maximum): 30 days.
inline constexpr double kMaxJobTimeoutSeconds = 30.0 * 24 * 3600;
// `seconds` as milliseconds, clamped to [0, max_seconds] (NaN is 0): a huge number from a client
// must never overflow into a negative or instant deadline.
std::chrono::milliseconds saturating_ms(double seconds, double max_seconds = kMaxJobTimeoutSeconds);
// "512 B", "1.5 KiB", "3.2 MiB".
std::string format_bytes(std::uint64_t bytes);
// "SIGKILL" (or "signal 77" when the name is unknown).
std::string signal_name(int signal);
// "2025-01-31T12:00:00.123Z".
std::string iso8601(WallClock::time_point time);

// --- jobs as text and JSON (format.cc) ---
// "`npm test` (unit tests)".
std::string job_what(const JobInfo& job);
// "[task 12] `npm test` (unit tests)".
std::string job_title(const JobInfo& job);
// "running for 3.2s", "exited 1 after 3.2s", "died of signal 9 (SIGKILL) after 1.0s", ...
std::string describe_outcome(const JobInfo& job);
// The JSON Schema of job_to_json()'s output.
nlohmann::json job_json_schema();
// {kind, task_id, job, lines, preview}.
nlohmann::json note_to_json(const Note& note);
nlohmann::json note_json_schema();

// --- schema.cc ---
// 42, "abc", true, null, "an object", "a string of 300 characters": for error messages.
std::string describe_json_value(const nlohmann::json& value);

// --- tool results and arguments (registry.cc) ---
ToolResult error_result(std::string text, nlohmann::json structured = nullptr);
// The string at args[key], or `fallback` when absent or null.
std::string string_arg(const nlohmann::json& args, const char* key, std::string fallback = {});
// A task id argument ("12"), validated by the schema, as a JobId.
JobId task_id_arg(const nlohmann::json& args, const char* key = "task_id");
// Resolves a jobs cwd argument against the workspace (not confined: a command can cd anywhere).
Result<std::string> job_cwd(const std::string& cwd, const ToolContext& ctx);
// MCP ToolAnnotations.
nlohmann::json annotations(const std::string& title, bool read_only, bool destructive,
                           bool idempotent);

// --- the tools ---
std::vector<ToolDef> file_tools();  // read_file, write_file, edit_file
ToolResult run_edit_file(const nlohmann::json& args, ToolContext& ctx);  // tools_edit.cc
ToolDef bash_tool();                                                     // bash
// background_run, check_background, ... (all six), described for `frontend`.
std::vector<ToolDef> background_tools(Frontend frontend);
ToolDef check_background_tool();                  // tools_background_check.cc
ToolDef background_wait_tool(Frontend frontend);  // tools_background_wait.cc
ToolDef background_kill_tool();                   // tools_background_control.cc
ToolDef background_input_tool();                  // tools_background_control.cc
// The schema of a task id argument.
nlohmann::json task_id_schema(const char* description);
// "unknown task 99; check_background lists every job" for a failed Lane::get.
std::string unknown_task_message(const JobId& id, const Error& lane_error);
bool cancel_requested(const ToolContext& ctx);

}  // namespace meanwhile
