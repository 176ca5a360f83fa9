// The lane's watchdog: one small process per lane that ends the lane's jobs when their host
// dies without closing the lane (SIGKILL, the OOM killer, a crash). Job leaders die with the
// host (PR_SET_PDEATHSIG), but what they started would run on until another lane opened the
// same data directory.
//
// The watchdog is the host's own binary, re-executed (/proc/self/exe): a constructor in
// watchdog.cc takes over before main() when MEANWHILE_LANE_WATCHDOG is set, so any program
// that links the lane statically has one, and it shares no memory with the host. It runs in
// the host's session but in a group of its own (no terminal signal reaches it), and holds:
//   - the host's pidfd, and its end of a SOCK_SEQPACKET socket pair: EOF means the host died
//     (or closed the socket: exec) unless an `exit` came first;
//   - the lane's store, mark prefix and cgroup tree;
//   - every job's mark, and pidfds of the leaders without a cgroup and of the processes their
//     traces found (process_tree.h), sent with SCM_RIGHTS. A pidfd pins its process, and its
//     group too (pidfd_send_signal with PIDFD_SIGNAL_PROCESS_GROUP, Linux 6.9): a group whose
//     number was reused is never signalled, unlike kill(-pgid) by number.
// When the host dies it SIGKILLs the cgroup tree, each pinned process and its group, and every
// process carrying a mark of the lane's jobs; once the host has exited it does that once more
// and records the host's queued and running rows as `lost`, then exits.
//
// Not covered: without a cgroup, a process that left the job's group and session and dropped
// its marker (`setsid env -i ...`) is only known once a scan found it (a kill, or the exit of
// its leader); one started and never seen survives a SIGKILLed host.
#pragma once

#include <sys/types.h>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "lane/unique_fd.h"
#include "meanwhile/lane.h"

namespace meanwhile {

struct WatchdogConfig {
  std::string mark_prefix;  // "<store uuid>:"
  std::string db_path;      // the store, to record rows as lost
  std::string data_dir;     // shown in its command line (ps)
  std::string cgroup_tree;  // the lane's cgroup tree; empty: none
};

// The host's side. Lane thread only; `io` must outlive it.
class Watchdog {
 public:
  // Starts the process (posix_spawn: a fraction of a millisecond here; it loads in parallel).
  static Result<std::unique_ptr<Watchdog>> start(asio::io_context& io,
                                                 const WatchdogConfig& config);
  ~Watchdog();  // close(false) unless closed
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // A job started: its mark, and its leader's pidfd when it has no cgroup (-1: mark only;
  // the fd is duplicated, the caller keeps its own).
  void add_job(std::string_view mark, pid_t leader, int leader_pidfd);
  // A process of the job found by its trace: pinned here (pidfd, start time re-checked).
  void add_process(std::string_view mark, pid_t pid, std::uint64_t start_ticks);
  // Nothing of the job is left to find by pidfd: closes its pidfds (its mark stays).
  void drop_processes(std::string_view mark);

  // The lane is closing (its loop has stopped): `kill_leftovers` asks it to kill whatever is
  // still registered first. Waits up to a second for it to exit, then kills it; reaps it.
  void close(bool kill_leftovers);

  pid_t pid() const { return pid_; }
  bool alive() const { return !dead_; }

 private:
  Watchdog(asio::io_context& io, pid_t pid, UniqueFd pidfd, int socket);
  void send(std::string message, UniqueFd fd = {});
  void flush();
  std::size_t send_batch();  // sends the front of the outbox; how many went (0: see errno)
  bool send_now(const std::string& message, int fd);
  void watch_exit();
  void lost(int err);  // 0: it exited

  struct Message {
    std::string text;
    UniqueFd fd;
  };
  asio::posix::stream_descriptor socket_;
  pid_t pid_;
  asio::posix::stream_descriptor pidfd_;  // readable once it exits: lost()
  std::deque<Message> outbox_;            // what was not sent yet
  bool waiting_ = false;                  // an async_wait(write) is pending
  bool flush_posted_ = false;             // a flush() is posted for the end of this turn
  bool dead_ = false;
  bool reaped_ = false;  // its pid may be another process's now: never signal it
  bool closed_ = false;
};

// The watchdog process's main loop (watchdog_process.cc): `fd` is its end of the socket pair.
[[noreturn]] void watchdog_main(int fd);

}  // namespace meanwhile
