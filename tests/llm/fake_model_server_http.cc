#include "fake_model_server_http.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>

#include <asio/read.hpp>
#include <asio/write.hpp>

namespace fake_server {

namespace {

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
constexpr std::size_t kMaxBodyBytes = 64u << 20;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

double unix_time_ms() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(now).count()) /
         1000.0;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 529:
      return "Overloaded";
    default:
      return "Status";
  }
}

bool HttpConnection::fill(std::size_t size) {
  char chunk[16 * 1024];
  while (buffer_.size() < size) {
    asio::error_code ec;
    std::size_t n = socket_.read_some(asio::buffer(chunk), ec);
    if (ec || n == 0) return false;
    buffer_.append(chunk, n);
  }
  return true;
}

bool HttpConnection::read_line(std::string& line, std::size_t max) {
  for (;;) {
    std::size_t end = buffer_.find("\r\n");
    if (end != std::string::npos) {
      line = buffer_.substr(0, end);
      buffer_.erase(0, end + 2);
      return true;
    }
    if (buffer_.size() > max || !fill(buffer_.size() + 1)) return false;
  }
}

HttpConnection::ReadStatus HttpConnection::read_request(HttpRequest& request, std::string& error) {
  request = HttpRequest{};
  if (buffer_.empty() && !fill(1)) return ReadStatus::closed;
  request.arrival_ms = unix_time_ms();
  request.connection_id = id_;

  std::size_t header_end;
  while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (buffer_.size() > kMaxHeaderBytes) {
      error = "request headers larger than 64 KiB";
      return ReadStatus::too_large;
    }
    if (!fill(buffer_.size() + 1)) return ReadStatus::closed;
  }
  std::string head = buffer_.substr(0, header_end);
  buffer_.erase(0, header_end + 4);

  std::size_t line_end = head.find("\r\n");
  std::string_view request_line = std::string_view(head).substr(0, line_end);
  std::size_t sp1 = request_line.find(' ');
  std::size_t sp2 = request_line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) {
    error = "malformed request line";
    return ReadStatus::bad_request;
  }
  request.method = request_line.substr(0, sp1);
  request.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  request.version = request_line.substr(sp2 + 1);
  request.path = request.target.substr(0, request.target.find('?'));
  if (!request.version.starts_with("HTTP/1.")) {
    error = "unsupported HTTP version";
    return ReadStatus::bad_request;
  }

  std::string_view rest = line_end == std::string::npos
                              ? std::string_view()
                              : std::string_view(head).substr(line_end + 2);
  while (!rest.empty()) {
    std::size_t end = rest.find("\r\n");
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 2);
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      error = "malformed header line";
      return ReadStatus::bad_request;
    }
    std::string name = lower(trim(line.substr(0, colon)));
    std::string value(trim(line.substr(colon + 1)));
    auto [it, inserted] = request.headers.emplace(name, value);
    if (!inserted) it->second += ", " + value;
  }

  std::string connection = lower(request.header("connection") ? *request.header("connection") : "");
  request.keep_alive = request.version == "HTTP/1.1"
                           ? connection.find("close") == std::string::npos
                           : connection.find("keep-alive") != std::string::npos;

  if (const std::string* expect = request.header("expect");
      expect && lower(*expect) == "100-continue") {
    if (!write_all("HTTP/1.1 100 Continue\r\n\r\n")) return ReadStatus::closed;
  }

  const std::string* encoding = request.header("transfer-encoding");
  if (encoding && lower(*encoding).find("chunked") != std::string::npos) {
    for (;;) {
      std::string size_line;
      if (!read_line(size_line, 1024)) return ReadStatus::closed;
      std::size_t size = 0;
      std::string_view digits = trim(std::string_view(size_line).substr(0, size_line.find(';')));
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), size, 16);
      if (ec != std::errc() || end != digits.data() + digits.size()) {
        error = "malformed chunk size";
        return ReadStatus::bad_request;
      }
      if (request.body.size() + size > kMaxBodyBytes) {
        error = "request body larger than 64 MiB";
        return ReadStatus::too_large;
      }
      if (size == 0) {
        std::string trailer;  // trailers up to the empty line
        do {
          if (!read_line(trailer, kMaxHeaderBytes)) return ReadStatus::closed;
        } while (!trailer.empty());
        break;
      }
      if (!fill(size + 2)) return ReadStatus::closed;
      request.body.append(buffer_, 0, size);
      if (buffer_.compare(size, 2, "\r\n") != 0) {
        error = "malformed chunk";
        return ReadStatus::bad_request;
      }
      buffer_.erase(0, size + 2);
    }
  } else if (const std::string* length = request.header("content-length")) {
    std::size_t size = 0;
    auto [end, ec] = std::from_chars(length->data(), length->data() + length->size(), size);
    if (ec != std::errc() || end != length->data() + length->size()) {
      error = "malformed Content-Length";
      return ReadStatus::bad_request;
    }
    if (size > kMaxBodyBytes) {
      error = "request body larger than 64 MiB";
      return ReadStatus::too_large;
    }
    if (!fill(size)) return ReadStatus::closed;
    request.body = buffer_.substr(0, size);
    buffer_.erase(0, size);
  }
  return ReadStatus::ok;
}

bool HttpConnection::write_all(std::string_view bytes) {
  asio::error_code ec;
  asio::write(socket_, asio::buffer(bytes.data(), bytes.size()), ec);
  return !ec;
}

static std::string head(int status, const std::string& content_type, const HeaderList& extra) {
  std::string out = fmt::format("HTTP/1.1 {} {}\r\n", status, reason_phrase(status));
  if (!content_type.empty()) out += fmt::format("Content-Type: {}\r\n", content_type);
  for (const auto& [name, value] : extra) out += fmt::format("{}: {}\r\n", name, value);
  return out;
}

bool HttpConnection::send_response(int status, const std::string& content_type,
                                   std::string_view body, const HeaderList& extra,
                                   bool keep_alive) {
  std::string out = head(status, content_type, extra);
  out += fmt::format("Content-Length: {}\r\nConnection: {}\r\n\r\n", body.size(),
                     keep_alive ? "keep-alive" : "close");
  out.append(body);
  return write_all(out);
}

bool HttpConnection::start_chunked(int status, const std::string& content_type,
                                   const HeaderList& extra, bool keep_alive) {
  return write_all(head(status, content_type, extra) +
                   fmt::format("Transfer-Encoding: chunked\r\nConnection: {}\r\n\r\n",
                               keep_alive ? "keep-alive" : "close"));
}

bool HttpConnection::write_chunk(std::string_view data) {
  if (data.empty()) return true;  // an empty chunk would end the body
  return write_all(fmt::format("{:x}\r\n{}\r\n", data.size(), data));
}

bool HttpConnection::end_chunked() {
  return write_all("0\r\n\r\n");
}

void HttpConnection::abort() {
  // Shut down, don't close: the descriptor stays ours (and its number unreused) until the
  // connection object dies, so the server's shutdown path can never hit someone else's socket.
  asio::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
}

}  // namespace fake_server
