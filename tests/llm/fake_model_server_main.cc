// fake_model_server: a scripted stand-in for the Anthropic and OpenAI-compatible APIs, over real
// HTTP on 127.0.0.1, for end-to-end tests and benchmarks.
//
//   fake_model_server --script FILE [--port N] [--port-file PATH] [--log FILE] [--no-auth]
//
// Prints "PORT <n>\n" on stdout once listening (and writes "<n>\n" to --port-file, atomically);
// runs until SIGTERM or SIGINT. The script format: fake_model_server_script.h; what is validated:
// fake_model_server_validate.h; the log: one JSON line per request (fake_model_server_handler.cc).
#include <sys/socket.h>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/signal_set.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <thread>

#include "fake_model_server_handler.h"

namespace {

using asio::ip::tcp;
using fake_server::Options;
using fake_server::Server;

const char* kUsage =
    "usage: fake_model_server --script FILE [--port N] [--port-file PATH] [--log FILE] "
    "[--no-auth]\n"
    "  --script FILE     JSONL, one scripted reply (or fault) per expected request\n"
    "  --port N          port on 127.0.0.1 (default 0: any free port)\n"
    "  --port-file PATH  also write the port number there once listening\n"
    "  --log FILE        append one JSON line per request (arrival time, path, status, body)\n"
    "  --no-auth         accept requests without x-api-key / Authorization\n";

bool parse_options(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    std::string port;
    if (arg == "--script") {
      if (!value(options.script_path)) return false;
    } else if (arg == "--port-file") {
      if (!value(options.port_file)) return false;
    } else if (arg == "--log") {
      if (!value(options.log_path)) return false;
    } else if (arg == "--no-auth") {
      options.require_auth = false;
    } else if (arg == "--port") {
      if (!value(port)) return false;
      char* end = nullptr;
      long n = std::strtol(port.c_str(), &end, 10);
      if (port.empty() || *end != '\0' || n < 0 || n > 65535) return false;
      options.port = static_cast<int>(n);
    } else {
      return false;
    }
  }
  return !options.script_path.empty();
}

bool write_port_file(const std::string& path, unsigned short port) {
  std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << port << "\n";
    if (!out.flush()) return false;
  }
  return std::rename(temporary.c_str(), path.c_str()) == 0;
}

// The connection threads, so shutdown can wake and join them all.
class Connections {
 public:
  void start(tcp::socket socket, Server& server) {
    std::lock_guard lock(mutex_);
    reap_locked();
    if (stopping_) return;  // the socket closes here
    Slot& slot = slots_.emplace_back();
    slot.fd = socket.native_handle();
    int id = ++accepted_;
    slot.thread = std::thread([this, &slot, &server, id, socket = std::move(socket)]() mutable {
      fake_server::HttpConnection connection(std::move(socket), id);
      server.serve(connection);
      std::lock_guard lock(mutex_);
      slot.fd = -1;  // before `connection` closes the descriptor
      slot.finished = true;
    });
  }

  // Wakes every blocked read (the threads then finish) and stops new connections.
  void shut_down() {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (Slot& slot : slots_) {
      if (slot.fd >= 0) ::shutdown(slot.fd, SHUT_RDWR);
    }
  }

  void join_all() {
    std::list<Slot> slots;
    {
      std::lock_guard lock(mutex_);
      slots.swap(slots_);
    }
    for (Slot& slot : slots) slot.thread.join();
  }

 private:
  struct Slot {
    std::thread thread;
    int fd = -1;
    bool finished = false;
  };

  void reap_locked() {
    for (auto it = slots_.begin(); it != slots_.end();) {
      if (!it->finished) {
        ++it;
        continue;
      }
      it->thread.join();  // it is past its last use of the lock
      it = slots_.erase(it);
    }
  }

  std::mutex mutex_;
  std::list<Slot> slots_;
  int accepted_ = 0;
  bool stopping_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!parse_options(argc, argv, options)) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  auto entries = fake_server::load_script(options.script_path);
  if (!entries.ok()) {
    std::fprintf(stderr, "fake_model_server: %s\n", entries.error().c_str());
    return 2;
  }
  Server server(options, std::move(*entries));
  if (auto status = server.open_log(); !status.ok()) {
    std::fprintf(stderr, "fake_model_server: %s\n", status.error().c_str());
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);

  asio::io_context io;
  tcp::acceptor acceptor(io);
  asio::error_code ec;
  tcp::endpoint endpoint(asio::ip::address_v4::loopback(),
                         static_cast<unsigned short>(options.port));
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::fprintf(stderr, "fake_model_server: cannot listen on 127.0.0.1:%d: %s\n", options.port,
                 ec.message().c_str());
    return 1;
  }
  unsigned short port = acceptor.local_endpoint().port();
  if (!options.port_file.empty() && !write_port_file(options.port_file, port)) {
    std::fprintf(stderr, "fake_model_server: cannot write %s\n", options.port_file.c_str());
    return 1;
  }

  Connections connections;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const asio::error_code&, int) {
    asio::error_code ignored;
    acceptor.close(ignored);
    server.stop();
    connections.shut_down();
  });
  std::function<void()> accept_next = [&] {
    acceptor.async_accept([&](const asio::error_code& error, tcp::socket socket) {
      if (!acceptor.is_open()) return;
      if (!error) {
        // Each SSE event is its own small write: without this, Nagle's algorithm holds the
        // second one until the client's delayed ACK (~40 ms per reply).
        asio::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        connections.start(std::move(socket), server);
      }
      accept_next();
    });
  };
  accept_next();

  std::printf("PORT %u\n", static_cast<unsigned>(port));
  std::fflush(stdout);
  io.run();
  connections.join_all();
  return 0;
}
