// One streamed request to a model API: POST, feed the body through the SSE parser into a
// provider-specific decoder, and turn every way it can end into a Response or an AttemptError
// the retry loop understands.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "llm/http_client.h"
#include "llm/retry.h"
#include "llm/sse.h"

namespace meanwhile::llm {

// Turns one API's events into a Response. A fresh decoder per attempt.
class StreamDecoder {
 public:
  virtual ~StreamDecoder() = default;
  // One event; an AttemptError stops the stream.
  virtual std::optional<AttemptError> on_event(const SseEvent& event) = 0;
  // The stream ended cleanly at the HTTP level; was the reply complete?
  virtual std::optional<AttemptError> on_end() = 0;
  virtual Response take_response() = 0;
};

struct StreamRequest {
  std::string url;
  std::vector<std::string> headers;
  std::string body;
  std::chrono::milliseconds timeout{600000};
};

Attempt stream_attempt(HttpClient& client, const StreamRequest& request, StreamDecoder& decoder,
                       const std::atomic<bool>* cancel);

// The whole of Provider::send() for a streaming API: attempts with a fresh decoder each
// (make_decoder), retries per `config`, and `config.api_key` scrubbed from every message that
// leaves (the final Error and on_retry's reason).
Result<Response> send_streaming(
    HttpClient& client, const StreamRequest& request, const ProviderConfig& config,
    const StreamHandler& handler, const std::atomic<bool>* cancel,
    const std::function<std::unique_ptr<StreamDecoder>(const StreamHandler&)>& make_decoder);

// The message of an API error body: error.message, error (a string), message or detail, else
// the HTTP reason phrase or the start of the body.
std::string api_error_message(long status, const std::string& reason, const std::string& body);

// `text` with every occurrence of `secret` replaced by "<redacted>".
std::string redact(std::string text, const std::string& secret);

// A base URL without trailing slashes.
std::string trim_base_url(std::string url);

}  // namespace meanwhile::llm
