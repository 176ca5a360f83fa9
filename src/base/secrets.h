// Secrets meanwhile holds (the provider's key, variables the user withholds): kept out of every
// job's reach and redacted from every text meanwhile shows or saves. Process-wide and
// thread-safe: main() withholds once at start; tool results, notes and transcripts redact.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace meanwhile::secrets {

// What a redacted value is replaced by.
inline constexpr std::string_view kRedacted = "[redacted]";
// Variables withheld from jobs whatever the user says: the keys meanwhile's providers use.
inline constexpr std::string_view kDefaultWithheld =
    "ANTHROPIC_API_KEY,OPENAI_API_KEY,ANTHROPIC_AUTH_TOKEN";

// Registers a value to redact. Values shorter than 8 bytes are not registered: redacting them
// would mangle ordinary text, and no real key is that short.
void add(std::string value);
// `text` with every registered value replaced by kRedacted.
std::string redact(std::string_view text);
// Whether `text` contains a registered value.
bool contains_secret(std::string_view text);

// Splits "A, B C,AWS_*" into names and `*`-suffix globs; empty items are dropped.
std::vector<std::string> parse_name_list(std::string_view text);
// Whether `name` matches `pattern` (exact, or a prefix when the pattern ends in '*').
bool name_matches(std::string_view pattern, std::string_view name);

// Removes every variable matching one of `patterns` from this process's environment: copies the
// value out (withheld_value), registers it for redaction, overwrites its bytes in the initial
// environment block (what /proc/PID/environ shows, even to root) and unsets it. Returns the names
// withheld. Call from main() before any thread starts.
std::vector<std::string> withhold_environment(const std::vector<std::string>& patterns);
// The value a withheld variable had; nullopt when it was not withheld.
std::optional<std::string> withheld_value(const std::string& name);

// prctl(PR_SET_DUMPABLE, 0): other processes of the same user can no longer read this process's
// /proc/PID/environ or /proc/PID/mem (jobs get it back at execve). Returns false on failure.
bool make_undumpable();

}  // namespace meanwhile::secrets
