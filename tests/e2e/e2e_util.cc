#include "e2e_util.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace e2e {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string read_tree(const std::string& dir) {
  std::string all;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file(ec)) all += read_file(it->path().string());
  }
  return all;
}

Env base_env(const std::string& home) {
  const char* path = std::getenv("PATH");
  Env env = {{"PATH", path ? path : "/usr/bin:/bin"}, {"HOME", home}, {"LANG", "C.UTF-8"}};
  // Sanitizer settings (scripts/test sets them) reach the binaries under test.
  for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"}) {
    if (const char* v = std::getenv(name)) env[name] = v;
  }
  return env;
}

namespace {

std::vector<std::string> env_strings(const Env& env) {
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

void set_nonblocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

}  // namespace

RunResult run_meanwhile(const std::vector<std::string>& args, const std::string& cwd,
                        const Env& env, std::chrono::seconds timeout, const std::string& input,
                        const std::function<void(pid_t)>& tick) {
  return run_meanwhile_as(-1, -1, args, cwd, env, timeout, input, tick);
}

RunResult run_meanwhile_as(uid_t uid, gid_t gid, const std::vector<std::string>& args,
                           const std::string& cwd, const Env& env, std::chrono::seconds timeout,
                           const std::string& input, const std::function<void(pid_t)>& tick) {
  std::vector<std::string> argv_s = {MEANWHILE_BIN};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s = env_strings(env);
  auto argv = c_strings(argv_s);
  auto envp = c_strings(env_s);
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC)) {
    throw std::runtime_error("pipe failed");
  }
  const auto start = Clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    if (uid != static_cast<uid_t>(-1) &&
        (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0))
      ::_exit(125);
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  set_nonblocking(out[0]);
  set_nonblocking(err[0]);
  set_nonblocking(in[1]);
  RunResult result;
  std::size_t written = 0;
  int in_fd = in[1];
  if (input.empty()) {
    ::close(in_fd);
    in_fd = -1;
  }
  bool out_open = true, err_open = true, term_sent = false;
  auto deadline = start + timeout;
  while (out_open || err_open) {
    if (Clock::now() > deadline) {
      result.timed_out = true;
      ::kill(pid, term_sent ? SIGKILL : SIGTERM);
      deadline = Clock::now() + std::chrono::seconds(5);
      term_sent = true;
    }
    pollfd fds[3] = {{out_open ? out[0] : -1, POLLIN, 0},
                     {err_open ? err[0] : -1, POLLIN, 0},
                     {in_fd, POLLOUT, 0}};
    ::poll(fds, 3, 100);
    if (tick && !term_sent) tick(pid);
    char buf[65536];
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buf, n);
      } else if (n == 0 || errno != EAGAIN) {
        ::close(fds[i].fd);
        (i == 0 ? out_open : err_open) = false;
      }
    }
    if (in_fd >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = ::write(in_fd, input.data() + written, input.size() - written);
      if (n > 0) written += n;
      if (n < 0 || written == input.size()) {
        ::close(in_fd);
        in_fd = -1;
      }
    }
  }
  if (in_fd >= 0) ::close(in_fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

bool process_alive(const std::string& needle) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    std::string cmdline = read_file(entry.path().string() + "/cmdline");
    for (char& c : cmdline) {
      if (c == '\0') c = ' ';
    }
    if (cmdline.find(needle) != std::string::npos) return true;
  }
  return false;
}

json text_block(const std::string& text) {
  return {{"type", "text"}, {"text", text}};
}
json tool_use(const std::string& name, json input) {
  return {{"type", "tool_use"}, {"name", name}, {"input", std::move(input)}};
}
json turn(std::vector<json> blocks) {
  return {{"content", json(std::move(blocks))}};
}

std::string write_script(const TempDir& dir, const std::vector<json>& entries,
                         const std::string& name) {
  std::string text;
  for (const json& e : entries) text += e.dump() + "\n";
  std::string path = dir.file(name);
  write_file(path, text);
  return path;
}

FakeServer::FakeServer(const TempDir& dir, const std::vector<json>& entries) {
  std::string script = write_script(dir, entries, "server-script.jsonl");
  log_path_ = dir.file("server-log.jsonl");
  std::vector<std::string> argv_s = {FAKE_MODEL_SERVER_BIN, "--script", script, "--log", log_path_};
  auto argv = c_strings(argv_s);
  int out[2];
  if (::pipe2(out, O_CLOEXEC)) throw std::runtime_error("pipe failed");
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(out[1], 1);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  std::string seen;
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline && seen.find('\n') == std::string::npos) {
    pollfd p{out[0], POLLIN, 0};
    ::poll(&p, 1, 100);
    char buf[256];
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    seen.append(buf, n);
  }
  ::close(out[0]);
  if (std::sscanf(seen.c_str(), "PORT %d", &port_) != 1) {
    throw std::runtime_error("fake_model_server did not print its port: " + seen);
  }
}

FakeServer::~FakeServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
}

std::vector<json> FakeServer::log() const {
  std::vector<json> entries;
  std::istringstream in(read_file(log_path_));
  std::string line;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    if (!j.is_discarded()) entries.push_back(std::move(j));
  }
  return entries;
}

std::vector<json> FakeServer::answered() const {
  std::vector<json> out;
  for (json& e : log()) {
    if (e.value("status", 0) == 200) out.push_back(std::move(e));
  }
  return out;
}

Env anthropic_env(const TempDir& dir, const FakeServer& server, const std::string& key) {
  Env env = base_env(dir.path());
  env["ANTHROPIC_BASE_URL"] = server.base_url();
  env["ANTHROPIC_API_KEY"] = key;
  return env;
}

const json& last_message(const json& request) {
  return request.at("messages").back();
}

std::string all_text(const json& value) {
  std::string out;
  if (value.is_string()) return value.get<std::string>() + "\n";
  if (value.is_object() || value.is_array()) {
    for (const json& v : value) out += all_text(v);
  }
  return out;
}

std::vector<json> blocks_of(const json& message, const std::string& type) {
  std::vector<json> out;
  if (!message.contains("content") || !message["content"].is_array()) return out;
  for (const json& b : message["content"]) {
    if (b.value("type", "") == type) out.push_back(b);
  }
  return out;
}

std::string background_block(const json& request) {
  const json& m = last_message(request);
  if (m.value("role", "") != "user") return "";
  for (const json& b : blocks_of(m, "text")) {
    std::string t = b.value("text", "");
    if (t.rfind("<background-results>", 0) == 0) return t;
  }
  return "";
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  auto end = Clock::now() + limit;
  while (!condition()) {
    if (Clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace e2e
