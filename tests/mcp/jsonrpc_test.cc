// The JSON-RPC layer of the MCP server: classification of incoming lines, the messages we build,
// version negotiation and how a ToolDef is shown per protocol version.
#include "mcp/jsonrpc.h"

#include <gtest/gtest.h>

#include "mcp/protocol.h"

namespace meanwhile::mcp {
namespace {

using jsonrpc::Incoming;
using nlohmann::json;

TEST(JsonRpc, ParsesRequestsAndNotifications) {
  Incoming request = jsonrpc::parse_line(R"({"jsonrpc":"2.0","id":7,"method":"tools/list"})");
  EXPECT_EQ(request.kind, Incoming::Kind::request);
  EXPECT_EQ(request.id, 7);
  EXPECT_EQ(request.method, "tools/list");
  EXPECT_TRUE(request.params.is_object());

  Incoming string_id =
      jsonrpc::parse_line(R"({"jsonrpc":"2.0","id":"a","method":"ping","params":{"x":1}})");
  EXPECT_EQ(string_id.kind, Incoming::Kind::request);
  EXPECT_EQ(string_id.id, "a");
  EXPECT_EQ(string_id.params["x"], 1);

  Incoming notification =
      jsonrpc::parse_line(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  EXPECT_EQ(notification.kind, Incoming::Kind::notification);

  Incoming response = jsonrpc::parse_line(R"({"jsonrpc":"2.0","id":1,"result":{}})");
  EXPECT_EQ(response.kind, Incoming::Kind::response);

  EXPECT_EQ(jsonrpc::parse_line("   \r").kind, Incoming::Kind::empty);
}

TEST(JsonRpc, ClassifiesBadInputWithTheRightCode) {
  struct Case {
    const char* line;
    int code;
    json id;
  };
  const Case cases[] = {
      {"not json", jsonrpc::kParseError, nullptr},
      {R"({"jsonrpc":"2.0","id":1,"method":"x")", jsonrpc::kParseError, nullptr},
      {"[1,2]", jsonrpc::kInvalidRequest, nullptr},
      {"42", jsonrpc::kInvalidRequest, nullptr},
      {R"({"id":1,"method":"ping"})", jsonrpc::kInvalidRequest, 1},
      {R"({"jsonrpc":"2.0","id":2})", jsonrpc::kInvalidRequest, 2},
      {R"({"jsonrpc":"2.0","id":3,"method":5})", jsonrpc::kInvalidRequest, 3},
      {R"({"jsonrpc":"2.0","id":null,"method":"ping"})", jsonrpc::kInvalidRequest, nullptr},
      {R"({"jsonrpc":"2.0","id":{"a":1},"method":"ping"})", jsonrpc::kInvalidRequest, nullptr},
      {R"({"jsonrpc":"2.0","id":4,"method":"ping","params":[1]})", jsonrpc::kInvalidParams, 4},
  };
  for (const Case& c : cases) {
    Incoming in = jsonrpc::parse_line(c.line);
    EXPECT_EQ(in.kind, Incoming::Kind::invalid) << c.line;
    EXPECT_EQ(in.error_code, c.code) << c.line;
    EXPECT_EQ(in.id, c.id) << c.line;
    EXPECT_FALSE(in.error_message.empty());
  }
}

TEST(JsonRpc, IntegralFloatIdsBecomeIntegers) {
  Incoming in = jsonrpc::parse_line(R"({"jsonrpc":"2.0","id":3.0,"method":"ping"})");
  ASSERT_EQ(in.kind, Incoming::Kind::request);
  EXPECT_TRUE(in.id.is_number_integer());
  EXPECT_EQ(jsonrpc::id_key(in.id), jsonrpc::id_key(json(3)));
  EXPECT_EQ(jsonrpc::parse_line(R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})").kind,
            Incoming::Kind::invalid);
}

// Issue 9, item 1: a tree 100,000 levels deep overflowed the stack when copied or dumped.
TEST(JsonRpc, RefusesDeepNestingAsAnInvalidRequest) {
  const std::string deep = R"({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":)"
                           R"("check_background","arguments":{"x":)" +
                           std::string(100000, '[') + std::string(100000, ']') + "}}}";
  Incoming in = jsonrpc::parse_line(deep);
  ASSERT_EQ(in.kind, Incoming::Kind::invalid);
  EXPECT_EQ(in.error_code, jsonrpc::kInvalidRequest);
  EXPECT_NE(in.error_message.find("nested deeper than 64 levels"), std::string::npos)
      << in.error_message;
  EXPECT_TRUE(in.id.is_null());  // the id is not read out of a refused line

  // Arguments nested within the bound still arrive whole.
  const std::string ok = R"({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"x":)" +
                         std::string(60, '[') + std::string(60, ']') + "}}";
  Incoming fine = jsonrpc::parse_line(ok);
  ASSERT_EQ(fine.kind, Incoming::Kind::request) << fine.error_message;
  EXPECT_TRUE(fine.params["x"].is_array());
}

// Issue 9, item 15: ids past 64 bits came back as -9223372036854775808, so two of them collided
// in the table of requests in flight.
TEST(JsonRpc, IdsComeBackExactlyOrAreRefused) {
  for (const char* id : {"18446744073709551615", "9223372036854775808", "-9223372036854775808",
                         "9007199254740993", "0"}) {
    Incoming in =
        jsonrpc::parse_line(std::string(R"({"jsonrpc":"2.0","method":"ping","id":)") + id + "}");
    ASSERT_EQ(in.kind, Incoming::Kind::request) << id;
    EXPECT_EQ(jsonrpc::serialize(jsonrpc::make_result(in.id, json::object())),
              std::string(R"({"id":)") + id + R"(,"jsonrpc":"2.0","result":{}})");
  }
  EXPECT_NE(
      jsonrpc::id_key(
          jsonrpc::parse_line(R"({"jsonrpc":"2.0","method":"ping","id":18446744073709551615})").id),
      jsonrpc::id_key(
          jsonrpc::parse_line(R"({"jsonrpc":"2.0","method":"ping","id":18446744073709551614})")
              .id));

  // Past 64 bits (a double after parsing), or an integral float past 2^53: refused, not rounded.
  for (const char* id : {"18446744073709551616", "18446744073709551617", "-9223372036854775809",
                         "1e30", "9007199254740993.0"}) {
    Incoming in =
        jsonrpc::parse_line(std::string(R"({"jsonrpc":"2.0","method":"ping","id":)") + id + "}");
    EXPECT_EQ(in.kind, Incoming::Kind::invalid) << id;
    EXPECT_EQ(in.error_code, jsonrpc::kInvalidRequest) << id;
    EXPECT_TRUE(in.id.is_null()) << id;
    EXPECT_NE(in.error_message.find("64 bits"), std::string::npos) << in.error_message;
  }
  // The same rule for what notifications/cancelled names.
  ASSERT_TRUE(jsonrpc::request_id(json(2.0)));
  EXPECT_TRUE(jsonrpc::request_id(json(2.0))->is_number_integer());
  EXPECT_FALSE(jsonrpc::request_id(json(1.8446744073709552e19)));
  EXPECT_FALSE(jsonrpc::request_id(json(nullptr)));
}

TEST(JsonRpc, IdKeysTellStringsFromNumbers) {
  EXPECT_NE(jsonrpc::id_key(json("1")), jsonrpc::id_key(json(1)));
  EXPECT_EQ(jsonrpc::id_key(json("abc")), jsonrpc::id_key(json("abc")));
}

TEST(JsonRpc, BuildsMessages) {
  EXPECT_EQ(jsonrpc::serialize(jsonrpc::make_result(1, json::object())),
            R"({"id":1,"jsonrpc":"2.0","result":{}})");
  json error = jsonrpc::make_error(nullptr, jsonrpc::kParseError, "bad");
  EXPECT_TRUE(error["id"].is_null());
  EXPECT_EQ(error["error"]["code"], -32700);
  EXPECT_EQ(error["error"]["message"], "bad");
  json note = jsonrpc::make_notification("notifications/progress", {{"progress", 1}});
  EXPECT_FALSE(note.contains("id"));
  EXPECT_EQ(note["method"], "notifications/progress");
}

TEST(JsonRpc, SerializeReplacesInvalidUtf8AndStaysOneLine) {
  json message = jsonrpc::make_result(1, {{"text", std::string("a\xff\nb")}});
  std::string line = jsonrpc::serialize(message);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_NE(line.find("\xEF\xBF\xBD"), std::string::npos);  // U+FFFD
  EXPECT_FALSE(json::parse(line, nullptr, false).is_discarded());
}

TEST(Protocol, NegotiatesTheClientsVersionOrOurLatest) {
  EXPECT_EQ(negotiate_protocol_version("2025-11-25"), "2025-11-25");
  EXPECT_EQ(negotiate_protocol_version("2025-06-18"), "2025-06-18");
  EXPECT_EQ(negotiate_protocol_version("2025-03-26"), "2025-03-26");
  EXPECT_EQ(negotiate_protocol_version("2024-11-05"), "2025-11-25");
  EXPECT_EQ(negotiate_protocol_version(""), "2025-11-25");
  EXPECT_TRUE(features_of("2025-11-25").tasks);
  EXPECT_FALSE(features_of("2025-06-18").tasks);
  EXPECT_TRUE(features_of("2025-06-18").structured_output);
  EXPECT_FALSE(features_of("2025-03-26").structured_output);
}

TEST(Protocol, ShowsAToolPerVersion) {
  ToolDef def;
  def.name = "background_run";
  def.description = "runs";
  def.input_schema = {{"type", "object"}};
  def.output_schema = {{"type", "object"}, {"properties", {{"task_id", {{"type", "string"}}}}}};
  def.annotations = {{"title", "Run"}, {"readOnlyHint", false}};
  def.task_support = true;

  json latest = tool_to_json(def, features_of("2025-11-25"));
  EXPECT_EQ(latest["execution"]["taskSupport"], "optional");
  EXPECT_EQ(latest["outputSchema"], def.output_schema);
  EXPECT_EQ(latest["annotations"], def.annotations);
  EXPECT_EQ(latest["title"], "Run");

  json old = tool_to_json(def, features_of("2025-03-26"));
  EXPECT_FALSE(old.contains("execution"));
  EXPECT_FALSE(old.contains("outputSchema"));
  EXPECT_FALSE(old.contains("title"));
  EXPECT_EQ(old["annotations"], def.annotations);
}

TEST(Protocol, RanksLoggingLevels) {
  EXPECT_LT(logging_level_rank("debug"), logging_level_rank("info"));
  EXPECT_LT(logging_level_rank("warning"), logging_level_rank("emergency"));
  EXPECT_EQ(logging_level_rank("loud"), -1);
}

}  // namespace
}  // namespace meanwhile::mcp
