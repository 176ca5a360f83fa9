// serve_stdio: sets up the process (fds, signals, the lane), reads lines until the client goes
// away or a signal arrives, then answers what it read, ends every job and returns.
#include "mcp/server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>

#include "lane/unique_fd.h"
#include "mcp/log.h"
#include "mcp/session.h"
#include "mcp/stdio_transport.h"
#include "meanwhile/lane.h"
#include "meanwhile/tools.h"

namespace meanwhile::mcp {
namespace {

// Ends the process if shutdown hangs (e.g. a tool that ignores its cancel flag): the client was
// promised an exit within seconds. Job leaders die with us (PR_SET_PDEATHSIG in the lane).
class ShutdownWatchdog {
 public:
  ShutdownWatchdog(std::chrono::milliseconds limit, int code) {
    try {
      thread_ = std::thread([this, limit, code] {
        std::unique_lock lock(mu_);
        if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
          log("shutdown took longer than {} ms: exiting now", limit.count());
          std::_Exit(code);
        }
      });
    } catch (const std::system_error& e) {
      // The process limit may be what ends us: shut down unguarded rather than not at all.
      log("no shutdown watchdog ({}): shutting down without one", e.what());
    }
  }
  ~ShutdownWatchdog() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

void wake(int fd) {
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = ::write(fd, &one, sizeof one);
}

// After the client closes its input, what it sent before still gets answers for this long;
// requests still running then are stopped (a background_wait returns what it has).
constexpr std::chrono::milliseconds kDrainBudget{1000};

int serve(const ServerOptions& options);

}  // namespace

int serve_stdio(const ServerOptions& options) {
  try {
    return serve(options);
  } catch (const std::system_error& e) {
    // A thread that cannot start at startup (the process limit is reached): say so and exit.
    log("cannot start: {}", e.what());
    return 1;
  }
}

namespace {

int serve(const ServerOptions& options) {
  // A client that goes away must surface as EPIPE on write, not kill the server mid-cleanup.
  ::signal(SIGPIPE, SIG_IGN);

  char resolved[PATH_MAX];
  if (!::realpath(options.workspace.c_str(), resolved)) {
    log("workspace {}: {}", options.workspace, std::strerror(errno));
    return 2;
  }

  // stdout belongs to the protocol: keep a private (close-on-exec) copy for it and point fd 1
  // at stderr, so that a stray print anywhere in the process cannot corrupt the stream.
  UniqueFd protocol_out;
  int out_fd = options.output_fd;
  if (out_fd == STDOUT_FILENO) {
    protocol_out.reset(::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3));
    if (!protocol_out || ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
      log("cannot set up stdout: {}", std::strerror(errno));
      return 1;
    }
    out_fd = protocol_out.get();
  }

  UniqueFd wake_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_fd) {
    log("eventfd: {}", std::strerror(errno));
    return 1;
  }
  std::atomic<int> caught_signal{0};

  LaneOptions lane_options;
  lane_options.workspace = resolved;
  lane_options.data_dir = options.data_dir;
  lane_options.kill_grace = options.kill_grace;
  lane_options.default_executor = options.default_executor;
  // A client that never calls background_wait would let notes pile up for the server's life.
  lane_options.max_pending_notes = options.max_events;
  lane_options.shutdown_signals = {SIGTERM, SIGINT, SIGHUP};
  // Runs after the lane has killed every job: the reader loop ends and we clean up.
  lane_options.on_signal = [&caught_signal, fd = wake_fd.get()](int signal_number) {
    caught_signal = signal_number;
    wake(fd);
  };
  auto opened = Lane::open(std::move(lane_options));
  if (!opened) {
    log("cannot open the lane: {}", opened.error());
    return 1;
  }
  std::unique_ptr<Lane> lane = std::move(opened.value());
  const ToolRegistry registry = ToolRegistry::standard(Frontend::mcp);
  // What the client is owed (answers queued, quick requests running): the reader's bound.
  Backpressure backpressure;
  Outbox outbox(
      out_fd, [fd = wake_fd.get()] { wake(fd); }, &backpressure);

  int code = 0;
  {
    Session session(*lane, registry, outbox,
                    SessionOptions{.workspace = resolved,
                                   .max_workers = options.max_concurrent_requests,
                                   .backpressure = &backpressure,
                                   .all_structured = options.all_structured});
    LineReader reader(options.input_fd, wake_fd.get());
    std::string line;
    bool drain = false;
    LogEvery pause_log(std::chrono::seconds(10));
    for (bool reading = true; reading;) {
      if (!backpressure.open()) {
        // The client is not reading what it asked for: read nothing more until it does, so
        // that what we hold for it stays bounded (its writes block in the pipe meanwhile).
        if (pause_log.due()) {
          log("the client is not reading its answers ({} KiB queued, {} requests running): "
              "reading no more requests until it does",
              backpressure.bytes() / 1024, backpressure.requests());
        }
        if (!backpressure.wait(wake_fd.get())) break;  // a signal, or stdout broke
      }
      switch (reader.next(line)) {
        case LineReader::Event::line:
          session.handle_line(line);
          break;
        case LineReader::Event::too_long:
          session.handle_too_long(LineReader::kDefaultMaxLine);
          break;
        case LineReader::Event::eof:
          log("stdin closed: answering what was read, then stopping");
          drain = true;
          reading = false;
          break;
        case LineReader::Event::woken:
          reading = false;
          break;
        case LineReader::Event::error:
          log("reading stdin failed: {}", std::strerror(errno));
          code = 1;
          reading = false;
          break;
      }
    }
    if (const int signal_number = caught_signal.load()) {
      log("{}: stopping", strsignal(signal_number));
      code = 128 + signal_number;
    } else if (outbox.broken()) {
      log("stdout closed: stopping");
    }

    ShutdownWatchdog watchdog(kDrainBudget + options.kill_grace + std::chrono::seconds(3),
                              code ? code : 1);
    if (drain) {
      if (const std::size_t left = session.drain(kDrainBudget)) {
        log("{} requests still running after {} ms: stopping them", left, kDrainBudget.count());
      }
    }
    session.shutdown();
    lane.reset();  // kills the jobs still running, within kill_grace
    outbox.close();
  }
  return code;
}

}  // namespace
}  // namespace meanwhile::mcp
