// Shared bits of the provider tests.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fake_server_process.h"
#include "meanwhile/llm.h"

namespace meanwhile::llm::testing {

// Records what a StreamHandler is told.
struct Recorder {
  struct Retry {
    int attempt;
    std::string reason;
    std::chrono::milliseconds wait;
  };
  std::vector<std::string> deltas;
  std::vector<Retry> retries;

  StreamHandler handler() {
    StreamHandler h;
    h.on_text = [this](std::string_view text) { deltas.emplace_back(text); };
    h.on_retry = [this](int attempt, const std::string& reason, std::chrono::milliseconds wait) {
      retries.push_back({attempt, reason, wait});
    };
    return h;
  }
  std::string text() const {
    std::string all;
    for (const std::string& d : deltas) all += d;
    return all;
  }
};

inline ProviderConfig network_config(const std::string& kind, const FakeServerProcess& server,
                                     const std::string& key = "test-key") {
  ProviderConfig config;
  config.kind = kind;
  config.api_key = key;
  config.base_url = server.base_url() + (kind == "openai" ? "/v1" : "");
  config.model = "fake-model";
  config.base_backoff = std::chrono::milliseconds(10);
  config.max_backoff = std::chrono::milliseconds(50);
  return config;
}

inline Request user_says(const std::string& text) {
  Request request;
  request.messages = nlohmann::json::array({{{"role", "user"}, {"content", text}}});
  request.max_tokens = 256;
  return request;
}

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace meanwhile::llm::testing
