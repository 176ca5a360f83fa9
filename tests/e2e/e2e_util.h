// End-to-end harness: the real `meanwhile` binary and the real fake model server, both as child
// processes, in a temporary workspace. Paths come from compile definitions (MEANWHILE_BIN,
// FAKE_MODEL_SERVER_BIN, DEMO_SCRIPT).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace e2e {

using nlohmann::json;
using Env = std::map<std::string, std::string>;

// The shared helpers (tests/support); jobs' stores land in TempDir::path()/.meanwhile.
using meanwhile::test::read_file;
using meanwhile::test::TempDir;
using meanwhile::test::write_file;

// Every file under `dir`, concatenated (for "the key appears nowhere" checks).
std::string read_tree(const std::string& dir);

// A clean environment: PATH, HOME=home, LANG and sanitizer options; nothing else from the
// caller's (no real API key).
Env base_env(const std::string& home);

struct RunResult {
  int exit_code = -1;  // -1: killed by a signal (see term_signal) or timed out
  int term_signal = 0;
  bool timed_out = false;
  std::string out, err;
  double seconds = 0;
};

// Runs `meanwhile args...` in `cwd` with exactly `env`, feeding `input` on stdin.
// `tick`, when set, is called about every 100 ms with the child's pid while it runs (e.g. to
// send it a signal at the right moment).
RunResult run_meanwhile(const std::vector<std::string>& args, const std::string& cwd,
                        const Env& env, std::chrono::seconds timeout = std::chrono::seconds(60),
                        const std::string& input = "", const std::function<void(pid_t)>& tick = {});

// The same, run as `uid`:`gid` (the caller must be root); uid -1: as the caller.
RunResult run_meanwhile_as(uid_t uid, gid_t gid, const std::vector<std::string>& args,
                           const std::string& cwd, const Env& env,
                           std::chrono::seconds timeout = std::chrono::seconds(60),
                           const std::string& input = "",
                           const std::function<void(pid_t)>& tick = {});

// True while a process whose command line contains `needle` exists (e.g. a job's `sleep 40.75`).
bool process_alive(const std::string& needle);

// Script entries (one JSON value each) written as JSONL.
std::string write_script(const TempDir& dir, const std::vector<json>& entries,
                         const std::string& name = "script.jsonl");
json text_block(const std::string& text);
json tool_use(const std::string& name, json input);
json turn(std::vector<json> blocks);  // {"content": blocks}

class FakeServer {
 public:
  // Starts fake_model_server on the script; waits for its "PORT n" line.
  FakeServer(const TempDir& dir, const std::vector<json>& entries);
  ~FakeServer();
  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // One JSON object per request received so far: t_ms, path, status, request.
  std::vector<json> log() const;
  // The requests that were answered 200 (the replies the script gave).
  std::vector<json> answered() const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_path_;
};

// The env for `meanwhile` against `server` with the Anthropic provider.
Env anthropic_env(const TempDir& dir, const FakeServer& server,
                  const std::string& key = "sk-ant-e2e-dummy");

// Helpers over Anthropic-format requests.
const json& last_message(const json& request);
std::string all_text(const json& value);  // every string inside, joined (for "contains" checks)
std::vector<json> blocks_of(const json& message, const std::string& type);
// Returns the background-results text of the last user turn, or "".
std::string background_block(const json& request);

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds limit);

}  // namespace e2e
