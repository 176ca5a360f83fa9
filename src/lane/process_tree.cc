#include "lane/process_tree.h"

#include <unistd.h>

#include <deque>

#include "lane/pidfd.h"
#include "lane/unique_fd.h"

namespace meanwhile {

ProcessTree ProcessTree::scan(pid_t host) {
  std::unordered_map<pid_t, proc::Stat> all;
  proc::for_each_pid([&](pid_t pid) {
    if (auto st = proc::read_stat(pid)) all.emplace(pid, *st);
  });
  ProcessTree tree;
  // Keep the processes whose parent chain reaches the host; `seen` memoises each chain.
  std::unordered_map<pid_t, bool> below;
  below[host] = true;
  for (const auto& [pid, st] : all) {
    std::vector<pid_t> chain;
    pid_t at = pid;
    bool result = false;
    while (true) {
      if (auto known = below.find(at); known != below.end()) {
        result = known->second;
        break;
      }
      auto it = all.find(at);
      if (it == all.end() || at <= 1 || chain.size() > 4096) break;
      chain.push_back(at);
      at = it->second.ppid;
    }
    for (pid_t p : chain) below[p] = result;
  }
  // Nothing in the host's session is a job's: jobs start with setsid(), and no process can join
  // a session. A leader caught before its setsid() would otherwise bring the host's session and
  // group into its trace, and with them the host's other children (its watchdog).
  const pid_t host_session = ::getsid(host);
  for (auto& [pid, st] : all)
    if (pid != host && below[pid] && st.session != host_session) tree.procs_.emplace(pid, st);
  for (const auto& [pid, st] : tree.procs_) tree.children_[st.ppid].push_back(pid);
  return tree;
}

const proc::Stat* ProcessTree::find(pid_t pid) const {
  auto it = procs_.find(pid);
  return it == procs_.end() ? nullptr : &it->second;
}

std::vector<pid_t> ProcessTree::members(pid_t live_leader, JobTrace& trace) const {
  std::set<pid_t> found;
  std::deque<pid_t> todo;
  auto take = [&](pid_t pid) {
    if (found.insert(pid).second) todo.push_back(pid);
  };
  bool grew = true;
  while (grew) {  // new members may bring new session ids: look again until nothing changes
    grew = false;
    for (const auto& [pid, st] : procs_) {
      if (found.count(pid) != 0) continue;
      auto recorded = trace.members.find(pid);
      if (trace.ids.count(st.session) != 0 || trace.ids.count(st.pgrp) != 0 ||
          (recorded != trace.members.end() && recorded->second == st.start_ticks) ||
          (live_leader > 0 && (pid == live_leader || st.ppid == live_leader)))
        take(pid);
    }
    while (!todo.empty()) {
      pid_t pid = todo.front();
      todo.pop_front();
      const proc::Stat& st = procs_.at(pid);
      trace.members[pid] = st.start_ticks;
      grew |= trace.ids.insert(st.session).second;
      grew |= trace.ids.insert(st.pgrp).second;
      if (auto it = children_.find(pid); it != children_.end())
        for (pid_t child : it->second) take(child);
    }
  }
  // Keep only what is still in use, so the trace stays as small as the job.
  for (auto it = trace.members.begin(); it != trace.members.end();)
    it = found.count(it->first) != 0 ? std::next(it) : trace.members.erase(it);
  trace.ids.clear();
  for (pid_t pid : found) {
    const proc::Stat& st = procs_.at(pid);
    trace.ids.insert(st.session);
    trace.ids.insert(st.pgrp);
  }
  if (live_leader > 0) trace.ids.insert(live_leader);
  found.erase(live_leader);
  trace.members.erase(live_leader);
  return {found.begin(), found.end()};
}

std::vector<pid_t> ProcessTree::orphans(pid_t host, pid_t host_session,
                                        const std::set<pid_t>& leaders) const {
  std::vector<pid_t> out;
  for (const auto& [pid, st] : procs_)
    if (st.ppid == host && st.session != host_session && leaders.count(pid) == 0 && st.state != 'Z')
      out.push_back(pid);
  return out;
}

bool signal_if_same(pid_t pid, std::uint64_t start_ticks, int sig) {
  if (pid <= 1 || pid == ::getpid()) return false;
  UniqueFd pidfd(sys::pidfd_open(pid));
  if (!pidfd) return false;
  auto st = proc::read_stat(pid);
  if (!st || st->start_ticks != start_ticks) return false;
  return sys::pidfd_send_signal(pidfd.get(), sig) == 0;
}

}  // namespace meanwhile
