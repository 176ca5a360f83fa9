// Fuzz target: tool arguments as a model or an MCP client sends them. The input is the
// arguments' JSON text; it is parsed with meanwhile::parse_json (the nesting bound) and checked
// against every real tool's input schema (ToolRegistry::standard()), first by validate_json, then
// through ToolRegistry::call itself (the null/object/size checks, task-id normalisation,
// validation) with each tool's handler replaced by a recorder: nothing runs, but a handler may
// only ever see arguments that are an object and pass its schema.
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "base/json_parse.h"
#include "fuzz_util.h"
#include "meanwhile/lane.h"
#include "meanwhile/tools.h"

namespace {

using nlohmann::json;

// ToolRegistry::call needs a ToolContext, which holds a Lane; the recorders never touch it.
struct Fixture {
  std::string root;
  std::unique_ptr<meanwhile::Lane> lane;
  std::unique_ptr<meanwhile::ToolContext> ctx;
  meanwhile::ToolRegistry real = meanwhile::ToolRegistry::standard();
  meanwhile::ToolRegistry recorded;
  std::optional<json>
      handled;  // a copy of what the last recorder saw (its argument dies with call)

  Fixture() {
    std::string pattern = (std::filesystem::temp_directory_path() / "mw-fuzz-XXXXXX").string();
    FUZZ_CHECK(::mkdtemp(pattern.data()) != nullptr, "mkdtemp failed");
    root = pattern;
    meanwhile::LaneOptions options;
    options.workspace = root;
    options.data_dir = root + "/data";
    options.use_cgroups = false;
    auto opened = meanwhile::Lane::open(options);
    FUZZ_CHECK(opened.ok(), opened.error());
    lane = std::move(*opened);
    ctx =
        std::make_unique<meanwhile::ToolContext>(meanwhile::ToolContext{*lane, root, nullptr, {}});
    for (meanwhile::ToolDef def : real.tools()) {
      def.run = [this](const json& args, meanwhile::ToolContext&) {
        handled = args;
        return meanwhile::ToolResult{"recorded", json(), false};
      };
      recorded.add(std::move(def));
    }
  }
  ~Fixture() {
    ctx.reset();
    lane.reset();
    std::error_code ignored;
    std::filesystem::remove_all(root, ignored);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

bool has_task_id_key(const json& value) {
  return value.is_object() &&
         (value.contains("task_id") || value.contains("task_ids") || value.contains("after"));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Fixture& f = fixture();
  const meanwhile::JsonParse parsed = meanwhile::parse_json(meanwhile::fuzz::as_text(data, size));
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.value.is_discarded(), "a refused text left a value");
    return 0;
  }
  const json& args = parsed.value;
  for (const meanwhile::ToolDef& def : f.real.tools()) {
    const meanwhile::Status direct = meanwhile::validate_json(def.input_schema, args);
    FUZZ_CHECK(direct.ok() || !direct.error().empty(), def.name + ": an error without a message");
    // The output schemas are the other real schemas: the validator must take any value there too.
    (void)meanwhile::validate_json(def.output_schema, args);

    f.handled.reset();
    const meanwhile::ToolResult result = f.recorded.call(def.name, args, *f.ctx);
    if (f.handled) {
      FUZZ_CHECK(!result.is_error, def.name + ": the recorder's result was lost");
      FUZZ_CHECK(f.handled->is_object(), def.name +
                                             ": a handler got arguments that are not "
                                             "an object");
      const meanwhile::Status seen = meanwhile::validate_json(def.input_schema, *f.handled);
      FUZZ_CHECK(seen.ok(),
                 def.name + ": a handler got arguments its schema refuses: " + seen.error());
    } else {
      FUZZ_CHECK(result.is_error && !result.text.empty(),
                 def.name + ": a refused call has no error text");
      // Only the argument checks refuse: what validates as sent (and needs no task-id
      // normalisation, and is not over the size limit) must reach the handler.
      FUZZ_CHECK(!(direct.ok() && args.is_object() && !has_task_id_key(args) &&
                   size < meanwhile::ToolRegistry::kMaxArgumentBytes),
                 def.name + ": valid arguments were refused: " + result.text);
    }
  }
  return 0;
}
