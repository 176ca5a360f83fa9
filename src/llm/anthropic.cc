// The Anthropic Messages API: POST {base}/v1/messages with stream:true.
#include <fmt/format.h>

#include "llm/anthropic_stream.h"
#include "llm/http_client.h"
#include "llm/providers.h"
#include "llm/stream_attempt.h"

namespace meanwhile::llm {

namespace {

class AnthropicProvider : public Provider {
 public:
  explicit AnthropicProvider(const ProviderConfig& config)
      : config_(config),
        url_(anthropic_messages_url(config.base_url.empty() ? kAnthropicDefaultBaseUrl
                                                            : config.base_url)) {}

  Result<Response> send(const Request& request, const StreamHandler& handler,
                        const std::atomic<bool>* cancel) override {
    std::string model = request.model.empty() ? config_.model : request.model;
    if (model.empty()) return make_error("no model set (set MODEL_ID or pass --model)");
    StreamRequest http;
    http.url = url_;
    http.timeout = config_.request_timeout;
    http.headers = {"x-api-key: " + config_.api_key, "anthropic-version: 2023-06-01",
                    "content-type: application/json", "accept: text/event-stream"};
    nlohmann::json body = {{"model", model},
                           {"max_tokens", request.max_tokens},
                           {"messages", request.messages},
                           {"stream", true}};
    if (!request.system.empty()) body["system"] = request.system;
    if (request.tools.is_array() && !request.tools.empty()) body["tools"] = request.tools;
    // Invalid UTF-8 in a tool result must not abort the whole turn: replace it.
    http.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);

    return send_streaming(client_, http, config_, handler, cancel, [](const StreamHandler& h) {
      return std::make_unique<AnthropicDecoder>(h);
    });
  }

  std::string name() const override { return "anthropic"; }

 private:
  ProviderConfig config_;
  std::string url_;
  HttpClient client_;
};

}  // namespace

std::string anthropic_messages_url(const std::string& base_url) {
  std::string base = trim_base_url(base_url);
  if (base.ends_with("/v1/messages")) return base;
  if (base.ends_with("/v1")) return base + "/messages";
  return base + "/v1/messages";
}

std::unique_ptr<Provider> make_anthropic_provider(const ProviderConfig& config) {
  return std::make_unique<AnthropicProvider>(config);
}

}  // namespace meanwhile::llm
