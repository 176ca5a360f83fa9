#include "agent/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/secrets.h"
#include "lane/unique_fd.h"

namespace meanwhile::agent {
namespace {

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

bool valid_key(std::string_view key) {
  if (key.empty() || std::isdigit(static_cast<unsigned char>(key[0]))) return false;
  for (char c : key) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// Parses the value part of one assignment. Returns nullopt when a quote is not closed.
std::optional<std::string> parse_value(std::string_view raw) {
  std::string v = trim(raw);
  if (v.empty()) return std::string();
  char q = v[0];
  if (q == '\'' || q == '"') {
    std::string out;
    for (std::size_t i = 1; i < v.size(); ++i) {
      char c = v[i];
      if (c == q) return out;  // anything after the closing quote is a comment or junk
      if (q == '"' && c == '\\' && i + 1 < v.size()) {
        char n = v[++i];
        out += n == 'n' ? '\n' : n == 't' ? '\t' : n;
        continue;
      }
      out += c;
    }
    return std::nullopt;
  }
  // Unquoted: a '#' after whitespace starts a comment.
  for (std::size_t i = 1; i < v.size(); ++i) {
    if (v[i] == '#' && std::isspace(static_cast<unsigned char>(v[i - 1]))) {
      return trim(std::string_view(v).substr(0, i));
    }
  }
  return v;
}

std::string lookup(const EnvLookup& env, const EnvMap& dotenv, const std::string& key) {
  if (auto v = env(key); v && !v->empty()) return *v;
  if (auto it = dotenv.find(key); it != dotenv.end()) return it->second;
  return {};
}

bool from_environment(const EnvLookup& env, const std::string& key) {
  auto v = env(key);
  return v && !v->empty();
}

bool from_dotenv_only(const EnvLookup& env, const EnvMap& dotenv, const std::string& key) {
  auto it = dotenv.find(key);
  return !from_environment(env, key) && it != dotenv.end() && !it->second.empty();
}

std::string key_variable(std::string_view kind) {
  return kind == "openai" ? "OPENAI_API_KEY" : "ANTHROPIC_API_KEY";
}

std::string distrust_warning(const std::string& var, const std::string& key_var) {
  return ".env sets " + var + ", ignored: your " + key_var +
         " comes from the environment and a repository's .env must not choose where it is sent."
         " Set " +
         var + " in the environment, or " + std::string(kTrustDotEnvVariable) +
         "=1 to trust this .env";
}

}  // namespace

EnvLookup process_env() {
  return [](const std::string& key) -> std::optional<std::string> {
    // main() took the keys out of the environment (jobs must not read them): ask for the copy.
    if (auto withheld = secrets::withheld_value(key)) return withheld;
    const char* v = std::getenv(key.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

DotEnv parse_dotenv(std::string_view text) {
  DotEnv out;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string line = trim(text.substr(pos, nl - pos));
    pos = nl + 1;
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("export ", 0) == 0) line = trim(std::string_view(line).substr(7));
    std::size_t eq = line.find('=');
    std::string key = trim(std::string_view(line).substr(0, eq));
    if (eq == std::string::npos || !valid_key(key)) {
      out.warnings.push_back("line " + std::to_string(line_no) + ": not a KEY=VALUE assignment");
      continue;
    }
    auto value = parse_value(std::string_view(line).substr(eq + 1));
    if (!value) {
      out.warnings.push_back("line " + std::to_string(line_no) + ": unclosed quote in " + key);
      continue;
    }
    out.values[key] = *value;
  }
  return out;
}

DotEnv load_dotenv(const std::string& workspace) {
  const std::string path = workspace + "/.env";
  // O_NOFOLLOW: a symlink (to /dev/zero, to another user's file) is refused; O_NONBLOCK: opening
  // a FIFO does not wait for a writer.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  DotEnv refused;
  if (!fd) {
    if (errno == ENOENT || errno == ENOTDIR) return {};
    refused.warnings.push_back(errno == ELOOP
                                   ? "is a symbolic link: not read (only a regular file is)"
                                   : std::string("cannot be read: ") + std::strerror(errno));
    return refused;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    refused.warnings.push_back("is not a regular file: not read");
    return refused;
  }
  if (st.st_size > static_cast<off_t>(kMaxDotEnvBytes)) {
    refused.warnings.push_back("is larger than 64 KiB: not read");
    return refused;
  }
  std::string text;
  char buf[8192];
  while (text.size() <= kMaxDotEnvBytes) {  // the file may grow after fstat: stop past the cap
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      refused.warnings.push_back(std::string("cannot be read: ") + std::strerror(errno));
      return refused;
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  if (text.size() > kMaxDotEnvBytes) {
    refused.warnings.push_back("is larger than 64 KiB: not read");
    return refused;
  }
  return parse_dotenv(text);
}

std::string default_model(std::string_view provider_kind) {
  if (provider_kind == "openai") return "gpt-4o-mini";
  if (provider_kind == "script") return "script";
  return "claude-sonnet-4-5";
}

Result<llm::ProviderConfig> resolve_provider_config(const CliChoices& cli, const EnvLookup& env,
                                                    const EnvMap& dotenv,
                                                    std::vector<std::string>* warnings) {
  llm::ProviderConfig config;
  const bool trust_dotenv = env(std::string(kTrustDotEnvVariable)).value_or("") == "1";
  auto ignore = [&](const std::string& var, const std::string& key_var) {
    if (warnings) warnings->push_back(distrust_warning(var, key_var));
  };
  std::string kind = cli.provider;
  if (kind.empty() && !cli.script_path.empty()) kind = "script";
  if (kind.empty()) {
    kind = lookup(env, dotenv, "LLM_PROVIDER");
    // The provider decides which key is sent where: .env may not pick it for a key of the user's.
    if (!trust_dotenv && from_dotenv_only(env, dotenv, "LLM_PROVIDER") &&
        from_environment(env, key_variable(kind))) {
      ignore("LLM_PROVIDER", key_variable(kind));
      kind.clear();
    }
  }
  if (kind.empty()) kind = "anthropic";
  if (kind != "anthropic" && kind != "openai" && kind != "script") {
    return make_error("unknown provider '" + kind + "': use anthropic, openai or script");
  }
  config.kind = kind;
  config.model = !cli.model.empty() ? cli.model : lookup(env, dotenv, "MODEL_ID");
  if (config.model.empty()) config.model = default_model(kind);

  if (kind == "script") {
    if (cli.script_path.empty()) return make_error("--provider script needs --script FILE");
    config.script_path = cli.script_path;
    return config;
  }
  if (!cli.script_path.empty()) return make_error("--script only works with --provider script");
  const bool openai = kind == "openai";
  const std::string key_var = key_variable(kind);
  const std::string url_var = openai ? "OPENAI_BASE_URL" : "ANTHROPIC_BASE_URL";
  config.api_key = lookup(env, dotenv, key_var);
  config.base_url = lookup(env, dotenv, url_var);
  if (!trust_dotenv && from_environment(env, key_var) && from_dotenv_only(env, dotenv, url_var)) {
    ignore(url_var, key_var);
    config.base_url.clear();
  }
  // A local OpenAI-compatible server (llama.cpp, Ollama, vLLM) needs no key.
  const bool local_openai = openai && !config.base_url.empty() &&
                            config.base_url.find("://api.openai.com") == std::string::npos;
  if (config.api_key.empty() && !local_openai) {
    return make_error("no API key: set " + key_var +
                      " in the environment or in .env in the workspace"
                      " (or run the offline demo: --provider script --script FILE)");
  }
  return config;
}

}  // namespace meanwhile::agent
