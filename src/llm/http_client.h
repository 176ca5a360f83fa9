// One HTTP connection pool for one provider, over libcurl.
//
// post() sends a request and streams a successful (2xx) response body to a sink as it arrives;
// other responses are collected (up to 1 MiB) for their error message. The easy handle and the
// multi handle that drives it live as long as the client, so the connection is kept alive between
// requests. The transfer is driven by a poll loop with a short tick so that `cancel` (set from
// another thread, e.g. on Ctrl+C) stops it within ~50 ms even when no byte is moving; the
// progress callback checks it too. Proxies: libcurl's own environment handling (http_proxy,
// https_proxy, no_proxy) stays on, except that loopback URLs (localhost, 127.x, ::1: a local
// model server, the test server) always go direct.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace meanwhile::llm {

struct HttpOutcome {
  enum class Kind {
    response,          // a complete response (any status)
    connection_error,  // resolve/connect failure, reset, closed mid-body, timeout
    cancelled,         // `cancel` became true
    sink_failed,       // the sink returned false (its owner knows why)
  };
  Kind kind = Kind::response;
  long status = 0;                                       // HTTP status, when a status line arrived
  std::string reason;                                    // the status line's reason phrase
  std::string content_type;                              // lower-case
  std::optional<std::chrono::milliseconds> retry_after;  // the retry-after header
  std::string body;   // non-2xx responses only (truncated to 1 MiB)
  std::string error;  // connection_error: what went wrong (libcurl's words)
};

class HttpClient {
 public:
  // Receives each piece of a 2xx response body; false aborts the transfer (sink_failed).
  using Sink = std::function<bool(std::string_view)>;

  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Requests from several threads are serialised (one connection, one transfer at a time).
  HttpOutcome post(const std::string& url, const std::vector<std::string>& headers,
                   const std::string& body, const Sink& sink, const std::atomic<bool>* cancel,
                   std::chrono::milliseconds timeout);

  struct Handles;  // libcurl handles (opaque here so users need not include curl.h)

 private:
  std::mutex mutex_;
  std::unique_ptr<Handles> handles_;
};

// Parses a retry-after header value: delay-seconds (possibly fractional) or an HTTP-date.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value);

}  // namespace meanwhile::llm
