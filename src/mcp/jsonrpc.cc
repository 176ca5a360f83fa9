#include "mcp/jsonrpc.h"

#include <cmath>

#include "base/json_parse.h"

namespace meanwhile::mcp::jsonrpc {
namespace {

bool is_blank(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

// A float id is accepted only when it denotes an integer exactly (1.0, 1e3): doubles hold every
// integer below 2^53; from there on the text may have named a neighbour (9007199254740993.0
// parses as 2^53).
constexpr double kMaxExactFloatId = 9007199254740992.0;  // 2^53

Incoming invalid(json id, int code, std::string message) {
  Incoming in;
  in.kind = Incoming::Kind::invalid;
  in.id = std::move(id);
  in.error_code = code;
  in.error_message = std::move(message);
  return in;
}

}  // namespace

Incoming parse_line(std::string_view line) {
  if (is_blank(line)) return {};
  // The one parser for untrusted JSON: it refuses deep nesting before building a tree, since
  // copying or dumping a tree 100,000 levels deep overflows the stack.
  JsonParse parsed = parse_json(line);
  if (parsed.too_deep) {
    return invalid(nullptr, kInvalidRequest,
                   "Invalid request: " + parsed.error +
                       ": no MCP message nests that deep; flatten the arguments");
  }
  if (!parsed.ok()) {
    return invalid(nullptr, kParseError, "Parse error: the line is not valid JSON");
  }
  json message = std::move(parsed.value);
  if (message.is_array()) {
    return invalid(nullptr, kInvalidRequest, "Invalid request: JSON-RPC batches are not supported");
  }
  if (!message.is_object()) {
    return invalid(nullptr, kInvalidRequest, "Invalid request: a message must be a JSON object");
  }

  const bool has_id = message.contains("id");
  json id = nullptr;
  if (has_id) {
    if (auto usable = request_id(message["id"])) id = std::move(*usable);
  }

  auto version = message.find("jsonrpc");
  if (version == message.end() || *version != "2.0") {
    return invalid(id, kInvalidRequest, "Invalid request: jsonrpc: expected \"2.0\"");
  }

  auto method = message.find("method");
  if (method == message.end()) {
    if (message.contains("result") || message.contains("error")) {
      Incoming in;
      in.kind = Incoming::Kind::response;
      in.id = id;
      return in;
    }
    return invalid(id, kInvalidRequest, "Invalid request: method: required");
  }
  if (!method->is_string()) {
    return invalid(id, kInvalidRequest, "Invalid request: method: expected a string");
  }
  if (has_id && id.is_null()) {
    return invalid(nullptr, kInvalidRequest,
                   "Invalid request: id: expected a string or an integer of at most 64 bits "
                   "(use a string for larger ids)");
  }

  Incoming in;
  in.kind = has_id ? Incoming::Kind::request : Incoming::Kind::notification;
  in.id = id;
  in.method = method->get<std::string>();
  auto params = message.find("params");
  if (params != message.end() && !params->is_null()) {
    if (!params->is_object()) {
      return invalid(id, kInvalidParams, "Invalid params: params: expected an object");
    }
    in.params = std::move(*params);
  }
  return in;
}

std::optional<json> request_id(const json& id) {
  // Integers come from the parser exactly as written when they fit in int64 or uint64; larger
  // ones arrive as doubles, which would come back as another number (and collide).
  if (id.is_string() || id.is_number_integer()) return id;
  if (id.is_number_float()) {
    const double value = id.get<double>();
    if (std::isfinite(value) && std::floor(value) == value && std::fabs(value) < kMaxExactFloatId) {
      return static_cast<std::int64_t>(value);
    }
  }
  return std::nullopt;
}

json make_result(const json& id, json result) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

json make_error(const json& id, int code, std::string message) {
  return json{{"jsonrpc", "2.0"},
              {"id", id},
              {"error", json{{"code", code}, {"message", std::move(message)}}}};
}

json make_notification(std::string method, json params) {
  return json{{"jsonrpc", "2.0"}, {"method", std::move(method)}, {"params", std::move(params)}};
}

std::string serialize(const json& message) {
  return message.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
}

std::string id_key(const json& id) {
  if (id.is_string()) return "s:" + id.get<std::string>();
  return "n:" + id.dump();
}

}  // namespace meanwhile::mcp::jsonrpc
