#include "base/json_parse.h"

#include <string>

#include <gtest/gtest.h>

namespace meanwhile {
namespace {

TEST(JsonParse, CountsNestingOutsideStrings) {
  EXPECT_EQ(json_nesting_depth("1"), 0);
  EXPECT_EQ(json_nesting_depth(R"({"a":[1,[2]]})"), 3);
  EXPECT_EQ(json_nesting_depth(R"(["[[[[", "\"[[", {}])"), 2);
}

TEST(JsonParse, RefusesDeepNestingBeforeBuildingATree) {
  // 100,000 levels: building, copying or dumping this recursively would overflow the stack.
  std::string deep(100000, '[');
  deep += std::string(100000, ']');
  JsonParse parsed = parse_json(deep);
  EXPECT_FALSE(parsed.ok());
  EXPECT_TRUE(parsed.too_deep);
  EXPECT_TRUE(parsed.value.is_discarded());
  EXPECT_NE(parsed.error.find("deeper than 64"), std::string::npos) << parsed.error;
}

TEST(JsonParse, AcceptsTheBoundAndReportsSyntaxErrors) {
  std::string at_limit = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_TRUE(parse_json(at_limit).ok());
  std::string past = "[" + at_limit + "]";
  EXPECT_TRUE(parse_json(past).too_deep);

  JsonParse bad = parse_json("{\"a\":");
  EXPECT_FALSE(bad.ok());
  EXPECT_FALSE(bad.too_deep);
  EXPECT_TRUE(bad.value.is_discarded());
  EXPECT_NE(bad.error.find("parse error"), std::string::npos) << bad.error;
}

}  // namespace
}  // namespace meanwhile
