// A host process for restart_test: opens a lane on DATA_DIR (killing its jobs on SIGTERM,
// SIGINT and SIGHUP; without job cgroups if --no-cgroups is given, without the watchdog if
// --no-watchdog is), submits COMMAND, prints
// "<job id> <leader pid>" once it runs, then waits to be signalled.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string_view>
#include <thread>

#include "meanwhile/lane.h"

int main(int argc, char** argv) {
  bool no_cgroups = false, no_watchdog = false, flags_ok = argc >= 3;
  for (int i = 3; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--no-cgroups") {
      no_cgroups = true;
    } else if (flag == "--no-watchdog") {
      no_watchdog = true;
    } else {
      flags_ok = false;
    }
  }
  if (!flags_ok) {
    std::fprintf(stderr,
                 "usage: lane_host_helper DATA_DIR COMMAND [--no-cgroups] [--no-watchdog]\n");
    return 2;
  }
  meanwhile::LaneOptions options;
  options.workspace = "/";
  options.data_dir = argv[1];
  options.kill_grace = std::chrono::milliseconds(500);
  options.shutdown_signals = {SIGTERM, SIGINT, SIGHUP};
  options.use_cgroups = !no_cgroups;
  options.watchdog = !no_watchdog;
  auto lane = meanwhile::Lane::open(options);
  if (!lane.ok()) {
    std::fprintf(stderr, "%s\n", lane.error().c_str());
    return 1;
  }
  meanwhile::JobSpec spec;
  spec.command = argv[2];
  auto id = (*lane)->submit(spec);
  if (!id.ok()) {
    std::fprintf(stderr, "%s\n", id.error().c_str());
    return 1;
  }
  for (;;) {
    auto info = (*lane)->get(*id);
    if (info.ok() && info->status != meanwhile::JobStatus::queued) {
      std::printf("%s %d\n", id->c_str(), info->pid);
      std::fflush(stdout);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (;;) ::pause();  // until a signal ends this process
}
