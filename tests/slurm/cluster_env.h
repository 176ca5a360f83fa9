// The single-node Slurm cluster every test of slurm_tests shares (tests/support/slurm_cluster.sh):
// started once, before the first test, and stopped after the last. SLURM_CONF points at it.
#pragma once

#include <memory>
#include <string>

#include "support/test_support.h"

namespace meanwhile {

struct Cluster {
  std::unique_ptr<test::TempDir> dir;  // the cluster lives in DIR/cluster
  std::string skip;                    // why there is none; "FAILED: ..." when it broke
  std::string partition;
};
Cluster& cluster();

// squeue lists nothing of `slurm_id` (a job or an array) that still runs or waits; false when
// squeue cannot answer.
bool nothing_live(const std::string& slurm_id);

// Set in the environment of a copy of slurm_tests that a test runs as a host to be killed:
// the data directory that host uses.
inline constexpr const char* kHostDirVariable = "MEANWHILE_TEST_HOST_DIR";

}  // namespace meanwhile

// In SetUp(): skips the test when the cluster cannot run here (not root, no Slurm), fails it
// when the cluster should have started and did not.
#define SKIP_OR_FAIL_WITHOUT_CLUSTER()                    \
  do {                                                    \
    const std::string& why = ::meanwhile::cluster().skip; \
    if (!why.empty()) {                                   \
      if (why.rfind("FAILED", 0) == 0) FAIL() << why;     \
      GTEST_SKIP() << why;                                \
    }                                                     \
  } while (false)
