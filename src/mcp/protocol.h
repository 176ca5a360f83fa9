// What depends on the negotiated protocol version: which versions we speak, and how a ToolDef
// is shown in tools/list.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "meanwhile/tools.h"

namespace meanwhile::mcp {

inline constexpr std::string_view kLatestProtocolVersion = "2025-11-25";

// The versions we speak, newest first.
inline constexpr std::string_view kSupportedProtocolVersions[] = {"2025-11-25", "2025-06-18",
                                                                  "2025-03-26"};

// The spec's rule: the client's version when we support it, otherwise our latest.
std::string negotiate_protocol_version(std::string_view requested);

struct ProtocolFeatures {
  bool structured_output = false;  // outputSchema, structuredContent (2025-06-18)
  bool tasks = false;              // tasks, execution.taskSupport (2025-11-25)
};
ProtocolFeatures features_of(std::string_view version);

// One Tool object of tools/list, built from the registry's definition.
// `output_schema`: false leaves outputSchema out (a tool answered with text only).
nlohmann::json tool_to_json(const ToolDef& def, const ProtocolFeatures& features,
                            bool output_schema = true);

// Logging levels of notifications/message, lowest first; -1 for an unknown name.
int logging_level_rank(std::string_view level);
inline constexpr std::string_view kLoggingLevels[] = {"debug", "info",     "notice", "warning",
                                                      "error", "critical", "alert",  "emergency"};

}  // namespace meanwhile::mcp
