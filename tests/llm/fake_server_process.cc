#include "fake_server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "lane/unique_fd.h"

extern char** environ;

namespace meanwhile::llm::testing {

namespace {

// Spawns the server with stdout (and optionally stderr) into pipes.
pid_t spawn(const std::vector<std::string>& args, UniqueFd& out_read, UniqueFd* err_read) {
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return -1;
  UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  UniqueFd err_r, err_w;
  if (err_read) {
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) return -1;
    err_r.reset(err_pipe[0]);
    err_w.reset(err_pipe[1]);
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_w.get(), 1);
  if (err_read) posix_spawn_file_actions_adddup2(&actions, err_w.get(), 2);
  std::vector<std::string> argv_strings = {FAKE_MODEL_SERVER_PATH};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, FAKE_MODEL_SERVER_PATH, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  out_read = std::move(out_r);
  if (err_read) *err_read = std::move(err_r);
  return pid;
}

// Reads from fd until EOF or the deadline; returns what came.
std::string read_until(int fd, std::chrono::steady_clock::time_point deadline,
                       const std::string& stop_at) {
  std::string text;
  char buffer[4096];
  while (stop_at.empty() || text.find(stop_at) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return text;
}

int wait_for_exit(pid_t pid, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int status = 0;
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return status;
    if (done < 0) return -1;
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

void write_file(const std::string& path, const std::string& text) {
  ASSERT_TRUE(meanwhile::test::write_file(path, text)) << "cannot write " << path;
}

std::unique_ptr<FakeServerProcess> FakeServerProcess::start(
    const std::string& script, const std::vector<std::string>& extra_args) {
  std::unique_ptr<FakeServerProcess> server(new FakeServerProcess());
  try {
    server->dir_.emplace("llm_fake");
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
    return nullptr;
  }
  std::string script_path = server->dir_->file("script.jsonl");
  write_file(script_path, script);
  std::vector<std::string> args = {"--script", script_path, "--log", server->log_path()};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  UniqueFd out;
  server->pid_ = spawn(args, out, nullptr);
  EXPECT_GT(server->pid_, 0) << "cannot start " << FAKE_MODEL_SERVER_PATH;
  if (server->pid_ <= 0) return nullptr;
  std::string line =
      read_until(out.get(), std::chrono::steady_clock::now() + std::chrono::seconds(20), "\n");
  if (line.rfind("PORT ", 0) != 0) {
    ADD_FAILURE() << "fake_model_server did not print its port; got: " << line;
    return nullptr;
  }
  server->port_ = std::atoi(line.c_str() + 5);
  EXPECT_GT(server->port_, 0);
  return server;
}

int FakeServerProcess::terminate(int timeout_ms) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = wait_for_exit(pid_, timeout_ms);
  if (status == -1) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_ = -1;
  return status;
}

FakeServerProcess::~FakeServerProcess() {
  terminate();  // then dir_ goes, and its tree with it
}

std::vector<nlohmann::json> FakeServerProcess::requests() const {
  std::vector<nlohmann::json> lines;
  std::ifstream in(log_path());
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json value = nlohmann::json::parse(line, nullptr, false);
    EXPECT_FALSE(value.is_discarded()) << "bad log line: " << line;
    if (!value.is_discarded()) lines.push_back(std::move(value));
  }
  return lines;
}

RunResult run_fake_server(const std::vector<std::string>& args) {
  RunResult result;
  UniqueFd out, err;
  pid_t pid = spawn(args, out, &err);
  if (pid <= 0) return result;
  out.reset();
  result.stderr_text =
      read_until(err.get(), std::chrono::steady_clock::now() + std::chrono::seconds(20), "");
  int status = wait_for_exit(pid, 20000);
  if (status == -1) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return result;
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace meanwhile::llm::testing
