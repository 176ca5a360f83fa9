#include "llm/stream_attempt.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "base/json_parse.h"

namespace meanwhile::llm {

namespace {

std::string first_line(const std::string& text, std::size_t max) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() > max) line = line.substr(0, max) + "...";
  return line;
}

}  // namespace

Attempt stream_attempt(HttpClient& client, const StreamRequest& request, StreamDecoder& decoder,
                       const std::atomic<bool>* cancel) {
  SseParser parser;
  std::optional<AttemptError> stream_error;
  auto on_event = [&](SseEvent& event) -> Status {
    stream_error = decoder.on_event(event);
    if (stream_error) return make_error(stream_error->message);
    return Ok{};
  };
  auto sink = [&](std::string_view bytes) {
    Status status = parser.feed(bytes, on_event);
    if (status.ok()) return true;
    // A decoder's own error is already in stream_error; otherwise the SSE itself was malformed.
    if (!stream_error) stream_error = AttemptError{status.error(), true, false, std::nullopt};
    return false;
  };
  HttpOutcome out =
      client.post(request.url, request.headers, request.body, sink, cancel, request.timeout);
  switch (out.kind) {
    case HttpOutcome::Kind::cancelled:
      return AttemptError{"interrupted", false, true, std::nullopt};
    case HttpOutcome::Kind::sink_failed:
      return *stream_error;
    case HttpOutcome::Kind::connection_error:
      if (out.status >= 200 && out.status < 300) {
        return AttemptError{
            fmt::format("connection error in the middle of the reply: {}", out.error), true, false,
            std::nullopt};
      }
      return AttemptError{fmt::format("connection error: {}", out.error), true, false,
                          std::nullopt};
    case HttpOutcome::Kind::response:
      break;
  }
  if (out.status < 200 || out.status >= 300) {
    const ErrorCode code = out.status == 401 || out.status == 403 ? ErrorCode::permission_denied
                           : out.status == 404                    ? ErrorCode::not_found
                                                                  : ErrorCode::internal;
    return AttemptError{
        fmt::format("{} {}", out.status, api_error_message(out.status, out.reason, out.body)),
        is_retryable_status(out.status), false, out.retry_after, code};
  }
  if (Status end = parser.finish(); !end.ok()) {
    return AttemptError{end.error(), true, false, std::nullopt};
  }
  if (auto error = decoder.on_end()) return *error;
  return decoder.take_response();
}

Result<Response> send_streaming(
    HttpClient& client, const StreamRequest& request, const ProviderConfig& config,
    const StreamHandler& handler, const std::atomic<bool>* cancel,
    const std::function<std::unique_ptr<StreamDecoder>(const StreamHandler&)>& make_decoder) {
  RetryPolicy policy{config.max_tries, config.base_backoff, config.max_backoff};
  StreamHandler scrubbed = handler;
  if (handler.on_retry) {
    scrubbed.on_retry = [&](int tries, const std::string& why, std::chrono::milliseconds wait) {
      handler.on_retry(tries, redact(why, config.api_key), wait);
    };
  }
  Result<Response> result = run_with_retries(policy, scrubbed, cancel, [&](int) -> Attempt {
    std::unique_ptr<StreamDecoder> decoder = make_decoder(handler);
    return stream_attempt(client, request, *decoder, cancel);
  });
  if (!result.ok()) {
    // The error names its fix: a refused key or an unknown model is not cured by retrying.
    const ErrorCode code = result.error_info().code;
    const std::string key_var = config.kind == "openai" ? "OPENAI_API_KEY" : "ANTHROPIC_API_KEY";
    std::string message = redact(result.error(), config.api_key);
    if (code == ErrorCode::permission_denied)
      message +=
          fmt::format(": the API key was refused; check {} (in the environment or .env)", key_var);
    else if (code == ErrorCode::not_found)
      message +=
          fmt::format(": is the model id \"{}\" right? Set MODEL_ID or --model", config.model);
    return make_error(code, std::move(message));
  }
  return result;
}

std::string api_error_message(long status, const std::string& reason, const std::string& body) {
  nlohmann::json parsed = parse_json(body).value;  // discarded when invalid or too deep
  if (parsed.is_object()) {
    const nlohmann::json* error = parsed.contains("error") ? &parsed["error"] : nullptr;
    if (error && error->is_object() && error->contains("message") &&
        (*error)["message"].is_string()) {
      return (*error)["message"].get<std::string>();
    }
    if (error && error->is_string()) return error->get<std::string>();
    for (const char* key : {"message", "detail"}) {
      if (parsed.contains(key) && parsed[key].is_string()) return parsed[key].get<std::string>();
    }
  }
  std::string snippet = first_line(body, 200);
  if (!reason.empty()) return snippet.empty() ? reason : fmt::format("{}: {}", reason, snippet);
  if (!snippet.empty()) return snippet;
  return fmt::format("HTTP status {}", status);
}

std::string redact(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (std::size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
    text.replace(at, secret.size(), "<redacted>");
    at += 10;
  }
  return text;
}

std::string trim_base_url(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace meanwhile::llm
