// The tool registry: one set of tool definitions serves both the agent loop and the MCP server.
//
// A tool is a name, a description written for a model, a JSON schema for its input (and one for
// its structured output), MCP annotations, and a handler. ToolRegistry::call() validates the
// arguments against the input schema before the handler runs, and turns every failure (unknown
// tool, missing or ill-typed argument, oversized input, a handler's error) into an is_error
// result the model can act on. Nothing here throws to the caller.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "meanwhile/lane.h"

namespace meanwhile {

struct ToolResult {
  std::string text;           // what the model (or MCP text content) sees
  nlohmann::json structured;  // machine-readable form (MCP structuredContent); may be null
  bool is_error = false;
};

// Who serves the tools, which decides what their descriptions and results may promise. The agent
// loop drains notes into a <background-results> block before every model call; an MCP server
// cannot reach the model by itself, so it attaches pending notes to its next tool result.
enum class Frontend { agent, mcp };

// What a tool may use while it runs. Owned by the caller of ToolRegistry::call().
struct ToolContext {
  Lane& lane;
  std::string workspace;  // absolute, symlinks resolved; file tools stay inside it
  // Set from another thread to ask a long call (background_wait, bash) to return early.
  const std::atomic<bool>* cancel = nullptr;
  // Optional progress reports from long calls: (progress, total or <0 when unknown, message).
  std::function<void(double, double, const std::string&)> progress;
  // mcp: an argument the schema does not know is dropped (and the result says so) instead of
  // failing the call: MCP clients add fields of their own (Gemini CLI's wait_for_previous).
  Frontend frontend = Frontend::agent;
};

struct ToolDef {
  std::string name;
  std::string description;
  nlohmann::json input_schema;   // JSON Schema (object) for the arguments
  nlohmann::json output_schema;  // JSON Schema (object) for ToolResult::structured
  nlohmann::json annotations;    // MCP ToolAnnotations: readOnlyHint, destructiveHint, ...
  bool background = false;       // one of the background tools the MCP server exposes
  bool task_support = false;     // MCP execution.taskSupport "optional"
  // MCP: the text serves the model better than the structured form (a job list, output, events:
  // 2-8x larger as JSON, without the hints), and clients that show structuredContent show it
  // instead of the text. The MCP server then sends neither outputSchema nor structuredContent
  // (unless started with --all-structured).
  bool mcp_text_only = false;
  std::function<ToolResult(const nlohmann::json& args, ToolContext& ctx)> run;
};

class ToolRegistry {
 public:
  // Every tool: bash, read_file, write_file, edit_file and the background tools, described for
  // `frontend`.
  static ToolRegistry standard(Frontend frontend = Frontend::agent);

  void add(ToolDef def);
  const ToolDef* find(const std::string& name) const;
  const std::vector<ToolDef>& tools() const { return tools_; }

  // Validates args against the tool's input schema, then runs it. Never throws. The result has
  // every secret (base/secrets.h) redacted.
  ToolResult call(const std::string& name, const nlohmann::json& args, ToolContext& ctx) const;

  // Largest serialized argument object accepted (bytes).
  static constexpr std::size_t kMaxArgumentBytes = 4 * 1024 * 1024;

 private:
  ToolResult call_checked(const std::string& name, const nlohmann::json& args,
                          ToolContext& ctx) const;
  std::vector<ToolDef> tools_;
};

// Checks `value` against the subset of JSON Schema the tools use (type, properties, required,
// additionalProperties, enum, items, minimum/maximum, minLength/maxLength). The error names the
// offending field, e.g. "task_id: expected a string, got 42".
Status validate_json(const nlohmann::json& schema, const nlohmann::json& value);

// Removes from `value` every field that an object schema with `additionalProperties: false`
// does not list, at any depth; returns their paths ("wait_for_previous", "env.x"), in order.
std::vector<std::string> drop_unknown_fields(const nlohmann::json& schema, nlohmann::json& value);

}  // namespace meanwhile
