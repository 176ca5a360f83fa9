// The concrete providers behind make_provider(). Each expects an already validated config.
#pragma once

#include <memory>

#include "meanwhile/llm.h"

namespace meanwhile::llm {

inline constexpr const char* kAnthropicDefaultBaseUrl = "https://api.anthropic.com";
inline constexpr const char* kOpenAiDefaultBaseUrl = "https://api.openai.com/v1";

std::unique_ptr<Provider> make_anthropic_provider(const ProviderConfig& config);
std::unique_ptr<Provider> make_openai_provider(const ProviderConfig& config);
Result<std::unique_ptr<Provider>> make_script_provider(const ProviderConfig& config);

// The endpoint for a base URL: ANTHROPIC_BASE_URL may or may not end in /v1 (both are common);
// OPENAI_BASE_URL normally ends in /v1 and may already name /chat/completions.
std::string anthropic_messages_url(const std::string& base_url);
std::string openai_chat_url(const std::string& base_url);

}  // namespace meanwhile::llm
