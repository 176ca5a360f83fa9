#include "agent/transcript.h"

#include "base/json_parse.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "agent/conversation.h"
#include "base/secrets.h"

namespace meanwhile::agent {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

Result<UniqueFd> open_append(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  if (!fd) return posix_error("cannot open transcript " + path, errno);
  return fd;
}

// <YYYYmmdd-HHMMSS>-<pid>; `attempt` > 0 adds "-N" (a second session in the same second).
std::string session_file_name(int attempt) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  std::string name = std::string(stamp) + "-" + std::to_string(::getpid());
  if (attempt > 0) name += "-" + std::to_string(attempt + 1);
  return name + ".jsonl";
}

}  // namespace

Result<Transcript> Transcript::create(const std::string& sessions_dir) {
  std::error_code ec;
  fs::create_directories(sessions_dir, ec);
  if (ec) return make_error("cannot create " + sessions_dir + ": " + ec.message());
  for (int attempt = 0;; ++attempt) {
    std::string path = sessions_dir + "/" + session_file_name(attempt);
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd) return Transcript(path, std::move(fd));
    if (errno != EEXIST || attempt >= 100) {
      return posix_error("cannot create transcript " + path, errno);
    }
  }
}

Result<json> read_transcript(const std::string& path, std::vector<std::string>* warnings) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("cannot read transcript " + path);
  json messages = json::array();
  std::string line;
  std::size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    JsonParse message = parse_json(line);
    if (!message.ok()) {
      if (warnings)
        warnings->push_back(path + ":" + std::to_string(line_no) + ": " +
                            (message.too_deep ? message.error : "not JSON") + ", skipped");
      continue;
    }
    messages.push_back(std::move(message.value));
  }
  return messages;
}

Result<Transcript> Transcript::open_latest(const std::string& sessions_dir, json* messages,
                                           std::vector<std::string>* warnings) {
  std::error_code ec;
  fs::path newest;
  fs::file_time_type newest_time{};
  for (const auto& entry : fs::directory_iterator(sessions_dir, ec)) {
    if (entry.path().extension() != ".jsonl" || !entry.is_regular_file()) continue;
    auto t = entry.last_write_time(ec);
    if (ec) continue;
    if (newest.empty() || t > newest_time || (t == newest_time && entry.path() > newest)) {
      newest = entry.path();
      newest_time = t;
    }
  }
  if (newest.empty()) return make_error("no earlier session to continue in " + sessions_dir);
  auto loaded = read_transcript(newest.string(), warnings);
  if (!loaded) return make_error(loaded.error());
  *messages = repair_conversation(*loaded, warnings);
  auto fd = open_append(newest.string());
  if (!fd) return make_error(fd.error());
  return Transcript(newest.string(), std::move(*fd));
}

Status Transcript::append(const json& message) {
  std::string line = message.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  if (secrets::contains_secret(line)) line = secrets::redact(line);  // never saved, even once
  std::size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(fd_.get(), line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return posix_error("cannot write transcript " + path_, errno);
    done += static_cast<std::size_t>(n);
  }
  return Ok{};
}

}  // namespace meanwhile::agent
