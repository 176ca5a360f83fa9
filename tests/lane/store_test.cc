#include "lane/store.h"

#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "lane_test_util.h"
#include "support/test_support.h"

namespace meanwhile {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class StoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> open() {
    auto store = Store::open(path_);
    EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error());
    return store.ok() ? std::move(store.value()) : nullptr;
  }

  test::TempDir tmp_{"meanwhile-store"};
  std::string dir_ = tmp_.path();
  std::string path_ = dir_ + "/jobs.db";
};

JobSpec full_spec() {
  JobSpec spec;
  spec.command = "echo 'hi there' | tr a-z A-Z \"quoted\" \\ \xE2\x82\xAC";
  spec.cwd = "/tmp/work dir";
  spec.env = {{"A", "1"}, {"B", "two words"}, {"A", "override"}};
  spec.timeout = 1500ms;
  spec.label = "build";
  spec.stdin_mode = StdinMode::pipe;
  spec.watch = "error|warn(ing)?";
  spec.after = {"3", "14"};
  spec.priority = -7;
  spec.log_cap_bytes = 123456789012ull;
  return spec;
}

void expect_same_spec(const JobSpec& a, const JobSpec& b) {
  EXPECT_EQ(a.command, b.command);
  EXPECT_EQ(a.cwd, b.cwd);
  EXPECT_EQ(a.env, b.env);
  EXPECT_EQ(a.timeout, b.timeout);
  EXPECT_EQ(a.label, b.label);
  EXPECT_EQ(a.stdin_mode, b.stdin_mode);
  EXPECT_EQ(a.watch, b.watch);
  EXPECT_EQ(a.after, b.after);
  EXPECT_EQ(a.priority, b.priority);
  EXPECT_EQ(a.log_cap_bytes, b.log_cap_bytes);
}

WallClock::time_point ms(std::int64_t unix_ms) {
  return WallClock::time_point(std::chrono::milliseconds(unix_ms));
}

// A pid no process has: above the kernel's pid_max.
int unused_pid() {
  std::ifstream in("/proc/sys/kernel/pid_max");
  int pid_max = 4194304;
  in >> pid_max;
  return pid_max + 1;
}

TEST_F(StoreTest, InsertLoadUpdateRoundTripsEveryField) {
  auto store = open();
  ASSERT_TRUE(store);
  JobInfo info;
  info.spec = full_spec();
  info.status = JobStatus::queued;
  info.submitted_at = ms(1700000000123);
  info.log_path = dir_ + "/logs/{id}.log";
  const HostId host{4242, 987654321};
  auto id = store->insert(info, host);
  ASSERT_TRUE(id.ok()) << id.error();

  auto loaded = store->load(*id);
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  ASSERT_TRUE(loaded->has_value());
  const StoredJob& row = **loaded;
  EXPECT_EQ(row.info.id, *id);
  expect_same_spec(row.info.spec, info.spec);
  EXPECT_EQ(row.info.status, JobStatus::queued);
  EXPECT_EQ(row.info.submitted_at, info.submitted_at);
  EXPECT_FALSE(row.info.started_at);
  EXPECT_FALSE(row.info.ended_at);
  EXPECT_FALSE(row.info.exit_code);
  EXPECT_FALSE(row.info.term_signal);
  EXPECT_EQ(row.info.log_path, dir_ + "/logs/" + *id + ".log");
  EXPECT_EQ(row.host, host);

  JobInfo changed = row.info;
  changed.status = JobStatus::exited;
  changed.exit_code = 3;
  changed.term_signal = 9;
  changed.error = "an error, with 'quotes'";
  changed.pid = 31337;
  changed.started_at = ms(1700000000200);
  changed.ended_at = ms(1700000009999);
  changed.bytes_logged = (1ull << 40) + 5;
  changed.bytes_dropped = 77;
  changed.lines = 123456;
  changed.last_line = "done \xE2\x9C\x93";
  ASSERT_TRUE(store->write({{changed, false}}, HostId{}).ok());

  auto again = store->load(*id);
  ASSERT_TRUE(again.ok() && again->has_value());
  const JobInfo& got = (*again)->info;
  EXPECT_EQ(got.status, JobStatus::exited);
  EXPECT_EQ(got.exit_code, 3);
  EXPECT_EQ(got.term_signal, 9);
  EXPECT_EQ(got.error, changed.error);
  EXPECT_EQ(got.pid, 31337);
  EXPECT_EQ(got.submitted_at, changed.submitted_at);
  EXPECT_EQ(got.started_at, changed.started_at);
  EXPECT_EQ(got.ended_at, changed.ended_at);
  EXPECT_EQ(got.bytes_logged, changed.bytes_logged);
  EXPECT_EQ(got.bytes_dropped, 77u);
  EXPECT_EQ(got.lines, 123456u);
  EXPECT_EQ(got.last_line, changed.last_line);
  EXPECT_EQ(got.log_path, row.info.log_path);  // not changed by update
  expect_same_spec(got.spec, info.spec);
}

TEST_F(StoreTest, ReservedIdsAreNeverHandedOutTwice) {
  auto a = open();
  auto b = open();
  ASSERT_TRUE(a && b);
  std::set<std::int64_t> seen;
  auto take = [&](std::int64_t first, std::int64_t count) {
    for (std::int64_t id = first; id < first + count; ++id) {
      EXPECT_TRUE(seen.insert(id).second) << "id " << id << " handed out twice";
    }
  };
  JobInfo info;
  info.spec.command = "true";
  for (int round = 0; round < 20; ++round) {
    auto first_a = a->reserve_ids(4);
    ASSERT_TRUE(first_a.ok()) << first_a.error();
    take(*first_a, 4);
    auto inserted = b->insert(info, HostId::self());  // an automatic id: above every block
    ASSERT_TRUE(inserted.ok()) << inserted.error();
    take(std::stoll(*inserted), 1);
    EXPECT_GT(std::stoll(*inserted), *first_a + 3);
    auto first_b = b->reserve_ids(round + 1);
    ASSERT_TRUE(first_b.ok()) << first_b.error();
    take(*first_b, round + 1);
  }
  EXPECT_FALSE(a->reserve_ids(0).ok());
  EXPECT_FALSE(a->reserve_ids(-3).ok());
  // A new connection (a restarted host) goes on above everything reserved so far.
  a.reset();
  auto c = open();
  ASSERT_TRUE(c);
  auto next = c->reserve_ids(1);
  ASSERT_TRUE(next.ok()) << next.error();
  EXPECT_GT(*next, *seen.rbegin());
}

TEST_F(StoreTest, WriteInsertsFreshRowsAndUpdatesTheOthersAllOrNothing) {
  auto store = open();
  ASSERT_TRUE(store);
  auto first = store->reserve_ids(3);
  ASSERT_TRUE(first.ok()) << first.error();
  const HostId host{4242, 987654321};
  std::vector<Store::RowWrite> rows;
  for (int i = 0; i < 3; ++i) {
    JobInfo info;
    info.id = std::to_string(*first + i);
    info.spec = full_spec();
    info.status = JobStatus::queued;
    info.submitted_at = ms(1700000000000 + i);
    info.log_path = dir_ + "/logs/" + info.id + ".log";
    rows.push_back({info, true});
  }
  ASSERT_TRUE(store->write(rows, host).ok());
  for (const auto& row : rows) {
    auto loaded = store->load(row.info.id);
    ASSERT_TRUE(loaded.ok() && loaded->has_value()) << row.info.id;
    EXPECT_EQ((*loaded)->info.status, JobStatus::queued);
    EXPECT_EQ((*loaded)->info.log_path, row.info.log_path);
    EXPECT_EQ((*loaded)->host, host);
    expect_same_spec((*loaded)->info.spec, row.info.spec);
  }

  // An update of the first row and a bad row in one batch: neither is applied.
  Store::RowWrite changed = rows[0];
  changed.fresh = false;
  changed.info.status = JobStatus::exited;
  changed.info.exit_code = 0;
  Store::RowWrite bogus;
  bogus.info.id = "not-a-number";
  EXPECT_FALSE(store->write({changed, bogus}, host).ok());
  EXPECT_EQ((*store->load(rows[0].info.id))->info.status, JobStatus::queued);
  // Inserting a row whose id exists already fails too, and changes nothing.
  EXPECT_FALSE(store->write({changed, rows[1]}, host).ok());
  EXPECT_EQ((*store->load(rows[0].info.id))->info.status, JobStatus::queued);

  ASSERT_TRUE(store->write({changed}, host).ok());
  auto got = store->load(rows[0].info.id);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->info.status, JobStatus::exited);
  EXPECT_EQ((*got)->info.exit_code, 0);
  EXPECT_EQ((*got)->host, host);  // an update keeps the owner
}

TEST_F(StoreTest, EveryStatusRoundTrips) {
  auto store = open();
  ASSERT_TRUE(store);
  const JobStatus all[] = {JobStatus::queued,          JobStatus::running,   JobStatus::exited,
                           JobStatus::killed,          JobStatus::timed_out, JobStatus::skipped,
                           JobStatus::failed_to_start, JobStatus::lost};
  std::vector<Store::RowWrite> rows;
  for (JobStatus status : all) {
    JobInfo info;
    info.spec.command = "true";
    auto id = store->insert(info, HostId::self());
    ASSERT_TRUE(id.ok());
    info.id = *id;
    info.status = status;
    rows.push_back({info, false});
  }
  ASSERT_TRUE(store->write(rows, HostId{}).ok());  // one batch
  for (const auto& [info, fresh] : rows) {
    auto row = store->load(info.id);
    ASSERT_TRUE(row.ok() && row->has_value());
    EXPECT_EQ((*row)->info.status, info.status);
  }
}

TEST_F(StoreTest, UnknownAndMalformedIds) {
  auto store = open();
  ASSERT_TRUE(store);
  for (const char* id : {"1", "999", "abc", "", "-1", "1x", "99999999999999999999999"}) {
    auto row = store->load(id);
    ASSERT_TRUE(row.ok()) << id;
    EXPECT_FALSE(row->has_value()) << id;
  }
  JobInfo bogus;
  bogus.id = "not-a-number";
  auto status = store->write({{bogus, false}}, HostId{});
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().find("not-a-number"), std::string::npos);
}

TEST_F(StoreTest, UuidIsStableAcrossReopen) {
  std::string uuid;
  {
    auto store = open();
    ASSERT_TRUE(store);
    uuid = store->uuid();
    EXPECT_EQ(uuid.size(), 32u);
    EXPECT_EQ(uuid.find_first_not_of("0123456789abcdef"), std::string::npos);
    JobInfo info;
    info.spec.command = "echo kept";
    ASSERT_TRUE(store->insert(info, HostId::self()).ok());
  }
  auto store = open();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->uuid(), uuid);
  auto rows = store->load_recent(10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->at(0).info.spec.command, "echo kept");

  // Another database gets another uuid.
  auto other = Store::open(dir_ + "/other.db");
  ASSERT_TRUE(other.ok());
  EXPECT_NE((*other)->uuid(), uuid);
}

TEST_F(StoreTest, LoadRecentIsNewestLimitOldestFirst) {
  auto store = open();
  ASSERT_TRUE(store);
  for (int i = 0; i < 10; ++i) {
    JobInfo info;
    info.status = JobStatus::exited;
    info.spec.command = "echo " + std::to_string(i);
    ASSERT_TRUE(store->insert(info, HostId::self()).ok());
  }
  auto rows = store->load_recent(3);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ(rows->at(0).info.spec.command, "echo 7");
  EXPECT_EQ(rows->at(2).info.spec.command, "echo 9");
  EXPECT_LT(std::stoll(rows->at(0).info.id), std::stoll(rows->at(2).info.id));
  EXPECT_EQ(store->load_recent(100)->size(), 10u);
  EXPECT_TRUE(store->load_recent(0)->empty());
}

TEST_F(StoreTest, LoadRecentKeepsEveryLiveRowWhateverTheLimit) {
  auto store = open();
  ASSERT_TRUE(store);
  JobInfo running;
  running.status = JobStatus::running;
  running.spec.command = "sleep 300";
  ASSERT_TRUE(store->insert(running, HostId::self()).ok());
  for (int i = 0; i < 250; ++i) {
    JobInfo info;
    info.status = JobStatus::exited;
    info.spec.command = "true";
    ASSERT_TRUE(store->insert(info, HostId::self()).ok());
  }
  auto rows = store->load_recent(200);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 201u);
  EXPECT_EQ(rows->front().info.spec.command, "sleep 300");
  EXPECT_EQ(store->load_recent(0)->size(), 1u);
}

TEST_F(StoreTest, OpenFailsClearlyWhenDirectoryIsMissing) {
  auto store = Store::open(dir_ + "/missing/jobs.db");
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().find(dir_ + "/missing/jobs.db"), std::string::npos) << store.error();
}

TEST_F(StoreTest, OpenRejectsAFileThatIsNotADatabase) {
  std::ofstream(path_) << "this is not an sqlite database, just some text that is long enough "
                          "to fill a header of one hundred bytes or so, padding padding padding";
  auto store = Store::open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().find(path_), std::string::npos) << store.error();
}

TEST_F(StoreTest, ConcurrentInsertsFromSeveralConnectionsAndThreads) {
  auto first = open();
  auto second = open();
  ASSERT_TRUE(first && second);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 150;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Store& store = t % 2 ? *first : *second;
      for (int i = 0; i < kPerThread; ++i) {
        JobInfo info;
        info.spec.command = "t" + std::to_string(t) + " " + std::to_string(i);
        auto id = store.insert(info, HostId::self());
        ASSERT_TRUE(id.ok()) << id.error();
        ids[t].push_back(*id);
        info.id = *id;
        info.status = JobStatus::running;
        ASSERT_TRUE(store.write({{info, false}}, HostId::self()).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> unique;
  for (auto& v : ids) unique.insert(v.begin(), v.end());
  EXPECT_EQ(unique.size(), static_cast<std::size_t>(kThreads * kPerThread));
  auto rows = first->load_recent(100000);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), static_cast<std::size_t>(kThreads * kPerThread));
  for (auto& row : *rows) EXPECT_EQ(row.info.status, JobStatus::running);
}

// Forks children that each open the same (new) database and insert rows at the same time.
TEST_F(StoreTest, ConcurrentProcessesCreateOneUuidAndLoseNoRows) {
  constexpr int kChildren = 4;
  constexpr int kPerChild = 100;
  int pipes[kChildren][2];
  std::vector<pid_t> children;
  for (int c = 0; c < kChildren; ++c) {
    ASSERT_EQ(::pipe(pipes[c]), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(pipes[c][0]);
      auto store = Store::open(path_);
      if (!store.ok()) {
        std::fprintf(stderr, "child %d: %s\n", c, store.error().c_str());
        ::_exit(2);
      }
      const std::string& uuid = (*store)->uuid();
      if (::write(pipes[c][1], uuid.data(), uuid.size()) != static_cast<ssize_t>(uuid.size())) {
        ::_exit(3);
      }
      for (int i = 0; i < kPerChild; ++i) {
        JobInfo info;
        info.spec.command = "child " + std::to_string(c) + " " + std::to_string(i);
        auto inserted = (*store)->insert(info, HostId::self());
        if (!inserted.ok()) {
          std::fprintf(stderr, "child %d: %s\n", c, inserted.error().c_str());
          ::_exit(4);
        }
      }
      ::_exit(0);
    }
    ::close(pipes[c][1]);
    children.push_back(pid);
  }
  std::set<std::string> uuids;
  for (int c = 0; c < kChildren; ++c) {
    char buf[64];
    const ssize_t n = ::read(pipes[c][0], buf, sizeof buf);
    ::close(pipes[c][0]);
    if (n > 0) uuids.insert(std::string(buf, n));
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  }
  EXPECT_EQ(uuids.size(), 1u);
  auto store = open();
  ASSERT_TRUE(store);
  EXPECT_EQ(uuids.count(store->uuid()), 1u);
  auto rows = store->load_recent(100000);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), static_cast<std::size_t>(kChildren * kPerChild));
  std::set<std::string> ids, commands;
  for (auto& row : *rows) {
    ids.insert(row.info.id);
    commands.insert(row.info.spec.command);
  }
  EXPECT_EQ(ids.size(), rows->size());
  EXPECT_EQ(commands.size(), rows->size());
}

TEST_F(StoreTest, ReclaimMarksOnlyDeadHostsRowsLost) {
  auto store = open();
  ASSERT_TRUE(store);
  auto insert = [&](JobStatus status, const HostId& host) {
    JobInfo info;
    info.spec.command = "sleep 100";
    info.status = status;
    auto id = store->insert(info, host);
    EXPECT_TRUE(id.ok());
    return id.ok() ? *id : std::string();
  };
  const HostId dead{unused_pid(), 12345};
  HostId reused = HostId::self();  // our pid, but another start time: pid reuse
  reused.start_ticks += 1;
  const std::string mine = insert(JobStatus::running, HostId::self());
  const std::string dead_running = insert(JobStatus::running, dead);
  const std::string dead_queued = insert(JobStatus::queued, dead);
  const std::string dead_finished = insert(JobStatus::exited, dead);
  const std::string reused_running = insert(JobStatus::running, reused);

  const auto before = WallClock::now() - 1s;
  auto reclaimed = store->reclaim_dead_hosts();
  ASSERT_TRUE(reclaimed.ok()) << reclaimed.error();
  std::map<std::string, JobInfo> by_id;
  for (auto& row : *reclaimed) by_id[row.info.id] = row.info;
  EXPECT_EQ(by_id.size(), 3u);
  ASSERT_TRUE(by_id.count(dead_running) && by_id.count(dead_queued) && by_id.count(reused_running));
  EXPECT_EQ(by_id[dead_running].status, JobStatus::lost);
  EXPECT_EQ(by_id[dead_running].error,
            "its host process (pid " + std::to_string(dead.pid) + ") ended while it was running");
  EXPECT_EQ(by_id[dead_queued].error,
            "its host process (pid " + std::to_string(dead.pid) + ") ended while it was queued");

  auto row = store->load(dead_running);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->info.status, JobStatus::lost);
  ASSERT_TRUE((*row)->info.ended_at);
  EXPECT_GE(*(*row)->info.ended_at, before);
  EXPECT_EQ((*store->load(mine))->info.status, JobStatus::running);
  EXPECT_EQ((*store->load(dead_finished))->info.status, JobStatus::exited);

  // Nothing left to reclaim.
  EXPECT_TRUE(store->reclaim_dead_hosts()->empty());
}

TEST(HostId, SelfIsAliveAndOthersAreNot) {
  const HostId self = HostId::self();
  EXPECT_EQ(self.pid, ::getpid());
  EXPECT_GT(self.start_ticks, 0u);
  EXPECT_TRUE(self.alive());
  EXPECT_FALSE((HostId{unused_pid(), self.start_ticks}.alive()));
  EXPECT_FALSE((HostId{self.pid, self.start_ticks + 1}.alive()));
  EXPECT_FALSE((HostId{0, 0}.alive()));
  EXPECT_FALSE((HostId{-5, 0}.alive()));
}

// The comm field of /proc/PID/stat may contain spaces and parentheses.
TEST(HostId, ParsesProcessNamesWithParenthesesAndSpaces) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::prctl(PR_SET_NAME, "a) b (c) d", 0, 0, 0);
    const HostId id = HostId::self();
    const bool ok = id.alive() && id.pid == ::getpid() && id.start_ticks > 0;
    char answer = ok ? 'y' : 'n';
    if (::write(fds[1], &answer, 1) != 1) ::_exit(1);
    ::pause();
    ::_exit(0);
  }
  ::close(fds[1]);
  char answer = 0;
  ASSERT_EQ(::read(fds[0], &answer, 1), 1);
  ::close(fds[0]);
  EXPECT_EQ(answer, 'y');
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  EXPECT_EQ(name, "a) b (c) d");
  ::kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
}

TEST(SpecJson, RoundTripsEveryField) {
  const JobSpec spec = full_spec();
  auto back = spec_from_json(spec_to_json(spec));
  ASSERT_TRUE(back.ok()) << back.error();
  expect_same_spec(*back, spec);

  JobSpec defaults;
  defaults.command = "true";
  auto plain = spec_from_json(spec_to_json(defaults));
  ASSERT_TRUE(plain.ok());
  expect_same_spec(*plain, defaults);
}

TEST(SpecJson, AcceptsEnvObjectAndMissingFields) {
  auto spec = spec_from_json(
      R"({"command":"ls","env":{"X":"1"},"timeout_ms":250,"stdin":"pipe","after":[4,"5"]})");
  ASSERT_TRUE(spec.ok()) << spec.error();
  EXPECT_EQ(spec->command, "ls");
  EXPECT_EQ(spec->env, (std::vector<std::pair<std::string, std::string>>{{"X", "1"}}));
  EXPECT_EQ(spec->timeout, 250ms);
  EXPECT_EQ(spec->stdin_mode, StdinMode::pipe);
  EXPECT_EQ(spec->after, (std::vector<std::string>{"4", "5"}));
  EXPECT_EQ(spec->priority, 0);
  EXPECT_FALSE(spec->log_cap_bytes);
}

TEST(SpecJson, MalformedJsonIsAnError) {
  for (const char* bad : {"", "{", "not json", "[1,2]", "\"str\"", "{\"command\": }"}) {
    auto spec = spec_from_json(bad);
    EXPECT_FALSE(spec.ok()) << bad;
  }
  struct Case {
    const char* json;
    const char* field;
  };
  for (const Case& c :
       {Case{R"({"command": 5})", "command"}, Case{R"({"env": "A=1"})", "env"},
        Case{R"({"env": [["A"]]})", "env"}, Case{R"({"timeout_ms": "10s"})", "timeout_ms"},
        Case{R"({"stdin": "tty"})", "stdin"}, Case{R"({"after": [true]})", "after"},
        Case{R"({"priority": 1.5})", "priority"}, Case{R"({"priority": 99999999999})", "priority"},
        Case{R"({"log_cap_bytes": -1})", "log_cap_bytes"}}) {
    auto spec = spec_from_json(c.json);
    ASSERT_FALSE(spec.ok()) << c.json;
    EXPECT_NE(spec.error().find(c.field), std::string::npos) << spec.error();
  }
}

TEST(SpecJson, InvalidUtf8InCommandDoesNotThrow) {
  JobSpec spec;
  spec.command = "echo \xFF\xFE";
  auto back = spec_from_json(spec_to_json(spec));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->command.substr(0, 5), "echo ");
}

}  // namespace
}  // namespace meanwhile

namespace meanwhile {
namespace {

using testing::exec_sql;

TEST_F(StoreTest, SlurmFieldsRoundTripAndAHostileSlurmIdIsDropped) {
  auto store = open();
  ASSERT_TRUE(store);
  JobInfo info;
  info.spec.command = "pytest";
  info.spec.executor = ExecutorKind::slurm;
  info.spec.partition = "gpu";
  info.spec.cpus = 4;
  info.spec.memory = "4G";
  info.spec.shards = 8;
  info.status = JobStatus::running;
  info.slurm_job_id = "4711";
  auto id = store->insert(info, HostId::self());
  ASSERT_TRUE(id.ok()) << id.error();
  auto row = store->load(*id);
  ASSERT_TRUE(row.ok() && row->has_value());
  const JobInfo& back = (*row)->info;
  EXPECT_EQ(back.spec.executor, ExecutorKind::slurm);
  EXPECT_EQ(back.spec.partition, "gpu");
  EXPECT_EQ(back.spec.cpus, 4);
  EXPECT_EQ(back.spec.memory, "4G");
  EXPECT_EQ(back.spec.shards, 8);
  EXPECT_EQ(back.slurm_job_id, "4711");

  exec_sql(path_, "UPDATE jobs SET slurm_job_id = '1 --uid=0' WHERE id = " + *id);
  row = store->load(*id);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->info.slurm_job_id, "") << "never handed to scancel";
}

TEST_F(StoreTest, AVersion1StoreGainsTheSlurmColumnAndKeepsItsRows) {
  exec_sql(path_, R"sql(
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta VALUES ('uuid', 'a-version-1-store');
    CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, spec TEXT NOT NULL,
      status TEXT NOT NULL, exit_code INTEGER, term_signal INTEGER,
      error TEXT NOT NULL DEFAULT '', pid INTEGER NOT NULL DEFAULT 0, submitted_at INTEGER,
      started_at INTEGER, ended_at INTEGER, bytes_logged INTEGER NOT NULL DEFAULT 0,
      bytes_dropped INTEGER NOT NULL DEFAULT 0, lines INTEGER NOT NULL DEFAULT 0,
      log_path TEXT NOT NULL DEFAULT '', last_line TEXT NOT NULL DEFAULT '',
      host_pid INTEGER NOT NULL DEFAULT 0, host_start INTEGER NOT NULL DEFAULT 0);
    INSERT INTO jobs (spec, status, exit_code) VALUES ('{"command":"make"}', 'exited', 0);
    PRAGMA user_version = 1;)sql");
  auto store = open();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->uuid(), "a-version-1-store");
  auto old = store->load("1");
  ASSERT_TRUE(old.ok() && old->has_value()) << (old.ok() ? "no row" : old.error());
  EXPECT_EQ((*old)->info.spec.command, "make");
  EXPECT_TRUE((*old)->info.slurm_job_id.empty());
  JobInfo info;
  info.spec.command = "true";
  info.slurm_job_id = "12";
  auto id = store->insert(info, HostId::self());
  ASSERT_TRUE(id.ok()) << id.error();
  EXPECT_EQ((*store->load(*id))->info.slurm_job_id, "12");
}

TEST_F(StoreTest, ASlurmJobOfADeadHostIsAdoptedNotLost) {
  auto store = open();
  ASSERT_TRUE(store);
  const HostId dead{unused_pid(), 12345};
  JobInfo info;
  info.spec.command = "sleep 100";
  info.spec.executor = ExecutorKind::slurm;
  info.status = JobStatus::running;
  info.slurm_job_id = "99";
  auto submitted = store->insert(info, dead);
  info.slurm_job_id.clear();  // not submitted yet when its host died: nothing to follow
  auto unsubmitted = store->insert(info, dead);
  ASSERT_TRUE(submitted.ok() && unsubmitted.ok());

  // A watchdog (no adopter) leaves it for the next lane.
  auto lost = store->reclaim_dead_hosts();
  ASSERT_TRUE(lost.ok()) << lost.error();
  ASSERT_EQ(lost->size(), 1u);
  EXPECT_EQ(lost->front().info.id, *unsubmitted);
  EXPECT_EQ((*store->load(*submitted))->info.status, JobStatus::running);

  const HostId me = HostId::self();
  std::vector<StoredJob> adopted;
  auto again = store->reclaim_dead_hosts(&me, &adopted);
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_TRUE(again->empty());
  ASSERT_EQ(adopted.size(), 1u);
  EXPECT_EQ(adopted[0].info.id, *submitted);
  EXPECT_EQ(adopted[0].info.slurm_job_id, "99");
  auto row = store->load(*submitted);
  EXPECT_EQ((*row)->host, me);
  EXPECT_EQ((*row)->info.status, JobStatus::running);
}

}  // namespace
}  // namespace meanwhile
