// Host death and restart, with a real host process (lane_host_helper): a SIGKILLed host's job
// leader dies with it (PR_SET_PDEATHSIG), the next host sees its rows as `lost` and kills what
// survived (found by the marker); a SIGTERMed host kills its jobs and records it before dying.
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <atomic>
#include <mutex>

#include "lane/pidfd.h"
#include "lane/store.h"
#include "lane/unique_fd.h"
#include "lane_test_util.h"

extern char** environ;

namespace meanwhile::testing {
namespace {

struct Host {
  pid_t pid = 0;
  JobId job;
  pid_t leader = 0;
  Host() = default;
  Host(Host&& other) noexcept
      : pid(std::exchange(other.pid, 0)), job(std::move(other.job)), leader(other.leader) {}
  // A failed test must not leave the host running.
  ~Host() {
    if (pid > 0 && ::kill(pid, SIGKILL) == 0) ::waitpid(pid, nullptr, 0);
  }
  int wait_exit() {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    pid = 0;
    return status;
  }
};

// Starts the helper host and reads "<job id> <leader pid>" from it.
// use_cgroups=false: the job's leftovers can then only be found through the store and their
// mark. (A dead host's job cgroups are emptied by any lane that opens on this machine, such as
// a test running in parallel, which would race with what a test checks.)
Host start_host(const std::string& data_dir, const std::string& command, bool use_cgroups = true,
                bool as_nobody = false, bool watchdog = true) {
  Host host;
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return host;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  std::string path = LANE_HOST_HELPER;
  std::string no_cgroups = "--no-cgroups", no_watchdog = "--no-watchdog";
  std::vector<std::string> setpriv = {"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup",
                                      "--clear-groups"};
  std::vector<char*> argv;
  if (as_nobody)
    for (auto& word : setpriv) argv.push_back(word.data());
  argv.insert(argv.end(), {path.data(), const_cast<char*>(data_dir.c_str()),
                           const_cast<char*>(command.c_str())});
  if (!use_cgroups) argv.push_back(no_cgroups.data());
  if (!watchdog) argv.push_back(no_watchdog.data());
  argv.push_back(nullptr);
  int rc = ::posix_spawn(&host.pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    host.pid = 0;
    return host;
  }
  std::string line;
  char c;
  while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;
  ::close(out[0]);
  auto space = line.find(' ');
  if (space != std::string::npos) {
    host.job = line.substr(0, space);
    host.leader = std::atoi(line.c_str() + space + 1);
  }
  return host;
}

std::string env_entry(pid_t pid, const std::string& name) {
  std::string env = read_file("/proc/" + std::to_string(pid) + "/environ");
  std::size_t pos = 0;
  while (pos < env.size()) {
    std::size_t end = env.find('\0', pos);
    if (end == std::string::npos) end = env.size();
    if (env.compare(pos, name.size() + 1, name + "=") == 0) return env.substr(pos, end - pos);
    pos = end + 1;
  }
  return {};
}

// Without its watchdog (below), what a SIGKILLed host's job started runs on until the next lane.
TEST(RestartTest, SigkilledHostLeavesLostRowsAndTheNextHostKillsSurvivors) {
  TempDir dir;
  Host host = start_host(dir / "data", "sleep 300 & exec sleep 301", /*use_cgroups=*/false,
                         /*as_nobody=*/false, /*watchdog=*/false);
  ASSERT_GT(host.pid, 0);
  ASSERT_FALSE(host.job.empty());
  ASSERT_TRUE(alive(host.leader));
  const std::string mark = env_entry(host.leader, "MEANWHILE_JOB_MARK");
  ASSERT_FALSE(mark.empty());
  ASSERT_TRUE(eventually([&] { return processes_with_env(mark).size() == 2; }));

  ::kill(host.pid, SIGKILL);
  int status = host.wait_exit();
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  // The leader dies with its host (PR_SET_PDEATHSIG); its background child is an orphan.
  EXPECT_TRUE(eventually([&] { return !alive(host.leader); }));
  auto survivors = processes_with_env(mark);
  ASSERT_EQ(survivors.size(), 1u);

  LaneOptions options;
  options.workspace = dir.path();
  options.data_dir = dir / "data";
  options.kill_grace = 500ms;
  auto lane = Lane::open(options);
  ASSERT_TRUE(lane.ok()) << lane.error();
  auto row = (*lane)->get(host.job);
  ASSERT_TRUE(row.ok()) << row.error();
  EXPECT_EQ(row->status, JobStatus::lost);
  EXPECT_FALSE(row->ours);
  EXPECT_FALSE(row->error.empty());
  EXPECT_TRUE(eventually([&] { return processes_with_env(mark).empty(); }));
  // A process in the middle of exiting has no environment yet is not a zombie for a moment.
  EXPECT_TRUE(eventually([&] { return !alive(survivors[0]); }));
}

TEST(RestartTest, SigtermedHostKillsItsJobsRecordsThemAndDiesOfTheSignal) {
  TempDir dir;
  Host host = start_host(dir / "data", "sleep 300 & exec sleep 301");
  ASSERT_GT(host.pid, 0);
  ASSERT_FALSE(host.job.empty());
  const std::string mark = env_entry(host.leader, "MEANWHILE_JOB_MARK");
  ASSERT_TRUE(eventually([&] { return processes_with_env(mark).size() == 2; }));

  ::kill(host.pid, SIGTERM);
  int status = host.wait_exit();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << status;
  EXPECT_TRUE(processes_with_env(mark).empty());  // gone before the host died

  LaneOptions options;
  options.workspace = dir.path();
  options.data_dir = dir / "data";
  auto lane = Lane::open(options);
  ASSERT_TRUE(lane.ok()) << lane.error();
  auto row = (*lane)->get(host.job);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->status, JobStatus::killed);
  EXPECT_TRUE(row->ended_at.has_value());
}

TEST(RestartTest, OnSignalIsCalledAfterTheJobsAreKilled) {
  TempDir dir;
  std::atomic<int> got{0};
  std::atomic<bool> jobs_dead_when_called{false};
  std::mutex mark_mu;
  std::string mark;
  LaneOptions options;
  options.workspace = dir.path();
  options.data_dir = dir / "data";
  options.kill_grace = 500ms;
  options.shutdown_signals = {SIGUSR1};
  options.on_signal = [&](int sig) {
    std::lock_guard lock(mark_mu);
    jobs_dead_when_called = processes_with_env(mark).empty();
    got = sig;
  };
  auto lane = Lane::open(options);
  ASSERT_TRUE(lane.ok());
  JobId id = submit_ok(**lane, shell("sleep 300 & exec sleep 301"));
  JobInfo info = wait_running(**lane, id);
  {
    std::lock_guard lock(mark_mu);
    mark = env_entry(info.pid, "MEANWHILE_JOB_MARK");
  }
  ASSERT_TRUE(eventually([&] { return processes_with_env(mark).size() == 2; }));
  ::kill(::getpid(), SIGUSR1);
  ASSERT_TRUE(eventually([&] { return got.load() != 0; }));
  EXPECT_EQ(got.load(), SIGUSR1);
  EXPECT_TRUE(jobs_dead_when_called.load());
  EXPECT_EQ((*lane)->get(id)->status, JobStatus::killed);
  // The lane still works afterwards.
  EXPECT_EQ(wait_done(**lane, submit_ok(**lane, shell("true"))).status, JobStatus::exited);
}

// Issue 9 item 5, as an unprivileged user without a cgroup (nobody when the test runs as
// root; the user running it otherwise): `env -i` drops the marker, `setsid` leaves the job's
// session, and both still die with their host.
TEST(RestartTest, UnprivilegedHostKillsEscapeesThatDroppedTheMarker) {
  TempDir dir;
  const bool as_nobody = ::getuid() == 0;
  if (as_nobody) {
    ASSERT_EQ(::chown(dir.path().c_str(), 65534, 65534), 0);
  }
  const std::string a = std::to_string(6000 + ::getpid() % 1000);
  const std::string b = std::to_string(7000 + ::getpid() % 1000);
  Host host = start_host(dir / "data",
                         "env -i sleep " + a + " >/dev/null 2>&1 & setsid env -i sleep " + b +
                             " >/dev/null 2>&1 & exec sleep 300",
                         /*use_cgroups=*/false, as_nobody);
  ASSERT_GT(host.pid, 0);
  ASSERT_FALSE(host.job.empty()) << "the helper did not start its job";
  ASSERT_TRUE(eventually([&] { return sleeping(a).size() == 1 && sleeping(b).size() == 1; }));
  const pid_t in_session = sleeping(a)[0], own_session = sleeping(b)[0];
  if (as_nobody) {
    struct stat st {};
    ASSERT_EQ(::stat(("/proc/" + std::to_string(own_session)).c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 65534u) << "the job runs as nobody";
  }
  ::kill(host.pid, SIGTERM);
  host.wait_exit();
  EXPECT_TRUE(eventually([&] { return !alive(in_session) && !alive(own_session); }))
      << "the marker-less processes outlived their host";
  for (const std::string& seconds : {a, b})  // should any be left
    for (pid_t pid : sleeping(seconds)) ::kill(pid, SIGKILL);
}

// Waits until the process behind `pidfd` has exited.
bool exits_within(int pidfd, std::chrono::milliseconds timeout) {
  pollfd p{pidfd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>((timeout * slowdown()).count())) == 1;
}

std::optional<JobStatus> stored_status(const std::string& db, const JobId& id) {
  auto store = Store::open(db);
  if (!store.ok()) return std::nullopt;
  auto row = (*store)->load(id);
  if (!row.ok() || !row->has_value()) return std::nullopt;
  return (*row)->info.status;
}

// Issue 9 item 6: a SIGKILLed host's watchdog ends what its job started (in the job's group,
// with the marker in another session, with neither marker nor session) and records the row as
// lost, with no other lane opened. Unprivileged and without a cgroup (nobody when root).
TEST(WatchdogTest, KillsTheJobsOfASigkilledHostWithoutAnotherLane) {
  TempDir dir;
  const bool as_nobody = ::getuid() == 0;
  if (as_nobody) {
    ASSERT_EQ(::chown(dir.path().c_str(), 65534, 65534), 0);
  }
  const std::string a = std::to_string(8000 + ::getpid() % 1000);
  const std::string b = std::to_string(9000 + ::getpid() % 1000);
  const std::string c = std::to_string(10000 + ::getpid() % 1000);
  Host host =
      start_host(dir / "data",
                 "sleep " + a + " & env -i sleep " + b + " >/dev/null 2>&1 & setsid sleep " + c +
                     " >/dev/null 2>&1 & exec sleep 300",
                 /*use_cgroups=*/false, as_nobody);
  ASSERT_GT(host.pid, 0);
  ASSERT_FALSE(host.job.empty()) << "the helper did not start its job";
  ASSERT_TRUE(eventually([&] {
    return sleeping(a).size() == 1 && sleeping(b).size() == 1 && sleeping(c).size() == 1;
  }));
  const pid_t in_group = sleeping(a)[0], unmarked = sleeping(b)[0], other_session = sleeping(c)[0];
  const std::vector<pid_t> dogs = watchdogs_of(host.pid);
  ASSERT_EQ(dogs.size(), 1u) << "the host has no watchdog";
  UniqueFd dog(sys::pidfd_open(dogs[0]));
  ASSERT_TRUE(dog);

  ::kill(host.pid, SIGKILL);
  host.wait_exit();
  EXPECT_TRUE(exits_within(dog.get(), 10s)) << "the watchdog did not finish";
  ::waitpid(dogs[0], nullptr, WNOHANG);  // ours if this process is a subreaper (a lane made it)
  EXPECT_TRUE(eventually([&] {
    return !alive(in_group) && !alive(unmarked) && !alive(other_session) && !alive(host.leader);
  })) << "processes of the job outlived their SIGKILLed host";
  EXPECT_EQ(stored_status(dir / "data/jobs.db", host.job), JobStatus::lost);
  for (const std::string& seconds : {a, b, c})  // should any be left
    for (pid_t pid : sleeping(seconds)) ::kill(pid, SIGKILL);
}

// With a cgroup, even a process that left the session and dropped the marker is found.
TEST(WatchdogTest, EndsTheCgroupOfASigkilledHost) {
  TempDir dir;
  const std::string d = std::to_string(11000 + ::getpid() % 1000);
  Host host =
      start_host(dir / "data", "setsid env -i sleep " + d + " >/dev/null 2>&1 & exec sleep 300");
  ASSERT_GT(host.pid, 0);
  ASSERT_FALSE(host.job.empty());
  if (read_file("/proc/" + std::to_string(host.leader) + "/cgroup").find("/meanwhile-") ==
      std::string::npos) {
    GTEST_SKIP() << "no job cgroup can be made here (needs a writable cgroup v2 tree)";
  }
  ASSERT_TRUE(eventually([&] { return sleeping(d).size() == 1; }));
  const pid_t escaped = sleeping(d)[0];
  const std::vector<pid_t> dogs = watchdogs_of(host.pid);
  ASSERT_EQ(dogs.size(), 1u);
  UniqueFd dog(sys::pidfd_open(dogs[0]));
  ::kill(host.pid, SIGKILL);
  host.wait_exit();
  EXPECT_TRUE(exits_within(dog.get(), 10s));
  ::waitpid(dogs[0], nullptr, WNOHANG);
  EXPECT_TRUE(eventually([&] { return !alive(escaped); })) << "the cgroup outlived its host";
  EXPECT_EQ(stored_status(dir / "data/jobs.db", host.job), JobStatus::lost);
  for (pid_t pid : sleeping(d)) ::kill(pid, SIGKILL);
}

// The watchdog starts with the first job, not before, and is gone (reaped) once the lane closes.
TEST(WatchdogTest, StartsWithTheFirstJobAndLeavesWithTheLane) {
  TempDir dir;
  LaneOptions options;
  options.workspace = dir.path();
  options.data_dir = dir / "data";
  auto lane = Lane::open(options);
  ASSERT_TRUE(lane.ok()) << lane.error();
  EXPECT_TRUE(watchdogs_of(::getpid()).empty());
  EXPECT_EQ(wait_done(**lane, submit_ok(**lane, shell("true"))).status, JobStatus::exited);
  const std::vector<pid_t> dogs = watchdogs_of(::getpid());
  ASSERT_EQ(dogs.size(), 1u);
  const auto fields = stat_fields(dogs[0]);
  ASSERT_GE(fields.size(), 3u);
  EXPECT_EQ(fields[1], dogs[0]) << "in a process group of its own";
  EXPECT_EQ(fields[2], ::getsid(0)) << "in the host's session";
  EXPECT_FALSE(read_file("/proc/" + std::to_string(dogs[0]) + "/environ").find("MEANWHILE_JOB") !=
               std::string::npos);
  lane->reset();
  EXPECT_FALSE(proc_state(dogs[0]).has_value()) << "the watchdog was not reaped";
}

// A watchdog killed by hand is reaped at once; the lane runs on as usual; none is restarted.
TEST(WatchdogTest, AWatchdogKilledByHandIsReapedAndTheLaneGoesOn) {
  TempDir dir;
  LaneOptions options;
  options.workspace = dir.path();
  options.data_dir = dir / "data";
  auto lane = Lane::open(options);
  ASSERT_TRUE(lane.ok()) << lane.error();
  EXPECT_EQ(wait_done(**lane, submit_ok(**lane, shell("true"))).status, JobStatus::exited);
  const std::vector<pid_t> dogs = watchdogs_of(::getpid());
  ASSERT_EQ(dogs.size(), 1u);
  ::kill(dogs[0], SIGKILL);
  // The lane watches the watchdog's pidfd, so it reaps it at once, without a job to prompt it.
  EXPECT_TRUE(eventually([&] { return !proc_state(dogs[0]).has_value(); }))
      << "the dead watchdog was not reaped";
  EXPECT_EQ(wait_done(**lane, submit_ok(**lane, shell("echo still"))).status, JobStatus::exited);
  EXPECT_TRUE(watchdogs_of(::getpid()).empty());
}

// LaneOptions::watchdog = false: none is started.
TEST(WatchdogTest, NoneWhenDisabled) {
  TempDir dir;
  LaneOptions options;
  options.workspace = dir.path();
  options.data_dir = dir / "data";
  options.watchdog = false;
  auto lane = Lane::open(options);
  ASSERT_TRUE(lane.ok()) << lane.error();
  EXPECT_EQ(wait_done(**lane, submit_ok(**lane, shell("true"))).status, JobStatus::exited);
  EXPECT_TRUE(watchdogs_of(::getpid()).empty());
}

}  // namespace
}  // namespace meanwhile::testing
