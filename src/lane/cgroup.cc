#include "lane/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "lane/proc.h"

namespace meanwhile {
namespace {

std::string cgroup2_mount() {
  std::ifstream mounts("/proc/self/mounts");
  std::string line, found;
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string device, mount_point, type;
    fields >> device >> mount_point >> type;
    if (type != "cgroup2") continue;
    if (mount_point == "/sys/fs/cgroup") return mount_point;  // pure v2
    if (found.empty()) found = mount_point;                   // hybrid: .../unified
  }
  return found;
}

std::string own_cgroup() {
  std::ifstream file("/proc/self/cgroup");
  std::string line;
  while (std::getline(file, line)) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return {};
}

bool write_text(const std::string& path, std::string_view text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  return fd && ::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

template <typename Fn>
void for_each_entry(const std::string& dir_path, Fn fn) {
  DIR* dir = ::opendir(dir_path.c_str());
  if (dir == nullptr) return;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_type == DT_DIR && entry->d_name[0] != '.') fn(std::string(entry->d_name));
  }
  ::closedir(dir);
}

// "meanwhile-<pid>-<start ticks>-<n>": the host that made the tree.
bool parse_tree_name(const std::string& name, pid_t* pid, std::uint64_t* ticks) {
  constexpr std::string_view prefix = "meanwhile-";
  if (name.rfind(prefix, 0) != 0) return false;
  const char* p = name.data() + prefix.size();
  const char* end = name.data() + name.size();
  auto r1 = std::from_chars(p, end, *pid);
  if (r1.ec != std::errc() || r1.ptr == end || *r1.ptr != '-') return false;
  auto r2 = std::from_chars(r1.ptr + 1, end, *ticks);
  return r2.ec == std::errc();
}

}  // namespace

std::unique_ptr<CgroupTree> CgroupTree::create() {
  const std::string mount = cgroup2_mount();
  if (mount.empty()) return nullptr;
  std::vector<std::string> bases;
  const std::string own = own_cgroup();
  if (!own.empty() && own != "/") bases.push_back(mount + own);
  bases.push_back(mount);

  static std::atomic<unsigned> counter{0};
  auto self = proc::read_stat(::getpid());
  if (!self) return nullptr;
  char name[96];
  std::snprintf(name, sizeof name, "meanwhile-%d-%llu-%u", self->pid,
                static_cast<unsigned long long>(self->start_ticks), counter++);
  for (const auto& base : bases) {
    std::string path = base + "/" + name;
    if (::mkdir(path.c_str(), 0755) != 0) continue;
    bool has_kill = ::access((path + "/cgroup.kill").c_str(), W_OK) == 0;
    return std::unique_ptr<CgroupTree>(new CgroupTree(base, std::move(path), has_kill));
  }
  return nullptr;
}

CgroupTree::CgroupTree(std::string base, std::string path, bool has_kill)
    : base_(std::move(base)), path_(std::move(path)), has_kill_(has_kill) {}

CgroupTree::~CgroupTree() {
  free_.clear();
  for_each_entry(path_, [&](const std::string& name) {
    std::string dir = path_ + "/" + name;
    if (::rmdir(dir.c_str()) != 0 && errno == EBUSY) kill_tree(dir, has_kill_);
  });
  ::rmdir(path_.c_str());
}

std::unique_ptr<Cgroup> CgroupTree::acquire() {
  if (!free_.empty()) {
    auto cgroup = std::move(free_.back());
    free_.pop_back();
    return cgroup;
  }
  auto cgroup = std::make_unique<Cgroup>();
  cgroup->path = path_ + "/job-" + std::to_string(next_index_++);
  if (::mkdir(cgroup->path.c_str(), 0755) != 0) return nullptr;
  cgroup->dir.reset(::open(cgroup->path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  cgroup->procs.reset(::open((cgroup->path + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
  cgroup->events.reset(::open((cgroup->path + "/cgroup.events").c_str(), O_RDONLY | O_CLOEXEC));
  if (!cgroup->dir || !cgroup->procs || !cgroup->events) {
    ::rmdir(cgroup->path.c_str());
    return nullptr;
  }
  return cgroup;
}

void CgroupTree::release(std::unique_ptr<Cgroup> cgroup) {
  constexpr std::size_t kPoolSize = 64;
  if (!cgroup) return;
  if (!cgroup->killed && free_.size() < kPoolSize && !populated(*cgroup)) {
    free_.push_back(std::move(cgroup));
    return;
  }
  std::string path = cgroup->path;
  cgroup.reset();
  ::rmdir(path.c_str());  // fails while populated: then the destructor retries
}

bool CgroupTree::populated(const Cgroup& cgroup) {
  char buf[256];
  ssize_t n = ::pread(cgroup.events.get(), buf, sizeof buf - 1, 0);
  if (n <= 0) return false;
  buf[n] = '\0';
  return std::strstr(buf, "populated 1") != nullptr;
}

// Not through an ifstream: it throws when a read fails, as it does for a cgroup that is being
// removed (ENODEV), and this runs on the lane thread.
std::vector<pid_t> CgroupTree::members(const std::string& cgroup_path) {
  std::vector<pid_t> pids;
  std::string text;
  proc::read_file((cgroup_path + "/cgroup.procs").c_str(), text, std::size_t{1} << 24);
  pid_t pid = 0;
  bool in_number = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      pid = pid * 10 + (c - '0');
      in_number = true;
    } else {
      if (in_number) pids.push_back(pid);
      pid = 0;
      in_number = false;
    }
  }
  if (in_number) pids.push_back(pid);
  return pids;
}

void CgroupTree::signal(Cgroup& cgroup, int sig) const {
  if (sig == SIGKILL && has_kill_) {
    cgroup.killed = true;  // even if the write fails half-way: never reuse it
    if (write_text(cgroup.path + "/cgroup.kill", "1")) return;
  }
  const pid_t self = ::getpid();
  for (pid_t pid : members(cgroup.path)) {
    if (pid != self) ::kill(pid, sig);
  }
}

void CgroupTree::kill_tree(const std::string& path, bool has_kill) {
  if (has_kill && write_text(path + "/cgroup.kill", "1")) return;
  const pid_t self = ::getpid();
  for (pid_t pid : members(path)) {
    if (pid != self) ::kill(pid, SIGKILL);
  }
  for_each_entry(path, [&](const std::string& name) { kill_tree(path + "/" + name, has_kill); });
}

void CgroupTree::reclaim_dead_hosts() const {
  for_each_entry(base_, [&](const std::string& name) {
    pid_t pid = 0;
    std::uint64_t ticks = 0;
    if (!parse_tree_name(name, &pid, &ticks)) return;
    auto st = proc::read_stat(pid);
    if (st && st->start_ticks == ticks) return;  // its host is alive
    end_host_tree(base_ + "/" + name);
  });
}

void CgroupTree::end_host_tree(const std::string& tree) {
  kill_tree(tree, ::access((tree + "/cgroup.kill").c_str(), W_OK) == 0);
  // Killed processes leave the cgroup as they exit; what is still busy goes next time.
  for_each_entry(tree, [&](const std::string& job) { ::rmdir((tree + "/" + job).c_str()); });
  ::rmdir(tree.c_str());
}

}  // namespace meanwhile
