// OpenAI-compatible chat completions (OpenAI, llama.cpp server, Ollama, vLLM, ...):
// POST {base}/chat/completions with stream:true; messages and tools converted at this edge.
#include <fmt/format.h>

#include "llm/http_client.h"
#include "llm/openai_convert.h"
#include "llm/openai_stream.h"
#include "llm/providers.h"
#include "llm/stream_attempt.h"

namespace meanwhile::llm {

namespace {

class OpenAiProvider : public Provider {
 public:
  explicit OpenAiProvider(const ProviderConfig& config)
      : config_(config),
        url_(openai_chat_url(config.base_url.empty() ? kOpenAiDefaultBaseUrl : config.base_url)) {}

  Result<Response> send(const Request& request, const StreamHandler& handler,
                        const std::atomic<bool>* cancel) override {
    std::string model = request.model.empty() ? config_.model : request.model;
    if (model.empty()) return make_error("no model set (set MODEL_ID or pass --model)");
    StreamRequest http;
    http.url = url_;
    http.timeout = config_.request_timeout;
    http.headers = {"content-type: application/json", "accept: text/event-stream"};
    // Local servers need no key; send none rather than an empty "Bearer ".
    if (!config_.api_key.empty())
      http.headers.push_back("authorization: Bearer " + config_.api_key);
    try {
      nlohmann::json body = {{"model", model},
                             {"messages", to_openai_messages(request.system, request.messages)},
                             {"stream", true},
                             {"stream_options", {{"include_usage", true}}}};
      // OpenAI's own API wants max_completion_tokens (its reasoning models reject max_tokens);
      // the compatible servers know max_tokens.
      body[url_.find("://api.openai.com/") != std::string::npos ? "max_completion_tokens"
                                                                : "max_tokens"] =
          request.max_tokens;
      nlohmann::json tools = to_openai_tools(request.tools);
      if (!tools.empty()) body["tools"] = std::move(tools);
      http.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } catch (const nlohmann::json::exception& e) {
      return make_error(
          fmt::format("cannot convert the conversation to OpenAI format: {}", e.what()));
    }

    return send_streaming(client_, http, config_, handler, cancel, [](const StreamHandler& h) {
      return std::make_unique<OpenAiDecoder>(h);
    });
  }

  std::string name() const override { return "openai"; }

 private:
  ProviderConfig config_;
  std::string url_;
  HttpClient client_;
};

}  // namespace

std::string openai_chat_url(const std::string& base_url) {
  std::string base = trim_base_url(base_url);
  if (base.ends_with("/chat/completions")) return base;
  return base + "/chat/completions";
}

std::unique_ptr<Provider> make_openai_provider(const ProviderConfig& config) {
  return std::make_unique<OpenAiProvider>(config);
}

}  // namespace meanwhile::llm
