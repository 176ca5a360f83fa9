// Configuration of the agent: which model provider, which key, which model. Read from the
// environment and from a `.env` file in the workspace; the environment wins, command-line
// choices win over both. The key is kept in memory only: no message here ever contains it.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "meanwhile/llm.h"
#include "meanwhile/result.h"

namespace meanwhile::agent {

using EnvMap = std::map<std::string, std::string>;
// Looks up one environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// The process environment.
EnvLookup process_env();

struct DotEnv {
  EnvMap values;
  std::vector<std::string> warnings;  // "line 3: ..." (never quotes a value)
};

// Parses .env text: KEY=VALUE lines, optional `export `, # comments, '...' and "..." values
// ("..." understands \n, \t, \" and \\). Lines that are not assignments become warnings.
DotEnv parse_dotenv(std::string_view text);
// Largest .env read.
inline constexpr std::size_t kMaxDotEnvBytes = 64 * 1024;
// Set to 1 in the environment to let .env choose the endpoint or provider for a key that comes
// from the environment.
inline constexpr std::string_view kTrustDotEnvVariable = "MEANWHILE_TRUST_DOTENV";

// Reads WORKSPACE/.env; an absent file is an empty DotEnv. Only a regular file of at most 64 KiB
// is read (never through a symlink, never blocking on a FIFO); anything else is an empty DotEnv
// with a warning.
DotEnv load_dotenv(const std::string& workspace);

// What the command line chose; empty strings mean "not given".
struct CliChoices {
  std::string provider;  // anthropic | openai | script
  std::string model;
  std::string script_path;
};

// Resolves the provider configuration. Errors (exit code 2 in the CLI) say what to set, e.g.
// "no API key: set ANTHROPIC_API_KEY ...". A key from the environment is never paired with an
// endpoint (*_BASE_URL) or provider (LLM_PROVIDER) from .env unless MEANWHILE_TRUST_DOTENV=1:
// those .env values are ignored, each with a sentence in `warnings`.
Result<llm::ProviderConfig> resolve_provider_config(const CliChoices& cli, const EnvLookup& env,
                                                    const EnvMap& dotenv,
                                                    std::vector<std::string>* warnings = nullptr);

// Default model per provider kind when neither --model nor MODEL_ID is given.
std::string default_model(std::string_view provider_kind);

}  // namespace meanwhile::agent
