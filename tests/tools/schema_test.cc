// validate_json: the JSON Schema subset the tools use, and error messages that name the field.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "meanwhile/tools.h"

namespace meanwhile {
namespace {

using nlohmann::json;

const json kSchema = json::parse(R"({
  "type": "object",
  "properties": {
    "task_id": {"type": "string", "minLength": 1},
    "command": {"type": "string", "minLength": 1, "maxLength": 10},
    "timeout": {"type": "number", "minimum": 1, "maximum": 600},
    "lines": {"type": "integer", "minimum": 1},
    "mode": {"type": "string", "enum": ["new", "tail", "head", "all"]},
    "close": {"type": "boolean"},
    "task_ids": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
    "nested": {"type": "object", "properties": {"x": {"type": "integer"}},
               "required": ["x"], "additionalProperties": false},
    "maybe": {"type": ["string", "null"]}
  },
  "required": ["task_id"],
  "additionalProperties": false
})");

std::string error_of(const json& value) {
  auto status = validate_json(kSchema, value);
  return status ? std::string() : status.error();
}

TEST(Schema, AcceptsValidValues) {
  EXPECT_EQ(error_of({{"task_id", "12"}}), "");
  EXPECT_EQ(error_of({{"task_id", "1"},
                      {"command", "ls"},
                      {"timeout", 1.5},
                      {"lines", 3},
                      {"mode", "tail"},
                      {"close", true},
                      {"task_ids", {"1", "2"}},
                      {"nested", {{"x", 4}}},
                      {"maybe", nullptr}}),
            "");
  // A whole number written as 5.0 is an integer in JSON Schema.
  EXPECT_EQ(error_of({{"task_id", "1"}, {"lines", 5.0}}), "");
}

TEST(Schema, WrongTypeNamesFieldAndValue) {
  EXPECT_EQ(error_of({{"task_id", 42}}), "task_id: expected a string, got 42");
  EXPECT_EQ(error_of({{"task_id", "1"}, {"close", "yes"}}),
            "close: expected a boolean, got \"yes\"");
  EXPECT_EQ(error_of({{"task_id", "1"}, {"lines", 2.5}}), "lines: expected an integer, got 2.5");
  EXPECT_EQ(error_of({{"task_id", "1"}, {"timeout", "10"}}),
            "timeout: expected a number, got \"10\"");
  EXPECT_EQ(error_of({{"task_id", "1"}, {"maybe", 3}}), "maybe: expected a string or null, got 3");
  EXPECT_EQ(error_of(json::array({1, 2})), "arguments: expected an object, got an array");
  EXPECT_EQ(error_of({{"task_id", "1"}, {"nested", {{"x", "no"}}}}),
            "nested.x: expected an integer, got \"no\"");
}

TEST(Schema, MissingRequired) {
  EXPECT_EQ(error_of(json::object()), "task_id: required field is missing");
  EXPECT_EQ(error_of({{"task_id", "1"}, {"nested", json::object()}}),
            "nested.x: required field is missing");
}

TEST(Schema, UnknownPropertyListsAllowedOnes) {
  std::string error = error_of({{"task_id", "1"}, {"taskid", "2"}});
  EXPECT_EQ(error.rfind("taskid: unknown field; allowed fields: ", 0), 0u) << error;
  EXPECT_NE(error.find("task_id"), std::string::npos);
  EXPECT_EQ(error_of({{"task_id", "1"}, {"nested", {{"x", 1}, {"y", 2}}}}),
            "nested.y: unknown field; allowed fields: x");
}

TEST(Schema, DropUnknownFieldsRemovesOnlyWhatAClosedObjectDoesNotList) {
  json value = {{"task_id", "1"},
                {"wait_for_previous", true},
                {"nested", {{"x", 1}, {"y", 2}}},
                {"maybe", nullptr}};
  EXPECT_EQ(drop_unknown_fields(kSchema, value),
            (std::vector<std::string>{"nested.y", "wait_for_previous"}));
  EXPECT_EQ(value, json({{"task_id", "1"}, {"nested", {{"x", 1}}}, {"maybe", nullptr}}));
  EXPECT_TRUE(validate_json(kSchema, value)) << "what is left validates";
  // An open object (additionalProperties absent or a schema) keeps every field.
  const json open = {
      {"type", "object"},
      {"properties",
       {{"env", {{"type", "object"}, {"additionalProperties", {{"type", "string"}}}}}}}};
  json env = {{"env", {{"A", "1"}}}, {"other", 1}};
  EXPECT_TRUE(drop_unknown_fields(open, env).empty());
  EXPECT_EQ(env, json({{"env", {{"A", "1"}}}, {"other", 1}}));
  // Wrong types are not unknown fields: they stay, and validation still fails on them.
  json typed = {{"task_id", 5}, {"extra", 1}};
  EXPECT_EQ(drop_unknown_fields(kSchema, typed), std::vector<std::string>{"extra"});
  EXPECT_EQ(error_of(typed), "task_id: expected a string, got 5");
}

TEST(Schema, EnumBoundsAndLengths) {
  EXPECT_EQ(error_of({{"task_id", "1"}, {"mode", "last"}}),
            "mode: must be one of \"new\", \"tail\", \"head\", \"all\"; got \"last\"");
  EXPECT_EQ(error_of({{"task_id", "1"}, {"timeout", 900}}),
            "timeout: must be at most 600, got 900");
  EXPECT_EQ(error_of({{"task_id", "1"}, {"timeout", 0}}), "timeout: must be at least 1, got 0");
  EXPECT_EQ(error_of({{"task_id", "1"}, {"lines", 0}}), "lines: must be at least 1, got 0");
  EXPECT_EQ(error_of({{"task_id", ""}}), "task_id: must not be empty");
  EXPECT_EQ(error_of({{"task_id", "1"}, {"command", "0123456789x"}}),
            "command: must be at most 10 characters long, got 11");
  // Length counts characters, not bytes.
  EXPECT_EQ(error_of({{"task_id", "1"}, {"command", "ééééééééé"}}), "");
}

TEST(Schema, ArrayItemsAndSize) {
  EXPECT_EQ(error_of({{"task_id", "1"}, {"task_ids", {"1", 2}}}),
            "task_ids[1]: expected a string, got 2");
  EXPECT_EQ(error_of({{"task_id", "1"}, {"task_ids", {"1", "2", "3"}}}),
            "task_ids: must have at most 2 items, got 3");
}

TEST(Schema, LongValuesAreSummarised) {
  std::string error =
      error_of({{"task_id", std::string(5000, 'x') + "1"}, {"close", std::string(100, 'y')}});
  EXPECT_EQ(error, "close: expected a boolean, got a string of 100 characters");
}

TEST(Schema, InvalidUtf8DoesNotThrow) {
  json value = {{"task_id", "1"}, {"close", std::string("\xff\xfe")}};
  auto status = validate_json(kSchema, value);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().find("close: expected a boolean"), std::string::npos);
}

TEST(Schema, KeywordsWrittenAsSignedIntegers) {
  // Schemas built in C++ hold signed integers, parsed ones unsigned: both must count.
  json schema = {{"type", "object"},
                 {"properties",
                  {{"s", {{"type", "string"}, {"minLength", 1}, {"maxLength", 3}}},
                   {"a", {{"type", "array"}, {"maxItems", 1}}}}}};
  EXPECT_EQ(validate_json(schema, {{"s", ""}}).error(), "s: must not be empty");
  EXPECT_EQ(validate_json(schema, {{"s", "abcd"}}).error(),
            "s: must be at most 3 characters long, got 4");
  EXPECT_EQ(validate_json(schema, {{"a", {1, 2}}}).error(), "a: must have at most 1 item, got 2");
}

TEST(Schema, NonObjectSchemaAcceptsAnything) {
  EXPECT_TRUE(validate_json(json(true), json::array({1})).ok());
  EXPECT_TRUE(validate_json(json::object(), 42).ok());
}

}  // namespace
}  // namespace meanwhile
