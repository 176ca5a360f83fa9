#include "cluster_env.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>
#include <sstream>

#include "lane/run_program.h"
#include "lane/slurm_tools.h"

namespace meanwhile {

using namespace std::chrono_literals;
using test::TempDir;

bool nothing_live(const std::string& slurm_id) {
  auto tasks = SlurmTools().query({slurm_id});
  if (!tasks) return false;
  for (const SlurmTask& task : *tasks)
    if (!slurm_state_final(task.state) || task.tasks_pending) return false;
  return true;
}

// The cluster, for every test; `skip` says why there is none.
Cluster& cluster() {
  static Cluster instance;
  return instance;
}

namespace {

class ClusterEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    Cluster& c = cluster();
    // A host process a test started (kHostDirVariable set): the parent's cluster, SLURM_CONF
    // inherited; this process neither starts nor stops one.
    if (::getenv(kHostDirVariable) != nullptr) return;
    c.dir = std::make_unique<TempDir>("meanwhile-slurm");
    // mkdtemp made it 0700; munged runs as the munge user and must reach the cluster in it.
    ::chmod(c.dir->path().c_str(), 0755);
    // Finished jobs are purged 5 s after they end: the forgotten-job test waits for that.
    ::setenv("SLURM_FIXTURE_MIN_JOB_AGE", "5", 1);
    auto out = run_program({SLURM_CLUSTER_SCRIPT, "start", c.dir->file("cluster")}, {}, 120s);
    if (!out) {
      c.skip = out.error();
    } else if (out->exit_code == 2) {
      c.skip = out->err;
    } else if (out->exit_code != 0) {
      c.skip = "FAILED: " + out->err;  // not a skip: the tests fail with it
    }
    std::istringstream lines(out ? out->out : "");
    for (std::string line; std::getline(lines, line);) {
      auto eq = line.find('=');
      if (eq == std::string::npos) continue;
      const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
      if (key == "SLURM_CONF") ::setenv("SLURM_CONF", value.c_str(), 1);
      if (key == "SLURM_FIXTURE_PARTITION") c.partition = value;
    }
    if (!c.skip.empty() && c.skip.rfind("FAILED", 0) != 0)
      std::printf("slurm_tests: every test skipped: %s\n", c.skip.c_str());
  }
  void TearDown() override {
    Cluster& c = cluster();
    if (c.dir) (void)run_program({SLURM_CLUSTER_SCRIPT, "stop", c.dir->file("cluster")}, {}, 60s);
    c.dir.reset();
  }
};
const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new ClusterEnvironment);
}  // namespace

}  // namespace meanwhile
