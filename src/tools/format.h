// How jobs and notes are shown to the model and to people. Shared by the tools, the agent loop
// and the MCP server, so the model sees one format everywhere.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "meanwhile/lane.h"

namespace meanwhile {

// One note as text for a <background-results> block or a background_wait result: job id,
// label or command, status, exit code, duration, a head-and-tail preview, the log path.
std::string format_note(const Note& note);
// One line per job: id, label or command, status, elapsed, last output line.
std::string format_job_line(const JobInfo& job);
// The structured form of a job (MCP structuredContent, stream-json events).
nlohmann::json job_to_json(const JobInfo& job);
// One line: newlines and tabs become spaces, then at most max_bytes, cut at a character
// boundary with "…" appended when cut.
std::string one_line(std::string_view text, std::size_t max_bytes);

}  // namespace meanwhile
