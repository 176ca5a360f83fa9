// Model providers. Conversations are kept in the Anthropic Messages format throughout
// ({"role": "user"|"assistant", "content": [blocks]}); a provider that speaks another wire format
// (OpenAI-compatible chat completions) converts at its edge.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "meanwhile/result.h"

namespace meanwhile::llm {

struct Request {
  std::string model;
  std::string system;
  nlohmann::json messages = nlohmann::json::array();  // Anthropic format
  nlohmann::json tools = nlohmann::json::array();     // [{name, description, input_schema}]
  int max_tokens = 8192;
};

struct Response {
  nlohmann::json content = nlohmann::json::array();  // assistant blocks: text, tool_use
  std::string stop_reason;                           // end_turn, tool_use, max_tokens, ...
  nlohmann::json usage = nlohmann::json::object();
};

// Streaming callbacks; all optional, all called on the thread that called send().
struct StreamHandler {
  std::function<void(std::string_view)> on_text;  // each text delta as it arrives
  // A retry is about to happen: attempt (1-based) that failed, why, and the wait before the next.
  std::function<void(int, const std::string&, std::chrono::milliseconds)> on_retry;
};

class Provider {
 public:
  virtual ~Provider() = default;
  // Sends one request and returns the complete assistant turn. Retries transient failures
  // (429, 500, 502, 503, 504, 529, connection errors) with backoff; returns an Error with the
  // API's own message otherwise. `cancel`, when set to true from another thread (Ctrl+C),
  // makes it return an Error "interrupted" promptly. The API key never appears in an Error.
  // A retry after a failure mid-stream starts the turn again: text already passed to on_text
  // is streamed again, after on_retry has been called (a UI can say so).
  virtual Result<Response> send(const Request& request, const StreamHandler& handler,
                                const std::atomic<bool>* cancel) = 0;
  virtual std::string name() const = 0;  // "anthropic", "openai", "script"
};

struct ProviderConfig {
  std::string kind;  // anthropic | openai | script
  std::string api_key;
  std::string base_url;  // default per kind
  std::string model;
  std::string script_path;  // script provider: JSONL of assistant messages
  int max_tries = 5;
  std::chrono::milliseconds base_backoff{500};
  std::chrono::milliseconds max_backoff{30000};
  std::chrono::milliseconds request_timeout{600000};
};

Result<std::unique_ptr<Provider>> make_provider(const ProviderConfig& config);

}  // namespace meanwhile::llm
