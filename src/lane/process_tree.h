// Finding a job's processes without a cgroup, by parentage rather than by the environment
// marker (which `env -i` drops): the host is a child subreaper, so every process a job starts
// stays a descendant of the host, whatever it does with sessions and groups.
//
// A job is known by a JobTrace: the session and group ids its processes were seen in (the
// leader's pid first; `setsid` makes new ones, learned when those processes are first seen) and
// the pids seen (with their start times, so a reused pid is never taken for one). A process of
// the host's tree belongs to the job when its session or group is in the trace, when the trace
// recorded it, or when its parent chain passes through the live leader or another member.
// Used on kill, on get() of a job that may have leftovers, and shortly after a leader without a
// cgroup exits (orphans are then adopted by the host); never per output event.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <set>
#include <unordered_map>
#include <vector>

#include "lane/proc.h"

namespace meanwhile {

struct JobTrace {
  std::set<pid_t> ids;                     // session and process-group ids
  std::map<pid_t, std::uint64_t> members;  // pid -> start ticks
  bool incomplete = false;                 // some processes may have escaped it
  bool empty() const { return members.empty(); }
};

// Every descendant of `host` (not `host` itself) outside the host's session: one read of
// /proc/N/stat per process.
class ProcessTree {
 public:
  static ProcessTree scan(pid_t host);

  // The job's processes now (leader excluded). `live_leader`: the leader's pid while it is not
  // reaped, else 0. Leaves in `trace` what it found: the members, and only the session and
  // group ids still in use (a number no process holds any more could be reused).
  std::vector<pid_t> members(pid_t live_leader, JobTrace& trace) const;

  // The host's direct children that are neither in `host_session` nor in `leaders`: processes
  // adopted after their parent died.
  std::vector<pid_t> orphans(pid_t host, pid_t host_session, const std::set<pid_t>& leaders) const;

  const proc::Stat* find(pid_t pid) const;

 private:
  std::unordered_map<pid_t, proc::Stat> procs_;
  std::unordered_map<pid_t, std::vector<pid_t>> children_;  // by parent
};

// Sends `sig` to `pid` if it is still the process that started at `start_ticks` (pinned with a
// pidfd before the check). True if sent.
bool signal_if_same(pid_t pid, std::uint64_t start_ticks, int sig);

}  // namespace meanwhile
