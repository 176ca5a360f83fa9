// The watchdog process (watchdog.h): it reads what its host tells it until the host says
// `exit` (nothing to do) or `kill` (kill what is registered), or until EOF: the host died.
//
// Messages (one per SOCK_SEQPACKET record, fields separated by NUL; a pidfd may come along):
//   lane <mark prefix> <store path> <cgroup tree>   + the host's pidfd     (first)
//   job <mark> [<leader pid>]                       + the leader's pidfd when it has no cgroup
//   pid <mark> <pid>                                + a pidfd of a process its trace found
//   drop <mark>                                     nothing of it is left to find by pidfd
//   exit | kill
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lane/cgroup.h"
#include "lane/pidfd.h"
#include "lane/proc.h"
#include "lane/store.h"
#include "lane/unique_fd.h"
#include "lane/watchdog.h"

namespace meanwhile {
namespace {

constexpr unsigned kSignalProcessGroup = 1u << 2;  // PIDFD_SIGNAL_PROCESS_GROUP (Linux 6.9)

struct Pinned {
  pid_t pid = 0;
  UniqueFd pidfd;
};

struct WatchState {
  std::string mark_prefix;
  std::string db_path;
  std::string cgroup_tree;
  UniqueFd host;
  std::unordered_map<std::string, std::vector<Pinned>> jobs;  // by mark
};

std::vector<std::string_view> fields_of(std::string_view text) {
  std::vector<std::string_view> fields;
  for (;;) {
    const std::size_t nul = text.find('\0');
    fields.push_back(text.substr(0, nul));
    if (nul == std::string_view::npos) return fields;
    text.remove_prefix(nul + 1);
  }
}

pid_t pid_of(std::string_view text) {
  pid_t pid = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
  return ec == std::errc() && end == text.data() + text.size() && pid > 0 ? pid : 0;
}

// One record and the fd that came with it (any others are closed). 0 on EOF, -1 on error.
ssize_t receive(int socket, std::string& text, UniqueFd& fd) {
  text.resize(64 * 1024);
  iovec iov{text.data(), text.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  fd.reset();
  if (n <= 0) return n;
  text.resize(static_cast<std::size_t>(n));
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int received;
      std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (!fd) {
        fd.reset(received);
      } else {
        ::close(received);
      }
    }
  }
  return n;
}

void apply(WatchState& state, std::string_view text, UniqueFd fd) {
  const std::vector<std::string_view> f = fields_of(text);
  if (f[0] == "lane" && f.size() == 4) {
    state.mark_prefix = f[1];
    state.db_path = f[2];
    state.cgroup_tree = f[3];
    state.host = std::move(fd);
  } else if (f[0] == "job" && f.size() == 3) {
    auto& pinned = state.jobs[std::string(f[1])];
    if (fd) pinned.push_back({pid_of(f[2]), std::move(fd)});
  } else if (f[0] == "pid" && f.size() == 3 && fd) {
    state.jobs[std::string(f[1])].push_back({pid_of(f[2]), std::move(fd)});
  } else if (f[0] == "drop" && f.size() == 2) {
    auto it = state.jobs.find(std::string(f[1]));
    if (it != state.jobs.end()) it->second.clear();
  }
}

// SIGKILLs one pinned process and the group it leads. Without PIDFD_SIGNAL_PROCESS_GROUP
// (before Linux 6.9) the group is signalled by number, but only while its leader is alive:
// only then is the number known to be still that group's.
void kill_pinned(const Pinned& pinned) {
  const int fd = pinned.pidfd.get();
  if (::syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, kSignalProcessGroup) != 0 &&
      errno == EINVAL && pinned.pid > 0 && sys::pidfd_send_signal(fd, 0) == 0 &&
      pinned.pid != ::getpgrp()) {
    ::kill(-pinned.pid, SIGKILL);
  }
  sys::pidfd_send_signal(fd, SIGKILL);
}

void kill_everything(const WatchState& state) {
  if (!state.cgroup_tree.empty()) CgroupTree::end_host_tree(state.cgroup_tree);
  for (const auto& [mark, pinned] : state.jobs)
    for (const Pinned& process : pinned) kill_pinned(process);
  if (state.mark_prefix.empty()) return;
  // Marked processes: again while a scan finds some (a child forked before its parent died).
  std::string scratch;
  for (int round = 0; round < 4; ++round) {
    bool found = false;
    for (const auto& marked : proc::find_marked(state.mark_prefix)) {
      if (state.jobs.count(marked.mark) != 0) {
        found |= proc::signal_if_marked(marked.pid, marked.mark, SIGKILL, scratch);
      }
    }
    if (!found) return;
  }
}

bool exited(int pidfd, int timeout_ms) {
  pollfd p{pidfd, POLLIN, 0};
  int rc;
  while ((rc = ::poll(&p, 1, timeout_ms)) < 0 && errno == EINTR) {
  }
  return rc > 0;
}

}  // namespace

void watchdog_main(int socket) {
  ::prctl(PR_SET_NAME, "mw-watchdog");
  for (int sig : {SIGINT, SIGQUIT, SIGHUP, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU})
    ::signal(sig, SIG_IGN);
  rlimit files{};  // a pidfd per job without a cgroup, and per traced process
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  WatchState state;
  std::string text;
  UniqueFd fd;
  bool kill_asked = false;
  for (;;) {
    const ssize_t n = receive(socket, text, fd);
    if (n <= 0) break;  // EOF (or an error): the host is gone or going
    if (text == "exit") ::_exit(0);
    if (text == "kill") {
      kill_asked = true;
      break;
    }
    apply(state, text, std::move(fd));
  }
  kill_everything(state);
  if (kill_asked || !state.host) ::_exit(0);
  // The socket closes early in the host's exit: wait until it has exited (its leaders' death
  // signals go out then), end what was started meanwhile, and record its rows.
  if (!exited(state.host.get(), 5000)) ::_exit(0);  // alive: it exec'd, or closed the socket
  kill_everything(state);
  if (!state.db_path.empty()) {
    if (auto store = Store::open(state.db_path); store.ok()) (void)(*store)->reclaim_dead_hosts();
  }
  ::_exit(0);
}

}  // namespace meanwhile
