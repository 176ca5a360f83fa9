// The host's side of the watchdog (watchdog.h), and the constructor that turns a re-executed
// host binary into the watchdog before its main() runs.
#include "lane/watchdog.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <algorithm>
#include <asio/post.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "lane/pidfd.h"
#include "lane/proc.h"

namespace meanwhile {
namespace {

constexpr int kChildFd = 3;
constexpr const char* kWatchdogVariable = "MEANWHILE_LANE_WATCHDOG";

// Runs before main() (and before every other constructor of the binary but the libraries'),
// so nothing of the host program starts in the watchdog. watchdog_main uses no object of this
// binary that needs dynamic initialisation.
__attribute__((constructor(101))) void enter_watchdog_if_asked() {
  const char* fd = std::getenv(kWatchdogVariable);
  if (fd == nullptr || std::strcmp(fd, "3") != 0) return;
  int type = 0;
  socklen_t length = sizeof type;
  if (::getsockopt(kChildFd, SOL_SOCKET, SO_TYPE, &type, &length) != 0 || type != SOCK_SEQPACKET) {
    ::_exit(2);  // started by hand: nothing to watch
  }
  watchdog_main(kChildFd);
}

// What the watchdog's environment keeps of the host's: only what loading the binary needs and
// the sanitizers' settings (no secret reaches it).
std::vector<std::string> watchdog_environment() {
  std::vector<std::string> env = {std::string(kWatchdogVariable) + "=3"};
  for (const char* name :
       {"LD_LIBRARY_PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"}) {
    if (const char* value = std::getenv(name)) env.push_back(std::string(name) + "=" + value);
  }
  return env;
}

std::string joined(std::initializer_list<std::string_view> fields) {
  std::string text;
  for (std::string_view field : fields) {
    if (!text.empty()) text.push_back('\0');
    text.append(field);
  }
  return text;
}

bool wait_readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  int rc;
  while ((rc = ::poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
  }
  return rc > 0;
}

}  // namespace

Result<std::unique_ptr<Watchdog>> Watchdog::start(asio::io_context& io,
                                                  const WatchdogConfig& config) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return make_error(std::string("cannot start the watchdog: socketpair: ") +
                      std::strerror(errno));
  }
  UniqueFd ours(pair[0]), theirs(pair[1]);
  if (theirs.get() == kChildFd) {  // dup2(3, 3) would leave it close-on-exec
    theirs.reset(::fcntl(theirs.get(), F_DUPFD_CLOEXEC, kChildFd + 1));
    if (!theirs) return make_error("cannot start the watchdog: no fd left");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (int fd : {0, 1, 2}) posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_RDWR, 0);
  posix_spawn_file_actions_adddup2(&actions, theirs.get(), kChildFd);
  posix_spawn_file_actions_addclosefrom_np(&actions, kChildFd + 1);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);  // a group of its own: no terminal signal reaches it
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  std::string name = "meanwhile-watchdog", dir = config.data_dir;
  char* argv[] = {name.data(), dir.data(), nullptr};
  std::vector<std::string> env = watchdog_environment();
  std::vector<char*> envp;
  for (std::string& entry : env) envp.push_back(entry.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, "/proc/self/exe", &actions, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return posix_error("cannot start the watchdog", rc);
  }
  theirs.reset();
  UniqueFd pidfd(sys::pidfd_open(pid));
  std::unique_ptr<Watchdog> watchdog(new Watchdog(io, pid, std::move(pidfd), ours.release()));
  UniqueFd host(sys::pidfd_open(::getpid()));
  watchdog->send(joined({"lane", config.mark_prefix, config.db_path, config.cgroup_tree}),
                 std::move(host));
  watchdog->watch_exit();
  return watchdog;
}

Watchdog::Watchdog(asio::io_context& io, pid_t pid, UniqueFd pidfd, int socket)
    : socket_(io, socket), pid_(pid), pidfd_(io) {
  if (pidfd) pidfd_.assign(pidfd.release());
}

// It may die first (killed by hand): reaped at once, or its zombie would hide other children
// from the lane's waitid(P_ALL) (child_reaper.h).
void Watchdog::watch_exit() {
  if (!pidfd_.is_open()) return;
  pidfd_.async_wait(asio::posix::stream_descriptor::wait_read, [this](const asio::error_code& ec) {
    if (!ec && !dead_ && !closed_) lost(0);
  });
}

Watchdog::~Watchdog() {
  close(false);
}

void Watchdog::add_job(std::string_view mark, pid_t leader, int leader_pidfd) {
  UniqueFd fd(leader_pidfd >= 0 ? ::fcntl(leader_pidfd, F_DUPFD_CLOEXEC, 0) : -1);
  send(joined({"job", mark, fd ? std::to_string(leader) : std::string()}), std::move(fd));
}

void Watchdog::add_process(std::string_view mark, pid_t pid, std::uint64_t start_ticks) {
  UniqueFd fd(sys::pidfd_open(pid));
  if (!fd) return;
  auto st = proc::read_stat(pid);  // pinned now: is it still the process the trace saw?
  if (!st || st->start_ticks != start_ticks) return;
  send(joined({"pid", mark, std::to_string(pid)}), std::move(fd));
}

void Watchdog::drop_processes(std::string_view mark) {
  send(joined({"drop", mark}));
}

// Messages go out once per turn of the lane's loop, in one sendmmsg(): a burst of jobs wakes
// the watchdog a few times, not once per job.
void Watchdog::send(std::string message, UniqueFd fd) {
  if (dead_ || closed_) return;
  outbox_.push_back({std::move(message), std::move(fd)});
  if (flush_posted_ || waiting_) return;
  flush_posted_ = true;
  asio::post(socket_.get_executor(), [this] {
    flush_posted_ = false;
    flush();
  });
}

void Watchdog::flush() {
  while (!outbox_.empty() && !dead_ && !closed_) {
    const std::size_t sent = send_batch();
    if (sent > 0) {
      outbox_.erase(outbox_.begin(), outbox_.begin() + static_cast<std::ptrdiff_t>(sent));
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) return lost(errno);
    if (waiting_) return;
    waiting_ = true;
    socket_.async_wait(asio::posix::stream_descriptor::wait_write,
                       [this](const asio::error_code& ec) {
                         waiting_ = false;
                         if (!ec) flush();
                       });
    return;
  }
}

std::size_t Watchdog::send_batch() {
  constexpr std::size_t kBatch = 64;
  const std::size_t count = std::min(kBatch, outbox_.size());
  mmsghdr headers[kBatch]{};
  iovec iovs[kBatch];
  alignas(cmsghdr) char controls[kBatch][CMSG_SPACE(sizeof(int))];
  for (std::size_t i = 0; i < count; ++i) {
    Message& m = outbox_[i];
    iovs[i] = {m.text.data(), m.text.size()};
    msghdr& msg = headers[i].msg_hdr;
    msg.msg_iov = &iovs[i];
    msg.msg_iovlen = 1;
    if (m.fd) {
      msg.msg_control = controls[i];
      msg.msg_controllen = sizeof controls[i];
      cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN(sizeof(int));
      const int fd = m.fd.get();
      std::memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    }
  }
  int n;
  while ((n = ::sendmmsg(socket_.native_handle(), headers, static_cast<unsigned>(count),
                         MSG_DONTWAIT | MSG_NOSIGNAL)) < 0 &&
         errno == EINTR) {
  }
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

bool Watchdog::send_now(const std::string& message, int fd) {
  iovec iov{const_cast<char*>(message.data()), message.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  }
  ssize_t n;
  while ((n = ::sendmsg(socket_.native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL)) < 0 &&
         errno == EINTR) {
  }
  return n >= 0;
}

void Watchdog::lost(int err) {
  dead_ = true;
  outbox_.clear();
  // Its socket is closed, so it is exiting: reap it.
  std::string how = err != 0 ? std::strerror(err) : "it exited";
  int status = 0;
  if (pidfd_.is_open() && wait_readable(pidfd_.native_handle(), 100) &&
      ::waitpid(pid_, &status, WNOHANG) == pid_) {
    reaped_ = true;
    how = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                              : "exit status " + std::to_string(WEXITSTATUS(status));
  }
  std::fprintf(stderr,
               "meanwhile: the lane's watchdog (pid %d) is gone (%s): if this process is killed, "
               "its jobs' processes may outlive it until a lane opens this data directory again\n",
               static_cast<int>(pid_), how.c_str());
}

void Watchdog::close(bool kill_leftovers) {
  if (closed_) return;
  closed_ = true;
  asio::error_code ignored;
  if (!dead_) {
    // The loop has stopped: what is still queued goes out now, then the last word.
    const int fd = socket_.native_handle();
    outbox_.push_back({kill_leftovers ? "kill" : "exit", UniqueFd()});
    while (!outbox_.empty()) {
      if (send_now(outbox_.front().text, outbox_.front().fd.get())) {
        outbox_.pop_front();
        continue;
      }
      pollfd p{fd, POLLOUT, 0};
      if (errno != EAGAIN || ::poll(&p, 1, 500) <= 0) break;
    }
  }
  socket_.close(ignored);  // EOF for it in any case
  if (reaped_) return;
  const int timeout_ms = kill_leftovers ? 3000 : 1000;
  if (pidfd_.is_open() && !wait_readable(pidfd_.native_handle(), timeout_ms)) {
    sys::pidfd_send_signal(pidfd_.native_handle(), SIGKILL);
  } else if (!pidfd_.is_open()) {
    ::kill(pid_, SIGKILL);  // no pidfd to wait on: it is our child, so the pid is still its
  }
  int status;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  pidfd_.close(ignored);
}

}  // namespace meanwhile
