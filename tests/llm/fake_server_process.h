// Test helper: runs the real fake_model_server binary as a child process on an ephemeral port,
// with its script and request log in a fresh temporary directory.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace meanwhile::llm::testing {

class FakeServerProcess {
 public:
  // Writes `script` (JSONL text) to a file and starts the server on it; fails the current test
  // (and returns null) if it does not print its port within 20 s.
  static std::unique_ptr<FakeServerProcess> start(const std::string& script,
                                                  const std::vector<std::string>& extra_args = {});
  ~FakeServerProcess();  // SIGTERM, wait; the temporary directory is removed
  FakeServerProcess(const FakeServerProcess&) = delete;
  FakeServerProcess& operator=(const FakeServerProcess&) = delete;

  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::string& dir() const { return dir_->path(); }
  std::string log_path() const { return dir_->file("requests.jsonl"); }
  // The request log so far, one parsed line per request.
  std::vector<nlohmann::json> requests() const;
  // Sends SIGTERM and waits up to `timeout_ms`; the exit status (waitpid form), or -1.
  int terminate(int timeout_ms = 10000);

 private:
  FakeServerProcess() = default;
  std::optional<meanwhile::test::TempDir> dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// Writes `text` to `path` (throws nothing; fails the test on error).
void write_file(const std::string& path, const std::string& text);

// Runs the fake server binary with `args` and returns its exit status and stderr (for tests of
// its command line); gives up after 20 s.
struct RunResult {
  int exit_code = -1;
  std::string stderr_text;
};
RunResult run_fake_server(const std::vector<std::string>& args);

}  // namespace meanwhile::llm::testing
