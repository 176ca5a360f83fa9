// make_provider(): checks a configuration and builds the provider it names.
#include <fmt/format.h>

#include "llm/providers.h"

namespace meanwhile::llm {

namespace {

Status check_common(const ProviderConfig& config) {
  if (config.max_tries < 1) {
    return make_error(fmt::format("max_tries must be at least 1 (got {})", config.max_tries));
  }
  if (config.base_backoff.count() < 0 || config.max_backoff.count() < 0) {
    return make_error("backoff delays must not be negative");
  }
  if (config.request_timeout.count() <= 0) return make_error("request_timeout must be positive");
  const std::string& url = config.base_url;
  if (!url.empty() && !url.starts_with("http://") && !url.starts_with("https://")) {
    return make_error(fmt::format("base URL \"{}\" must start with http:// or https://", url));
  }
  return Ok{};
}

}  // namespace

Result<std::unique_ptr<Provider>> make_provider(const ProviderConfig& config) {
  if (config.kind == "script") {
    if (config.script_path.empty()) {
      return make_error("the script provider needs a script file (--script FILE)");
    }
    return make_script_provider(config);
  }
  if (config.kind != "anthropic" && config.kind != "openai") {
    return make_error(
        fmt::format("unknown provider \"{}\" (expected anthropic, openai or script)", config.kind));
  }
  if (Status status = check_common(config); !status.ok()) return make_error(status.error());
  if (config.kind == "anthropic") {
    if (config.api_key.empty()) {
      return make_error(
          "set ANTHROPIC_API_KEY (in the environment or .env), or use --provider script "
          "--script FILE for an offline run");
    }
    return make_anthropic_provider(config);
  }
  bool official =
      config.base_url.empty() || config.base_url.find("://api.openai.com") != std::string::npos;
  if (official && config.api_key.empty()) {
    return make_error(
        "set OPENAI_API_KEY, or OPENAI_BASE_URL to a local OpenAI-compatible server (which needs "
        "no key)");
  }
  return make_openai_provider(config);
}

}  // namespace meanwhile::llm
