// fake_model_server: what happens to each request. Routes, authentication, validation, the
// script entry it consumes, the request log, and the reply (or the scripted fault).
//
// Requests that fail routing (404/405), authentication (401) or validation (400) do not consume a
// script entry; every other request consumes exactly one, in order. Past the end of the script
// the answer is 500 with an error body saying the script is exhausted.
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fake_model_server_http.h"
#include "fake_model_server_script.h"
#include "lane/unique_fd.h"
#include "meanwhile/result.h"

namespace fake_server {

struct Options {
  std::string script_path;
  std::string port_file;
  std::string log_path;
  int port = 0;
  bool require_auth = true;
};

class Server {
 public:
  Server(Options options, std::vector<Entry> entries)
      : options_(std::move(options)), entries_(std::move(entries)) {}

  meanwhile::Status open_log();
  // Serves requests on one connection until it closes, a fault cuts it, or stop().
  void serve(HttpConnection& connection);
  // Wakes every delayed reply; later requests get no answer.
  void stop();

 private:
  enum class Api { anthropic, openai };

  bool handle(HttpConnection& connection, const HttpRequest& request);
  bool reply(HttpConnection& connection, const HttpRequest& request, Api api,
             const nlohmann::json& body, const Entry& entry, int entry_number);
  bool send_error(HttpConnection& connection, const HttpRequest& request, std::optional<Api> api,
                  int status, const std::string& message, const nlohmann::json& log_body);
  void log(const HttpRequest& request, int status, const nlohmann::json& extra);
  bool sleep_ms(int ms);  // false when stopped early

  Options options_;
  std::vector<Entry> entries_;
  meanwhile::UniqueFd log_fd_;
  std::mutex mutex_;  // next_, stopping_, the log
  std::condition_variable wake_;
  std::size_t next_ = 0;  // the next script entry
  bool stopping_ = false;
};

}  // namespace fake_server
