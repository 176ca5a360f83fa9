#include "mcp/jsonrpc.h"

#include <cmath>

namespace meanwhile::mcp::jsonrpc {
namespace {

bool is_blank(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

// MCP: "Request ids MUST be a string or integer; MUST NOT be null".
bool valid_id(const json& id) {
  if (id.is_string() || id.is_number_integer()) return true;
  // 1.0 parses as a float; accept integral floats as the integer they denote.
  return id.is_number_float() && std::isfinite(id.get<double>()) &&
         std::floor(id.get<double>()) == id.get<double>();
}

json normalize_id(const json& id) {
  if (id.is_number_float()) return static_cast<std::int64_t>(id.get<double>());
  return id;
}

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
  json message = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded()) {
    return invalid(nullptr, kParseError, "Parse error: the line is not valid JSON");
  }
  if (message.is_array()) {
    return invalid(nullptr, kInvalidRequest, "Invalid request: JSON-RPC batches are not supported");
  }
  if (!message.is_object()) {
    return invalid(nullptr, kInvalidRequest, "Invalid request: a message must be a JSON object");
  }

  const bool has_id = message.contains("id");
  json id = nullptr;
  if (has_id && valid_id(message["id"])) id = normalize_id(message["id"]);

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
                   "Invalid request: id: expected a string or an integer");
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
