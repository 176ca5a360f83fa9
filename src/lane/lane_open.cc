// Opening the lane (data directory, store, reclaiming dead hosts' jobs, the lane thread) and
// closing it (every job killed and recorded before the destructor returns).
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>

#include <asio/post.hpp>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string_view>

#include "lane/data_dir.h"
#include "lane/lane_impl.h"

namespace meanwhile {
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kReadBufferBytes = 128 * 1024;  // read and write stay cache-hot

// Hosts with a thousand jobs need a few thousand fds (output pipe, pidfd, log per job): raise
// the soft limit to the hard one, once per process; jobs get the original limit back.
std::optional<rlimit> raise_fd_limit() {
  static std::once_flag once;
  static std::optional<rlimit> original;
  std::call_once(once, [] {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
    rlimit raised = limit;
    raised.rlim_cur = std::min<rlim_t>(limit.rlim_max, 1 << 20);
    if (raised.rlim_cur > limit.rlim_cur && ::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      original = limit;
    }
  });
  return original;
}

}  // namespace

namespace {
std::atomic<int> g_open_lanes{0};
}  // namespace

int open_lane_count() {
  return g_open_lanes.load();
}

Lane::Impl::Impl(LaneOptions options)
    : options_(std::move(options)),
      notes_(options_.max_pending_notes),
      io_(1),
      sigchld_(io_),
      shutdown_signals_(io_),
      shutdown_timer_(io_),
      inotify_(io_),
      orphan_timer_(io_) {
  ++g_open_lanes;
}

Result<std::unique_ptr<Lane::Impl>> Lane::Impl::open(LaneOptions options) {
  std::error_code ec;
  fs::path workspace = fs::absolute(options.workspace.empty() ? "." : options.workspace, ec);
  if (ec || !fs::is_directory(workspace, ec)) {
    return make_error(ErrorCode::invalid_argument,
                      "the workspace is not a directory: " + options.workspace, "workspace");
  }
  workspace = workspace.lexically_normal();
  fs::path data_dir =
      options.data_dir.empty() ? workspace / ".meanwhile" : fs::absolute(options.data_dir, ec);
  data_dir = data_dir.lexically_normal();
  // The parents of an explicit data directory are created as usual; the directory itself and
  // its contents are private (data_dir.h).
  if (!options.data_dir.empty()) fs::create_directories(data_dir.parent_path(), ec);
  if (auto ok = prepare_data_dir(data_dir.string(), options.data_dir.empty()); !ok) {
    return ok.error_info();
  }
  if (options.kill_grace.count() < 0 || options.stall_after.count() <= 0 ||
      options.watch_fold.count() < 0) {
    return make_error(ErrorCode::invalid_argument,
                      "invalid lane options: kill_grace and watch_fold must not be negative, "
                      "stall_after must be positive");
  }
  options.workspace = workspace.string();
  options.data_dir = data_dir.string();
  if (options.workspace.size() > 1 && options.workspace.back() == '/') {
    options.workspace.pop_back();
  }
  if (options.data_dir.size() > 1 && options.data_dir.back() == '/') options.data_dir.pop_back();

  const std::string db_path = options.data_dir + "/jobs.db";
  auto store = Store::open(db_path);
  if (!store) return store.error_info();

  std::unique_ptr<Impl> impl(new Impl(std::move(options)));
  impl->store_ = std::move(*store);
  impl->mark_prefix_ = impl->store_->uuid() + ":";
  impl->host_ = HostId::self();
  impl->rows_ =
      std::make_unique<RowWriter>(impl->io_, *impl->store_, impl->host_,
                                  [raw = impl.get()](const std::vector<std::uint64_t>& keys) {
                                    std::vector<JobInfo> infos;
                                    infos.reserve(keys.size());
                                    std::lock_guard lock(raw->mu_);
                                    for (std::uint64_t key : keys)
                                      infos.push_back(raw->snapshot_locked(*raw->jobs_.at(key)));
                                    return infos;
                                  });
  impl->env_ = JobEnvironment::from_host();
  impl->devnull_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (impl->devnull_.get() >= 0 && impl->devnull_.get() < 3) {  // a host without stdio
    impl->devnull_.reset(::fcntl(impl->devnull_.get(), F_DUPFD_CLOEXEC, 3));
  }
  if (!impl->devnull_) return posix_error("cannot open /dev/null", errno);
  // Orphans of jobs (`cmd &`, double forks) come back to this process, to be reaped and killed.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  impl->child_nofile_ = raise_fd_limit();
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY) {
    const rlim_t reserve = std::min<rlim_t>(nofile.rlim_cur / 4, 256);  // the host's own fds
    impl->fd_budget_ = static_cast<std::size_t>(nofile.rlim_cur - reserve);
  } else {
    impl->fd_budget_ = std::size_t{1} << 20;
  }
  impl->read_buffer_.resize(kReadBufferBytes);
  // MEANWHILE_SPAWN=vfork: the portable path, for tests and diagnosis (docs/DESIGN.md).
  const char* spawn_mode = std::getenv("MEANWHILE_SPAWN");
  impl->async_spawn_ = async_spawn_supported() &&
                       !(spawn_mode != nullptr && std::string_view(spawn_mode) == "vfork");

  // Rows left queued/running by dead hosts become `lost`; their processes are ended below.
  // Slurm jobs of dead hosts run on: this host follows them again (lane_remote.cc).
  std::vector<std::string> lost_marks;
  std::vector<StoredJob> adopted;
  if (auto reclaimed = impl->store_->reclaim_dead_hosts(&impl->host_, &adopted)) {
    for (const auto& row : *reclaimed) lost_marks.push_back(impl->mark_prefix_ + row.info.id);
  }
  impl->adopt_remote(std::move(adopted));
  if (impl->options_.use_cgroups) {
    impl->cgroups_ = CgroupTree::create();
    if (impl->cgroups_) impl->cgroups_->reclaim_dead_hosts();
  }

  asio::error_code sig_ec;
  impl->sigchld_.add(SIGCHLD, sig_ec);
  // Asio installs its handler without SA_RESTART: add it, so that a job's exit never makes a
  // blocking call on another thread of the host fail with EINTR.
  struct sigaction action {};
  if (::sigaction(SIGCHLD, nullptr, &action) == 0) {
    action.sa_flags |= SA_RESTART | SA_NOCLDSTOP;
    ::sigaction(SIGCHLD, &action, nullptr);
  }
  for (int sig : impl->options_.shutdown_signals) {
    impl->shutdown_signals_.add(sig, sig_ec);
    if (sig_ec)
      return make_error("cannot handle signal " + std::to_string(sig) + ": " + sig_ec.message());
    if (::sigaction(sig, nullptr, &action) == 0) {
      action.sa_flags |= SA_RESTART;
      ::sigaction(sig, &action, nullptr);
    }
  }

  Impl* self = impl.get();
  asio::post(self->io_, [self, marks = std::move(lost_marks)]() mutable {
    ChildReaper::instance().reap_children();  // children that ended before the handler
    self->watch_children();
    self->watch_shutdown_signals();
    if (!marks.empty()) self->sweep_marks(std::move(marks), SIGTERM);
  });
  impl->thread_ = std::thread([self] { self->run_loop(); });
  return impl;
}

void Lane::Impl::run_loop() {
  // Writing to the stdin of a job that stopped reading must fail with EPIPE, not kill the host.
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe_set, nullptr);
  auto work = asio::make_work_guard(io_);
  for (;;) {
    try {
      io_.run();
      return;
    } catch (const std::exception& e) {
      std::cerr << "meanwhile lane: unexpected error (the lane keeps running): " << e.what()
                << '\n';
    }
  }
}

Lane::Impl::~Impl() {
  --g_open_lanes;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  status_cv_.notify_all();
  if (thread_.joinable()) {
    std::mutex done_mu;
    std::condition_variable done_cv;
    bool done = false;
    asio::post(io_, [&, this] {
      closing_ = true;
      if (rows_) rows_->stop_retrying();  // the lane will not run long enough to retry
      begin_shutdown([&] {
        std::lock_guard lock(done_mu);
        done = true;
        done_cv.notify_all();
      });
    });
    {
      std::unique_lock lock(done_mu);
      done_cv.wait_for(lock, shutdown_budget() + std::chrono::seconds(1), [&] { return done; });
    }
    io_.stop();
    thread_.join();
    slurm_.reset();  // stops following its jobs (killed above, or left to Slurm)
    // Whatever did not end in time is the watchdog's to kill (watchdog.h).
    if (watchdog_) watchdog_->close(/*kill_leftovers=*/!done);
  }
  // Leaders that did not exit in time (their death signal fires as the lane thread ends).
  std::vector<JobPtr> stragglers;
  {
    std::lock_guard lock(mu_);
    for (auto& [key, job] : jobs_) {
      if (is_terminal(job->info.status)) continue;
      job->info.error = job->info.status == JobStatus::queued
                            ? "the host shut down before the job started"
                            : "the host shut down and the job did not exit in time";
      job->info.status = JobStatus::killed;
      job->info.ended_at = WallClock::now();
      stragglers.push_back(job);
    }
  }
  if (rows_) {
    rows_->stop_retrying();
    for (const JobPtr& job : stragglers) rows_->changed(job->key);
    (void)rows_->flush();  // the loop has stopped: the last chance to write these rows
  }
  notes_.close();
  ChildReaper::instance().forget_owner(this);
}

}  // namespace meanwhile
