// Lane: the public API (never throws: every call catches at this boundary) and the calls that
// change jobs (submit, kill, write_input). Opening and closing are in lane_open.cc, queries in
// lane_queries.cc, the lane thread in lane_loop.cc, lane_io.cc and lane_kill.cc.
#include <asio/post.hpp>
#include <cctype>
#include <charconv>
#include <cstring>
#include <filesystem>

#include "lane/lane_impl.h"

namespace meanwhile {
namespace fs = std::filesystem;

namespace {

Error invalid_field(const char* field, std::string message) {
  return make_error(ErrorCode::invalid_argument, std::move(message), field);
}

bool all_of_chars(const std::string& text, const char* allowed_extra) {
  for (unsigned char c : text)
    if (!std::isalnum(c) && std::strchr(allowed_extra, c) == nullptr) return false;
  return true;
}

// The fields only a Slurm job has, checked before anything is recorded.
Status check_executor_fields(const JobSpec& spec) {
  if (spec.executor != ExecutorKind::slurm) {
    for (auto [field, set] :
         {std::pair{"partition", !spec.partition.empty()}, std::pair{"cpus", spec.cpus != 0},
          std::pair{"memory", !spec.memory.empty()}, std::pair{"shards", spec.shards != 0}}) {
      if (set)
        return invalid_field(
            field, std::string(field) + " applies to Slurm jobs only: add executor \"slurm\"");
    }
    return Ok{};
  }
  if (spec.stdin_mode == StdinMode::pipe)
    return invalid_field("stdin", "a Slurm job has no stdin pipe: leave stdin \"null\"");
  if (spec.partition.size() > 200 || !all_of_chars(spec.partition, "_.-"))
    return invalid_field("partition",
                         "invalid partition \"" + spec.partition.substr(0, 200) +
                             "\": a Slurm partition name is letters, digits, '_', '.' and '-'");
  if (spec.cpus < 0 || spec.cpus > 4096)
    return invalid_field("cpus", "invalid cpus " + std::to_string(spec.cpus) +
                                     ": between 1 and 4096 per task (0: the cluster's default)");
  if (spec.shards < 0 || spec.shards > kMaxShards)
    return invalid_field("shards", "invalid shards " + std::to_string(spec.shards) +
                                       ": between 1 and " + std::to_string(kMaxShards));
  if (!spec.memory.empty()) {
    std::string digits = spec.memory;
    if (std::strchr("KMGT", digits.back()) != nullptr) digits.pop_back();
    if (digits.empty() || digits.size() > 12 ||
        digits.find_first_not_of("0123456789") != std::string::npos)
      return invalid_field("memory", "invalid memory \"" + spec.memory.substr(0, 40) +
                                         "\": MiB (\"4096\") or a number with K, M, G or T "
                                         "(\"4G\")");
  }
  return Ok{};
}

constexpr std::uint64_t kMaxStdinQueued = 64ull << 20;

std::string describe_end(const JobInfo& info) {
  std::string text = to_string(info.status);
  if (info.exit_code) text += " with code " + std::to_string(*info.exit_code);
  if (info.term_signal) text += " by signal " + std::to_string(*info.term_signal);
  return text;
}

}  // namespace

// ---------------------------------------------------------------- submit, kill, write_input

Result<std::uint64_t> Lane::Impl::parse_id(const JobId& id) const {
  std::uint64_t key = 0;
  auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), key);
  if (id.empty() || ec != std::errc() || end != id.data() + id.size()) {
    return make_error(ErrorCode::not_found,
                      "unknown job id '" + id + "': job ids are numbers such as \"12\"");
  }
  return key;
}

Status Lane::Impl::check_after(const JobSpec& spec, std::string* skip_reason) const {
  for (const JobId& dep : spec.after) {
    auto key = parse_id(dep);
    if (!key) return with_field("after", with_prefix("in after: ", key.error_info()));
    if (find(*key)) continue;  // one of ours: the lane thread follows it
    auto row = store_->load(dep);
    if (!row) return with_prefix("in after: cannot read job " + dep + ": ", row.error_info());
    if (!*row) return make_error(ErrorCode::not_found, "in after: unknown job id " + dep, "after");
    const JobInfo& info = (*row)->info;
    if (is_terminal(info.status)) {
      if (!info.succeeded() && skip_reason->empty()) {
        *skip_reason = "job " + dep + " did not succeed (" + describe_end(info) + ")";
      }
    } else if ((*row)->host.alive()) {
      return make_error(ErrorCode::failed_precondition,
                        "in after: job " + dep + " belongs to another meanwhile process (pid " +
                            std::to_string((*row)->host.pid) + ") and is still " +
                            to_string(info.status) +
                            "; a job can only run after jobs of its own host",
                        "after");
    } else if (skip_reason->empty()) {
      *skip_reason = "job " + dep + " was lost (the process that ran it died)";
    }
  }
  return Ok{};
}

Result<JobId> Lane::Impl::submit(JobSpec spec) {
  if (spec.command.find_first_not_of(" \t\r\n") == std::string::npos) {
    return make_error(ErrorCode::invalid_argument, "empty command: give the shell command to run",
                      "command");
  }
  if (spec.command.find('\0') != std::string::npos) {
    return make_error(ErrorCode::invalid_argument, "the command contains a NUL byte", "command");
  }
  std::error_code ec;
  fs::path cwd = spec.cwd.empty() ? fs::path(options_.workspace) : fs::path(spec.cwd);
  if (cwd.is_relative()) cwd = fs::path(options_.workspace) / cwd;
  cwd = cwd.lexically_normal();
  const fs::file_status cwd_status = fs::status(cwd, ec);  // one stat for both checks
  if (!fs::exists(cwd_status)) {
    return make_error(ErrorCode::not_found, "the working directory does not exist: " + cwd.string(),
                      "cwd");
  }
  if (!fs::is_directory(cwd_status)) {
    return make_error(ErrorCode::invalid_argument,
                      "the working directory is not a directory: " + cwd.string(), "cwd");
  }
  spec.cwd = cwd.string();
  if (spec.cwd.size() > 1 && spec.cwd.back() == '/') spec.cwd.pop_back();
  if (spec.timeout && spec.timeout->count() <= 0) {
    return make_error(ErrorCode::invalid_argument,
                      "invalid timeout of " + std::to_string(spec.timeout->count()) +
                          " ms: a timeout must be positive (leave it unset for none)",
                      "timeout");
  }
  if (spec.timeout && *spec.timeout > kMaxJobTimeout) {
    // now() + a huge duration overflows the clock: the job would be killed at once.
    return make_error(ErrorCode::invalid_argument,
                      "invalid timeout of " + std::to_string(spec.timeout->count()) +
                          " ms: at most 366 days (leave it unset for none)",
                      "timeout");
  }
  std::shared_ptr<const WatchRegex> watch;
  if (!spec.watch.empty()) {
    auto compiled = WatchRegex::compile(spec.watch);
    if (!compiled) return with_field("watch", compiled.error_info());
    watch = std::move(*compiled);
  }
  if (auto st = JobEnvironment::check(spec.env); !st) return with_field("env", st.error_info());
  std::string skip_reason;
  if (auto st = check_after(spec, &skip_reason); !st) return st.error_info();
  if (!spec.log_cap_bytes) spec.log_cap_bytes = options_.log_cap_bytes;
  if (!spec.executor) spec.executor = options_.default_executor;
  if (auto st = check_executor_fields(spec); !st) return st.error_info();

  JobInfo info;
  info.spec = std::move(spec);
  info.status = JobStatus::queued;
  info.submitted_at = WallClock::now();
  info.ours = true;
  auto key = next_job_id();
  if (!key) return with_prefix("cannot record the job in the store: ", key.error_info());
  info.id = std::to_string(*key);
  info.log_path = options_.data_dir + "/logs/" + info.id + ".log";
  const JobId id = info.id;

  const std::uint64_t log_cap = *info.spec.log_cap_bytes;
  auto job = std::make_shared<Job>(*key, std::move(info), log_cap, options_.tail_bytes);
  job->watch = std::move(watch);
  job->mark = mark_prefix_ + id;
  job->skip_reason = std::move(skip_reason);
  {
    std::lock_guard lock(mu_);
    if (closed_) return make_error(ErrorCode::closed, "the lane is shutting down: no new jobs");
    jobs_.emplace(*key, job);
  }
  asio::post(io_, [this, job] { on_submitted(job); });
  return id;
}

// Ids come in blocks reserved in the store (one transaction per block, not per job). Blocks
// grow from 4 to kMaxIdBlock as a host submits more, so a host that runs a few jobs leaves a
// small gap in the numbering when it ends and one that runs thousands reserves rarely.
Result<std::uint64_t> Lane::Impl::next_job_id() {
  constexpr std::int64_t kMaxIdBlock = 256;
  std::lock_guard lock(ids_mu_);
  if (next_id_ == end_id_) {
    auto first = store_->reserve_ids(id_block_);
    if (!first) return first.error_info();
    next_id_ = static_cast<std::uint64_t>(*first);
    end_id_ = next_id_ + static_cast<std::uint64_t>(id_block_);
    id_block_ = std::min(id_block_ * 2, kMaxIdBlock);
  }
  return next_id_++;
}

Status Lane::Impl::kill(const JobId& id) {
  auto key = parse_id(id);
  if (!key) return key.error_info();
  JobPtr job = find(*key);
  if (!job) {
    auto row = store_->load(id);
    if (!row) return with_prefix("cannot read job " + id + ": ", row.error_info());
    if (!*row) return make_error(ErrorCode::not_found, "unknown job id " + id);
    return make_error(ErrorCode::failed_precondition,
                      "job " + id +
                          " belongs to another meanwhile process (or an earlier one) "
                          "and is " +
                          to_string((*row)->info.status) +
                          "; only the process that runs a job can kill it");
  }
  asio::post(io_, [this, job] { kill_job(job, EndReason::killed, ""); });
  return Ok{};
}

Status Lane::Impl::write_input(const JobId& id, std::string_view data, bool close) {
  auto key = parse_id(id);
  if (!key) return key.error_info();
  JobPtr job = find(*key);
  if (!job) {
    auto row = store_->load(id);
    if (row && !*row) return make_error(ErrorCode::not_found, "unknown job id " + id);
    return make_error(ErrorCode::failed_precondition,
                      "job " + id +
                          " belongs to another meanwhile process (or an earlier one); "
                          "only the process that runs a job can write to its stdin");
  }
  {
    std::lock_guard lock(mu_);
    const JobInfo& info = job->info;
    if (info.spec.stdin_mode != StdinMode::pipe) {
      return make_error(ErrorCode::failed_precondition,
                        "job " + id +
                            " was started with stdin null (it reads EOF); submit it "
                            "with stdin pipe to write to it");
    }
    if (is_terminal(info.status)) {
      return make_error(
          ErrorCode::failed_precondition,
          "job " + id + " has finished (" + describe_end(info) + "); its stdin is closed");
    }
    if (job->stdin_closed) {
      return make_error(ErrorCode::failed_precondition,
                        "the stdin of job " + id + " is already closed");
    }
    if (job->stdin_queued + data.size() > kMaxStdinQueued) {
      return make_error(ErrorCode::busy, "job " + id +
                                             " is not reading its stdin: over 64 MiB are waiting; "
                                             "try again later");
    }
    job->stdin_queued += data.size();
    if (close) job->stdin_closed = true;
  }
  asio::post(io_, [this, job, bytes = std::string(data), close]() mutable {
    if (job->stdin_pending.empty()) {
      job->stdin_pending = std::move(bytes);
      job->stdin_offset = 0;
    } else {
      job->stdin_pending += bytes;
    }
    if (close) job->stdin_close_requested = true;
    if (job->live) pump_input(job);
  });
  return Ok{};
}

// ---------------------------------------------------------------- public API boundary

namespace {

template <typename T, typename Fn>
Result<T> guarded(Fn&& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return make_error(std::string("internal error: ") + e.what());
  } catch (...) {
    return make_error("internal error");
  }
}

}  // namespace

Lane::Lane(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Lane::~Lane() = default;

Result<std::unique_ptr<Lane>> Lane::open(LaneOptions options) {
  return guarded<std::unique_ptr<Lane>>([&]() -> Result<std::unique_ptr<Lane>> {
    auto impl = Impl::open(std::move(options));
    if (!impl) return impl.error_info();
    return std::unique_ptr<Lane>(new Lane(std::move(*impl)));
  });
}

Result<JobId> Lane::submit(JobSpec spec) {
  return guarded<JobId>([&] { return impl_->submit(std::move(spec)); });
}

Result<JobInfo> Lane::get(const JobId& id) const {
  return guarded<JobInfo>([&] { return impl_->get(id); });
}

std::vector<JobInfo> Lane::list(std::size_t limit) const {
  try {
    return impl_->list(limit);
  } catch (...) {
    return {};
  }
}

Result<OutputChunk> Lane::read_output(const ReadRequest& request) {
  return guarded<OutputChunk>([&] { return impl_->read_output(request); });
}

Status Lane::kill(const JobId& id) {
  return guarded<Ok>([&] { return impl_->kill(id); });
}

Status Lane::write_input(const JobId& id, std::string_view data, bool close) {
  return guarded<Ok>([&] { return impl_->write_input(id, data, close); });
}

std::vector<Note> Lane::drain() {
  try {
    return impl_->drain();
  } catch (...) {
    return {};
  }
}

std::vector<Note> Lane::wait(std::chrono::milliseconds timeout, const std::vector<JobId>& ids) {
  try {
    return impl_->wait(timeout, ids);
  } catch (...) {
    return {};
  }
}

Result<std::optional<JobInfo>> Lane::wait_terminal(const std::vector<JobId>& ids,
                                                   std::chrono::milliseconds timeout) {
  return guarded<std::optional<JobInfo>>([&] { return impl_->wait_terminal(ids, timeout); });
}

Result<JobInfo> Lane::wait_started(const JobId& id, std::chrono::milliseconds timeout) {
  return guarded<JobInfo>([&] { return impl_->wait_started(id, timeout); });
}

std::size_t Lane::pending_notes() const {
  return impl_->pending_notes();
}
std::uint64_t Lane::dropped_notes() const {
  return impl_->dropped_notes();
}
int Lane::notify_fd() const {
  return impl_->notify_fd();
}

void Lane::set_observer(std::function<void(const JobInfo&)> observer) {
  impl_->set_observer(std::move(observer));
}

std::size_t Lane::running_count() const {
  return impl_->running_count();
}
const LaneOptions& Lane::options() const {
  return impl_->options();
}

}  // namespace meanwhile
