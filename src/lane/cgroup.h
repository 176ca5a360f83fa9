// Cgroups (v2) for jobs, where the host may create them: one directory per running job under a
// per-host parent, <v2 mount>/<host's cgroup>/meanwhile-<pid>-<start ticks>-<n>/job-<k>.
// A cgroup holds every process a job starts, whatever it does (setsid, double fork, a cleared
// environment), and cgroup.kill ends them all at once. Empty job directories are kept for the
// next jobs (a mkdir, an rmdir and six fd operations less per job), except one that ever got
// cgroup.kill: the kernel (6.x, seen on 6.18) SIGKILLs a child started in it with
// CLONE_INTO_CGROUP, since it compares the target's kill count with the parent cgroup's.
// Everything else in the lane works without cgroups.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "lane/unique_fd.h"

namespace meanwhile {

struct Cgroup {
  std::string path;
  UniqueFd dir;         // the directory: clone3(CLONE_INTO_CGROUP) starts the child in it
  UniqueFd procs;       // cgroup.procs, write-only: a vfork()ed child writes "0" to join
  UniqueFd events;      // cgroup.events: "populated 0|1"
  bool killed = false;  // cgroup.kill was written: never reused (see above)
};

class CgroupTree {
 public:
  // nullptr when no cgroup can be made here (no cgroup v2, no permission): fall back silently.
  static std::unique_ptr<CgroupTree> create();
  ~CgroupTree();  // removes the empty job directories and the parent
  CgroupTree(const CgroupTree&) = delete;
  CgroupTree& operator=(const CgroupTree&) = delete;

  const std::string& path() const { return path_; }

  // A cgroup for one job (empty), or nullptr if none can be made now.
  std::unique_ptr<Cgroup> acquire();
  // The job is done with it: kept for reuse when empty and never killed, else removed.
  void release(std::unique_ptr<Cgroup> cgroup);

  static bool populated(const Cgroup& cgroup);
  static std::vector<pid_t> members(const std::string& cgroup_path);
  // SIGKILL: cgroup.kill where the kernel has it; otherwise (and for other signals) each member.
  void signal(Cgroup& cgroup, int sig) const;

  // Ends the processes left in the cgroup trees of meanwhile hosts that died (found under the
  // same parent as ours) and removes those trees.
  void reclaim_dead_hosts() const;
  // SIGKILLs everything in one host's tree (`path()` of its CgroupTree) and removes what is
  // empty: for the watchdog (watchdog.h), once that host died.
  static void end_host_tree(const std::string& tree);

 private:
  CgroupTree(std::string base, std::string path, bool has_kill);
  static void kill_tree(const std::string& path, bool has_kill);

  std::string base_;  // where host trees are made
  std::string path_;  // this host's tree
  bool has_kill_;
  unsigned next_index_ = 0;
  std::vector<std::unique_ptr<Cgroup>> free_;  // empty, never killed: ready for the next job
};

}  // namespace meanwhile
