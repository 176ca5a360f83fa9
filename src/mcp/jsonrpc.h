// JSON-RPC 2.0 as MCP uses it: one message per line, params always an object, ids are strings or
// integers (never null). Parsing classifies a line; builders make the messages we send.
// Nothing here throws.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace meanwhile::mcp::jsonrpc {

using nlohmann::json;

// Standard JSON-RPC error codes.
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
// The first of JSON-RPC's implementation-defined server errors: busy, or stopping.
inline constexpr int kServerError = -32000;

struct Incoming {
  enum class Kind {
    empty,         // a blank line: ignored
    request,       // method + id: needs exactly one response
    notification,  // method, no id: never answered
    response,      // result or error from the peer (we send no requests: logged and ignored)
    invalid,       // answer with error_code / error_message, to `id` (null when unknown)
  };
  Kind kind = Kind::empty;
  json id;             // request/response: a string or an integer; invalid: the id if usable
  std::string method;  // request/notification
  json params = json::object();  // request/notification: always an object
  int error_code = 0;            // invalid
  std::string error_message;     // invalid
};

// Classifies one line (without its newline). Lines nested deeper than kMaxJsonDepth are
// invalid (-32600) without ever becoming a tree.
Incoming parse_line(std::string_view line);

// A request id as it goes back to the client, or nullopt when it is not one: a string, or an
// integer that fits in int64/uint64 (returned unchanged); an integral float such as 1.0 below
// 2^53 in magnitude becomes that integer. Anything else (null, an object, 1.5, 2^64) is refused, so
// that no two ids ever map to the same number.
std::optional<json> request_id(const json& id);

json make_result(const json& id, json result);
json make_error(const json& id, int code, std::string message);
json make_notification(std::string method, json params);

// One line of compact JSON, without the newline. Invalid UTF-8 in strings (job output) is
// replaced with U+FFFD rather than throwing.
std::string serialize(const json& message);

// A map key for a request id: distinguishes the string "1" from the integer 1.
std::string id_key(const json& id);

}  // namespace meanwhile::mcp::jsonrpc
