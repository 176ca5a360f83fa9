// docs/TOOLS.md against the registry: every tool has a section whose JSON schema names the
// same fields, required fields, types, enums and bounds as the schema the model is given. The
// doc leaves descriptions out; everything else must agree, so a new argument cannot ship
// undocumented.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "meanwhile/tools.h"
#include "support/test_support.h"

namespace meanwhile {
namespace {

using nlohmann::json;

// The first ```json block after "## NAME", parsed; null when there is none.
json documented_schema(const std::string& doc, const std::string& name) {
  const auto section = doc.find("\n## " + name + "\n");
  if (section == std::string::npos) return nullptr;
  const auto next = doc.find("\n## ", section + 4);
  const auto start = doc.find("```json\n", section);
  if (start == std::string::npos || (next != std::string::npos && start > next)) return nullptr;
  const auto end = doc.find("```", start + 8);
  if (end == std::string::npos) return nullptr;
  return json::parse(doc.substr(start + 8, end - start - 8), nullptr, false);
}

std::set<std::string> keys(const json& object) {
  std::set<std::string> out;
  if (object.is_object())
    for (const auto& [key, value] : object.items()) out.insert(key);
  return out;
}

TEST(ToolsDoc, EverySchemaInToolsMdMatchesTheRegistry) {
  const std::string doc = test::read_file(MEANWHILE_SOURCE_DIR "/docs/TOOLS.md");
  ASSERT_FALSE(doc.empty()) << "cannot read docs/TOOLS.md";
  const ToolRegistry registry = ToolRegistry::standard();
  ASSERT_FALSE(registry.tools().empty());
  for (const ToolDef& tool : registry.tools()) {
    SCOPED_TRACE(tool.name);
    const json documented = documented_schema(doc, tool.name);
    ASSERT_TRUE(documented.is_object()) << "no parsable ```json schema under ## " << tool.name;
    const json& actual = tool.input_schema;
    EXPECT_EQ(documented.value("required", json::array()), actual.value("required", json::array()));
    EXPECT_EQ(documented.value("additionalProperties", true),
              actual.value("additionalProperties", true));
    const json doc_props = documented.value("properties", json::object());
    const json props = actual.value("properties", json::object());
    EXPECT_EQ(keys(doc_props), keys(props)) << "fields";
    for (const auto& [field, schema] : props.items()) {
      if (!doc_props.contains(field)) continue;
      const json& written = doc_props[field];
      for (const char* keyword :
           {"type", "enum", "minimum", "maximum", "minLength", "maxLength", "maxItems"}) {
        EXPECT_EQ(written.value(keyword, json()), schema.value(keyword, json()))
            << field << "." << keyword;
      }
    }
  }
}

}  // namespace
}  // namespace meanwhile
