// fake_model_server: the HTTP/1.1 side. One blocking connection per thread: read a request
// (Content-Length or chunked body, "Expect: 100-continue" answered), write a response (whole, or
// chunked for event streams), keep-alive unless the client asks to close.
#pragma once

#include <asio/ip/tcp.hpp>

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fake_server {

struct HttpRequest {
  std::string method;
  std::string target;  // as sent
  std::string path;    // target without the query
  std::string version;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  double arrival_ms = 0;  // Unix time in ms (sub-ms precision) when the first byte arrived
  int connection_id = 0;  // which connection (1, 2, ... in accept order) carried it
  bool keep_alive = true;

  const std::string* header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? nullptr : &it->second;
  }
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

double unix_time_ms();

class HttpConnection {
 public:
  enum class ReadStatus { ok, closed, bad_request, too_large };

  HttpConnection(asio::ip::tcp::socket socket, int id) : socket_(std::move(socket)), id_(id) {}

  // Reads the next request. closed: the client closed the connection (or a read failed)
  // before a request started. bad_request / too_large: `error` says why; answer and close.
  ReadStatus read_request(HttpRequest& request, std::string& error);

  bool send_response(int status, const std::string& content_type, std::string_view body,
                     const HeaderList& extra, bool keep_alive);
  bool start_chunked(int status, const std::string& content_type, const HeaderList& extra,
                     bool keep_alive);
  bool write_chunk(std::string_view data);
  bool end_chunked();
  bool write_all(std::string_view bytes);

  // Cuts the connection at once (the "disconnect" fault): the client sees the body end without
  // the chunked terminator.
  void abort();
  int native_handle() { return socket_.native_handle(); }

 private:
  bool fill(std::size_t size);  // until buffer_ holds at least `size` bytes
  bool read_line(std::string& line, std::size_t max);

  asio::ip::tcp::socket socket_;
  int id_;
  std::string buffer_;  // received, not yet consumed
};

const char* reason_phrase(int status);

}  // namespace fake_server
