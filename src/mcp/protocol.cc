#include "mcp/protocol.h"

namespace meanwhile::mcp {

std::string negotiate_protocol_version(std::string_view requested) {
  for (std::string_view supported : kSupportedProtocolVersions) {
    if (requested == supported) return std::string(supported);
  }
  return std::string(kLatestProtocolVersion);
}

ProtocolFeatures features_of(std::string_view version) {
  // ISO dates compare correctly as strings.
  return ProtocolFeatures{.structured_output = version >= "2025-06-18",
                          .tasks = version >= "2025-11-25"};
}

nlohmann::json tool_to_json(const ToolDef& def, const ProtocolFeatures& features,
                            bool output_schema) {
  nlohmann::json tool = {
      {"name", def.name},
      {"description", def.description},
      {"inputSchema", def.input_schema},
  };
  if (def.annotations.is_object() && !def.annotations.empty()) {
    tool["annotations"] = def.annotations;
    auto title = def.annotations.find("title");
    if (features.structured_output && title != def.annotations.end() && title->is_string()) {
      tool["title"] = *title;
    }
  }
  if (output_schema && features.structured_output && def.output_schema.is_object() &&
      !def.output_schema.empty()) {
    tool["outputSchema"] = def.output_schema;
  }
  if (features.tasks && def.task_support) {
    tool["execution"] = {{"taskSupport", "optional"}};
  }
  return tool;
}

int logging_level_rank(std::string_view level) {
  int rank = 0;
  for (std::string_view known : kLoggingLevels) {
    if (level == known) return rank;
    ++rank;
  }
  return -1;
}

}  // namespace meanwhile::mcp
