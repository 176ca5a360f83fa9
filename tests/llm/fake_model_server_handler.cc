#include "fake_model_server_handler.h"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "fake_model_server_sse.h"
#include "fake_model_server_validate.h"

namespace fake_server {

using meanwhile::make_error;
using nlohmann::json;

namespace {

std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

json headers_for_log(const HttpRequest& request) {
  json headers = json::object();
  for (const auto& [name, value] : request.headers) {
    // The key's value is never written anywhere: tests grep the log to prove it is not leaked.
    if (name == "x-api-key" || name == "authorization") {
      headers[name] = {{"present", true}};
    } else {
      headers[name] = value;
    }
  }
  return headers;
}

bool has_header(const HttpRequest& request, const char* name) {
  const std::string* value = request.header(name);
  return value && !value->empty();
}

}  // namespace

meanwhile::Status Server::open_log() {
  if (options_.log_path.empty()) return meanwhile::Ok{};
  log_fd_.reset(::open(options_.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!log_fd_) {
    return make_error(
        fmt::format("cannot open log {}: {}", options_.log_path, std::strerror(errno)));
  }
  return meanwhile::Ok{};
}

void Server::stop() {
  std::lock_guard lock(mutex_);
  stopping_ = true;
  wake_.notify_all();
}

bool Server::sleep_ms(int ms) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping_; });
}

void Server::log(const HttpRequest& request, int status, const json& extra) {
  std::lock_guard lock(mutex_);
  if (!log_fd_) return;
  json line = {{"t_ms", request.arrival_ms}, {"method", request.method},
               {"path", request.path},       {"connection", request.connection_id},
               {"status", status},           {"headers", headers_for_log(request)}};
  line.update(extra);
  std::string text = dump(line) + "\n";
  // One write per line on an O_APPEND fd: readers never see half a line from us.
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(log_fd_.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
}

void Server::serve(HttpConnection& connection) {
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    HttpRequest request;
    std::string error;
    switch (connection.read_request(request, error)) {
      case HttpConnection::ReadStatus::closed:
        return;
      case HttpConnection::ReadStatus::bad_request:
      case HttpConnection::ReadStatus::too_large: {
        request.keep_alive = false;
        int status = error.find("larger") != std::string::npos ? 413 : 400;
        send_error(connection, request, std::nullopt, status, error, nullptr);
        return;
      }
      case HttpConnection::ReadStatus::ok:
        break;
    }
    if (!handle(connection, request) || !request.keep_alive) return;
  }
}

bool Server::send_error(HttpConnection& connection, const HttpRequest& request,
                        std::optional<Api> api, int status, const std::string& message,
                        const json& log_body) {
  json body = api == Api::openai ? openai_error_body(status, "", message)
                                 : anthropic_error_body(status, "", message);
  json extra = {{"request", log_body}, {"error", message}};
  log(request, status, extra);
  return connection.send_response(status, "application/json", dump(body), {}, request.keep_alive);
}

bool Server::handle(HttpConnection& connection, const HttpRequest& request) {
  std::optional<Api> api;
  if (request.path == "/v1/messages") {
    api = Api::anthropic;
  } else if (request.path == "/v1/chat/completions" || request.path == "/chat/completions") {
    api = Api::openai;
  } else {
    return send_error(connection, request, std::nullopt, 404,
                      fmt::format("fake_model_server: no route for {}", request.path), nullptr);
  }
  if (request.method != "POST") {
    return send_error(connection, request, api, 405,
                      fmt::format("fake_model_server: {} needs POST", request.path), nullptr);
  }
  bool authenticated = api == Api::anthropic ? has_header(request, "x-api-key") ||
                                                   has_header(request, "authorization")
                                             : has_header(request, "authorization");
  if (options_.require_auth && !authenticated) {
    return send_error(connection, request, api, 401,
                      api == Api::anthropic
                          ? "x-api-key header is required"
                          : "You didn't provide an API key (Authorization: Bearer)",
                      nullptr);
  }

  json body;
  if (auto problem = parse_body(request.body, body)) {
    json raw = dump(json(request.body));  // invalid UTF-8 replaced, for the log only
    return send_error(connection, request, api, 400, *problem, raw);
  }
  std::optional<std::string> problem;
  if (api == Api::anthropic && !has_header(request, "anthropic-version")) {
    problem = "anthropic-version: header is required";
  }
  try {
    if (!problem)
      problem = api == Api::anthropic ? validate_anthropic(body) : validate_openai(body);
  } catch (const json::exception& e) {
    problem = fmt::format("invalid request: {}", e.what());
  }
  if (problem) return send_error(connection, request, api, 400, *problem, body);

  std::size_t index;
  {
    std::lock_guard lock(mutex_);
    index = next_;
    if (next_ < entries_.size()) ++next_;
  }
  if (index >= entries_.size()) {
    return send_error(connection, request, api, 500,
                      fmt::format("fake_model_server: script exhausted: it has {} entries and "
                                  "this request wanted entry {}",
                                  entries_.size(), index + 1),
                      body);
  }
  return reply(connection, request, *api, body, entries_[index], static_cast<int>(index) + 1);
}

bool Server::reply(HttpConnection& connection, const HttpRequest& request, Api api,
                   const json& body, const Entry& entry, int entry_number) {
  // Logged before any delay: the log says when the request arrived and what it will get.
  json extra = {{"request", body}, {"entry", entry_number}, {"line", entry.line_number}};
  if (entry.status >= 400) {
    extra["fault"] = "status";
  } else if (entry.malformed_sse) {
    extra["fault"] = "malformed_sse";
  } else if (!entry.stream_error.empty()) {
    extra["fault"] = "stream_error";
  } else if (entry.disconnect_after_events >= 0) {
    extra["fault"] = "disconnect";
  }
  log(request, entry.status >= 400 ? entry.status : 200, extra);
  if (entry.delay_ms > 0 && !sleep_ms(entry.delay_ms)) return false;

  if (entry.status >= 400) {
    json error_body =
        !entry.body.is_null() ? entry.body
        : api == Api::openai
            ? openai_error_body(entry.status, entry.error_type, entry.error_message)
            : anthropic_error_body(entry.status, entry.error_type, entry.error_message);
    HeaderList headers;
    if (entry.retry_after)
      headers.emplace_back("retry-after", fmt::format("{}", *entry.retry_after));
    return connection.send_response(entry.status, "application/json", dump(error_body), headers,
                                    request.keep_alive);
  }

  ReplyContext context;
  context.model = body.value("model", "");
  context.message_id =
      (api == Api::anthropic ? "msg_fake_" : "chatcmpl-fake-") + std::to_string(entry_number);
  context.input_tokens = static_cast<int>(request.body.size() / 4);
  context.include_usage = body.contains("stream_options") && body["stream_options"].is_object() &&
                          body["stream_options"].value("include_usage", false) == true;
  bool stream = body.value("stream", false);

  std::vector<std::string> events;
  if (entry.malformed_sse) {
    events = {"this is not an event stream\n", "<html><body>502 oops</body></html>\n\n"};
  } else if (!entry.stream_error.empty()) {
    meanwhile::llm::Response empty;
    empty.stop_reason = "end_turn";
    std::vector<std::string> all =
        api == Api::anthropic ? anthropic_events(empty, context) : openai_events(empty, context);
    events = {all.front()};
    events.push_back(api == Api::anthropic
                         ? anthropic_error_event(entry.stream_error, entry.error_message)
                         : openai_error_event(entry.stream_error, entry.error_message));
  } else if (!stream) {
    json message = api == Api::anthropic ? anthropic_message(*entry.reply, context)
                                         : openai_completion(*entry.reply, context);
    return connection.send_response(200, "application/json", dump(message), {}, request.keep_alive);
  } else {
    events = api == Api::anthropic ? anthropic_events(*entry.reply, context)
                                   : openai_events(*entry.reply, context);
  }

  HeaderList headers = {{"Cache-Control", "no-cache"}};
  if (!connection.start_chunked(200, "text/event-stream; charset=utf-8", headers,
                                request.keep_alive)) {
    return false;
  }
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (entry.disconnect_after_events >= 0 &&
        i == static_cast<std::size_t>(entry.disconnect_after_events)) {
      connection.abort();
      return false;
    }
    if (i > 0 && entry.chunk_delay_ms > 0 && !sleep_ms(entry.chunk_delay_ms)) return false;
    if (!connection.write_chunk(events[i])) return false;
  }
  if (entry.disconnect_after_events >= 0) {
    connection.abort();
    return false;
  }
  return connection.end_chunked();
}

}  // namespace fake_server
