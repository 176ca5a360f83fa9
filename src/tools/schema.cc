// validate_json: the subset of JSON Schema the tools' input schemas use, with errors that name
// the offending field so a model can fix its call.
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "meanwhile/tools.h"
#include "tools/tools_internal.h"

namespace meanwhile {
namespace {

using nlohmann::json;

// JSON Schema's name for the type of `value` ("integer" for whole numbers).
std::string type_name(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::string:
      return "string";
    case json::value_t::array:
      return "array";
    case json::value_t::object:
      return "object";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float: {
      double d = value.get<double>();
      return std::isfinite(d) && std::floor(d) == d ? "integer" : "number";
    }
    default:
      return "value";
  }
}

bool has_type(const json& value, const std::string& type) {
  if (type == "number") return value.is_number();
  if (type == "integer") return type_name(value) == "integer";
  return type_name(value) == type;
}

std::string article(const std::string& type) {
  if (type == "null") return type;
  return (type == "integer" || type == "object" || type == "array") ? "an " + type : "a " + type;
}

std::string join_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string where(const std::string& path) {
  return path.empty() ? "arguments" : path;
}

Status fail(const std::string& path, const std::string& message) {
  return make_error(where(path) + ": " + message);
}

Status validate_at(const json& schema, const json& value, const std::string& path);

// A non-negative whole-number keyword (minLength, maxItems, ...), however the schema spelled it.
std::optional<std::size_t> count_keyword(const json& schema, const char* keyword) {
  auto it = schema.find(keyword);
  if (it == schema.end() || type_name(*it) != "integer" || it->get<double>() < 0)
    return std::nullopt;
  return static_cast<std::size_t>(it->get<double>());
}

Status check_type(const json& schema, const json& value, const std::string& path) {
  auto it = schema.find("type");
  if (it == schema.end()) return Ok{};
  std::vector<std::string> types;
  if (it->is_string()) types.push_back(it->get<std::string>());
  if (it->is_array())
    for (const auto& t : *it)
      if (t.is_string()) types.push_back(t.get<std::string>());
  if (types.empty()) return Ok{};
  for (const auto& t : types)
    if (has_type(value, t)) return Ok{};
  std::string expected;
  for (std::size_t i = 0; i < types.size(); ++i) {
    if (i > 0) expected += i + 1 == types.size() ? " or " : ", ";
    expected += article(types[i]);
  }
  return fail(path, "expected " + expected + ", got " + describe_json_value(value));
}

Status check_object(const json& schema, const json& value, const std::string& path) {
  const json empty = json::object();
  auto props_it = schema.find("properties");
  const json& props = props_it != schema.end() && props_it->is_object() ? *props_it : empty;
  if (auto req = schema.find("required"); req != schema.end() && req->is_array()) {
    for (const auto& name : *req) {
      if (!name.is_string()) continue;
      if (!value.contains(name.get<std::string>()))
        return fail(join_path(path, name.get<std::string>()), "required field is missing");
    }
  }
  auto extra = schema.find("additionalProperties");
  for (const auto& [key, item] : value.items()) {
    auto prop = props.find(key);
    if (prop != props.end()) {
      if (auto st = validate_at(*prop, item, join_path(path, key)); !st) return st;
      continue;
    }
    if (extra == schema.end() || extra->is_object()) {
      if (extra != schema.end())
        if (auto st = validate_at(*extra, item, join_path(path, key)); !st) return st;
      continue;
    }
    if (extra->is_boolean() && !extra->get<bool>()) {
      std::string allowed;
      for (const auto& [name, unused] : props.items()) {
        (void)unused;
        allowed += allowed.empty() ? name : ", " + name;
      }
      return fail(join_path(path, key),
                  "unknown field" + (allowed.empty() ? std::string(" (no fields are accepted)")
                                                     : "; allowed fields: " + allowed));
    }
  }
  return Ok{};
}

Status check_array(const json& schema, const json& value, const std::string& path) {
  if (auto min = count_keyword(schema, "minItems"); min && value.size() < *min)
    return fail(path, "must have at least " + std::to_string(*min) +
                          (*min == 1 ? " item" : " items") + ", got " +
                          std::to_string(value.size()));
  if (auto max = count_keyword(schema, "maxItems"); max && value.size() > *max)
    return fail(path, "must have at most " + std::to_string(*max) +
                          (*max == 1 ? " item" : " items") + ", got " +
                          std::to_string(value.size()));
  auto items = schema.find("items");
  if (items == schema.end() || !items->is_object()) return Ok{};
  for (std::size_t i = 0; i < value.size(); ++i)
    if (auto st = validate_at(*items, value[i], where(path) + "[" + std::to_string(i) + "]"); !st)
      return st;
  return Ok{};
}

std::string number_text(const json& n) {
  // An integral float prints without ".0" while it fits in 64 bits; past that the cast would be
  // undefined (it printed -9223372036854775808 for 1e16).
  if (type_name(n) == "integer" && n.is_number_float() && std::fabs(n.get<double>()) < 9.2e18)
    return std::to_string(static_cast<long long>(n.get<double>()));
  return n.dump();
}

Status check_number(const json& schema, const json& value, const std::string& path) {
  double v = value.get<double>();
  if (auto it = schema.find("minimum"); it != schema.end() && it->is_number())
    if (v < it->get<double>())
      return fail(path, "must be at least " + number_text(*it) + ", got " + number_text(value));
  if (auto it = schema.find("maximum"); it != schema.end() && it->is_number())
    if (v > it->get<double>())
      return fail(path, "must be at most " + number_text(*it) + ", got " + number_text(value));
  return Ok{};
}

Status check_string(const json& schema, const json& value, const std::string& path) {
  std::size_t length = utf8_length(value.get_ref<const std::string&>());
  if (auto min = count_keyword(schema, "minLength"); min && length < *min)
    return fail(path, *min == 1 ? std::string("must not be empty")
                                : "must be at least " + std::to_string(*min) +
                                      " characters long, got " + std::to_string(length));
  if (auto max = count_keyword(schema, "maxLength"); max && length > *max)
    return fail(path, "must be at most " + std::to_string(*max) + " characters long, got " +
                          std::to_string(length));
  return Ok{};
}

Status check_enum(const json& schema, const json& value, const std::string& path) {
  auto it = schema.find("enum");
  if (it == schema.end() || !it->is_array()) return Ok{};
  for (const auto& allowed : *it)
    if (allowed == value) return Ok{};
  std::string list;
  for (const auto& allowed : *it) list += (list.empty() ? "" : ", ") + describe_json_value(allowed);
  return fail(path, "must be one of " + list + "; got " + describe_json_value(value));
}

Status validate_at(const json& schema, const json& value, const std::string& path) {
  if (!schema.is_object()) return Ok{};  // `true`-like schema: anything goes
  if (auto st = check_type(schema, value, path); !st) return st;
  if (auto st = check_enum(schema, value, path); !st) return st;
  if (value.is_object()) return check_object(schema, value, path);
  if (value.is_array()) return check_array(schema, value, path);
  if (value.is_number()) return check_number(schema, value, path);
  if (value.is_string()) return check_string(schema, value, path);
  return Ok{};
}

}  // namespace

std::string describe_json_value(const nlohmann::json& value) {
  if (value.is_object()) return value.empty() ? "an empty object" : "an object";
  if (value.is_array()) return value.empty() ? "an empty array" : "an array";
  if (value.is_string() && value.get_ref<const std::string&>().size() > 60)
    return "a string of " + std::to_string(utf8_length(value.get_ref<const std::string&>())) +
           " characters";
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {
void drop_unknown_at(const json& schema, json& value, const std::string& path,
                     std::vector<std::string>& dropped) {
  if (!schema.is_object() || !value.is_object()) return;
  const json empty = json::object();
  auto props_it = schema.find("properties");
  const json& props = props_it != schema.end() && props_it->is_object() ? *props_it : empty;
  auto extra = schema.find("additionalProperties");
  const bool closed = extra != schema.end() && extra->is_boolean() && !extra->get<bool>();
  for (auto it = value.begin(); it != value.end();) {
    auto prop = props.find(it.key());
    if (prop != props.end()) {
      drop_unknown_at(*prop, *it, join_path(path, it.key()), dropped);
      ++it;
    } else if (closed) {
      dropped.push_back(join_path(path, it.key()));
      it = value.erase(it);
    } else {
      if (extra != schema.end()) drop_unknown_at(*extra, *it, join_path(path, it.key()), dropped);
      ++it;
    }
  }
}
}  // namespace

std::vector<std::string> drop_unknown_fields(const nlohmann::json& schema, nlohmann::json& value) {
  std::vector<std::string> dropped;
  drop_unknown_at(schema, value, "", dropped);
  return dropped;
}

Status validate_json(const nlohmann::json& schema, const nlohmann::json& value) {
  try {
    return validate_at(schema, value, "");
  } catch (const std::exception& e) {
    return make_error(std::string("arguments: could not be validated: ") + e.what());
  }
}

}  // namespace meanwhile
