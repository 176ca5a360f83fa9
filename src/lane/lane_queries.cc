// Lane queries, on the caller's thread: snapshots under mu_, the store for rows of other (or
// earlier) hosts, /proc only for the descendants of jobs that may have some.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <unordered_map>

#include "lane/lane_impl.h"
#include "lane/output_reader.h"
#include "lane/proc.h"
#include "lane/watch_regex.h"

namespace meanwhile {

namespace {

// A job whose descendants get() must look up, outside the lock.
struct DescendantQuery {
  JobInfo* info;
  std::string mark;
  std::string cgroup_path;
  JobTrace trace;  // a copy: get() only reads the job
};

}  // namespace

JobPtr Lane::Impl::find(std::uint64_t key) const {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(key);
  return it == jobs_.end() ? nullptr : it->second;
}

JobInfo Lane::Impl::snapshot_locked(const Job& job) const {
  JobInfo info = job.info;
  info.bytes_logged = job.output.bytes_logged();
  info.bytes_dropped = job.output.bytes_dropped();
  info.lines = job.output.lines();
  if (!job.output_released) info.last_line = job.output.last_line();
  info.ours = true;
  info.tracking_incomplete = job.trace.incomplete;
  return info;
}

static void fill_descendants(std::vector<DescendantQuery>& queries, const std::string& prefix) {
  if (queries.empty()) return;
  std::unordered_map<std::string, std::vector<pid_t>> by_mark;
  bool scan = std::any_of(queries.begin(), queries.end(),
                          [](const DescendantQuery& q) { return q.cgroup_path.empty(); });
  std::optional<ProcessTree> tree;
  if (scan) {
    for (auto& found : proc::find_marked(prefix)) by_mark[found.mark].push_back(found.pid);
    tree = ProcessTree::scan(::getpid());
  }
  for (auto& q : queries) {
    std::vector<pid_t> pids =
        q.cgroup_path.empty() ? by_mark[q.mark] : CgroupTree::members(q.cgroup_path);
    if (q.cgroup_path.empty()) {
      const bool leader_alive = q.info->status == JobStatus::running;
      for (pid_t pid : tree->members(leader_alive ? q.info->pid : 0, q.trace)) pids.push_back(pid);
    }
    std::sort(pids.begin(), pids.end());
    pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
    std::erase(pids, q.info->pid);
    q.info->descendants.assign(pids.begin(), pids.end());
  }
}

// Running jobs, and finished ones whose output pipe is still held or whose cgroup is not empty.
static bool may_have_descendants(const Job& job) {
  return job.info.status == JobStatus::running || job.info.output_open ||
         !job.cgroup_path.empty() || !job.trace.empty();
}

Result<JobInfo> Lane::Impl::get(const JobId& id) const {
  auto key = parse_id(id);
  if (!key) return key.error_info();
  std::vector<DescendantQuery> queries;
  JobInfo info;
  {
    std::lock_guard lock(mu_);
    auto it = jobs_.find(*key);
    if (it != jobs_.end()) {
      info = snapshot_locked(*it->second);
      if (may_have_descendants(*it->second)) {
        queries.push_back({&info, it->second->mark, it->second->cgroup_path, it->second->trace});
      }
    }
  }
  if (info.id.empty()) {
    auto row = store_->load(id);
    if (!row) return with_prefix("cannot read job " + id + ": ", row.error_info());
    if (!*row) return make_error(ErrorCode::not_found, "unknown job id " + id);
    info = std::move((*row)->info);
    info.ours = false;
    return info;
  }
  fill_descendants(queries, mark_prefix_);
  return info;
}

std::vector<JobInfo> Lane::Impl::list(std::size_t limit) const {
  std::vector<JobInfo> result;
  auto rows = store_->load_recent(limit);
  std::vector<DescendantQuery> queries;
  {
    // The store's newest rows, with this host's jobs (some not written yet) taken from memory.
    std::map<std::uint64_t, JobInfo> merged;
    if (rows) {
      for (auto& row : *rows) {
        auto key = parse_id(row.info.id);
        if (!key) continue;
        row.info.ours = false;
        merged.emplace(*key, std::move(row.info));
      }
    }  // else the store failed: this host's jobs at least
    std::lock_guard lock(mu_);
    // This host's live jobs all, its finished ones newest first up to the limit.
    std::size_t finished_seen = 0;
    for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) {
      if (is_terminal(it->second->info.status)) {
        if (finished_seen >= limit) {
          merged.erase(it->first);  // memory beats a row not rewritten yet ("running")
          continue;
        }
        ++finished_seen;
      }
      merged.insert_or_assign(it->first, snapshot_locked(*it->second));
    }
    // Keep every live job; drop the oldest finished ones past the limit.
    std::size_t finished = 0;
    for (const auto& [key, info] : merged) finished += is_terminal(info.status) ? 1 : 0;
    for (auto it = merged.begin(); finished > limit && it != merged.end();) {
      if (is_terminal(it->second.status)) {
        it = merged.erase(it);
        --finished;
      } else {
        ++it;
      }
    }
    result.reserve(merged.size());
    for (auto& [key, info] : merged) result.push_back(std::move(info));
    for (auto& info : result) {
      if (!info.ours) continue;
      auto key = parse_id(info.id);
      auto it = key ? jobs_.find(*key) : jobs_.end();
      if (it != jobs_.end() && may_have_descendants(*it->second)) {
        queries.push_back({&info, it->second->mark, it->second->cgroup_path, it->second->trace});
      }
    }
  }
  fill_descendants(queries, mark_prefix_);
  return result;
}

Result<OutputChunk> Lane::Impl::read_output(const ReadRequest& request) {
  auto key = parse_id(request.id);
  if (!key) return key.error_info();
  std::string log_path;
  bool running = false;
  bool started = true;
  int shards = 0;
  if (JobPtr job = find(*key)) {
    std::lock_guard lock(mu_);
    log_path = job->info.log_path;
    running = job->info.status == JobStatus::running;
    started = job->info.status != JobStatus::queued;
    shards = job->info.spec.shards;
  } else {
    auto row = store_->load(request.id);
    if (!row) return with_prefix("cannot read job " + request.id + ": ", row.error_info());
    if (!*row) return make_error(ErrorCode::not_found, "unknown job id " + request.id);
    log_path = (*row)->info.log_path;
    running = (*row)->info.status == JobStatus::running && (*row)->host.alive();
    shards = (*row)->info.spec.shards;
  }
  std::string reader = request.reader;
  if (request.shard) {
    if (shards == 0)
      return make_error(ErrorCode::invalid_argument,
                        "job " + request.id + " has no shards: leave shard out", "shard");
    if (*request.shard < 0 || *request.shard >= shards)
      return make_error(ErrorCode::invalid_argument,
                        "job " + request.id + " has shards 0 to " + std::to_string(shards - 1) +
                            ", not " + std::to_string(*request.shard),
                        "shard");
    log_path = shard_log_path(log_path, *request.shard);
    reader += "#shard-" + std::to_string(*request.shard);  // a cursor per shard
  } else if (shards > 0) {
    return read_shards(*key, log_path, shards, request, running);
  }
  std::error_code ec;
  if (!started || !std::filesystem::exists(log_path, ec)) {
    if (!request.filter.empty()) {  // a bad filter is refused even before there is output
      auto compiled = WatchRegex::compile(request.filter, "filter");
      if (!compiled) return compiled.error_info();
    }
    OutputChunk empty;  // nothing printed yet (or the job never started)
    empty.job_running = running;
    empty.log_path = log_path;
    return empty;
  }
  const auto cursor_key = std::make_pair(*key, reader);
  std::uint64_t cursor = 0;
  {
    std::lock_guard lock(cursors_mu_);
    if (auto it = cursors_.find(cursor_key); it != cursors_.end()) cursor = it->second;
  }
  auto chunk = read_log(log_path, request, &cursor, running);
  if (chunk) {
    std::lock_guard lock(cursors_mu_);
    cursors_[cursor_key] = cursor;
  }
  return chunk;
}

Result<JobInfo> Lane::Impl::wait_started(const JobId& id, std::chrono::milliseconds timeout) {
  auto key = parse_id(id);
  if (!key) return key.error_info();
  JobPtr job = find(*key);
  if (!job) return get(id);  // another process's job: nothing here would wake us
  const auto deadline = SteadyClock::now() + timeout;
  std::unique_lock lock(mu_);
  status_cv_.wait_until(lock, deadline, [&] {
    return closed_ || job->info.status != JobStatus::queued || !job->info.slurm_job_id.empty();
  });
  return snapshot_locked(*job);
}

Result<std::optional<JobInfo>> Lane::Impl::wait_terminal(const std::vector<JobId>& ids,
                                                         std::chrono::milliseconds timeout) {
  if (ids.empty())
    return make_error(ErrorCode::invalid_argument, "wait_terminal: no job ids given");
  // Ours are followed in memory; others must already be terminal (nothing would wake us).
  std::vector<std::pair<JobPtr, std::optional<JobInfo>>> targets;
  for (const JobId& id : ids) {
    auto key = parse_id(id);
    if (!key) return key.error_info();
    if (JobPtr job = find(*key)) {
      targets.emplace_back(job, std::nullopt);
      continue;
    }
    auto row = store_->load(id);
    if (!row) return with_prefix("cannot read job " + id + ": ", row.error_info());
    if (!*row) return make_error(ErrorCode::not_found, "unknown job id " + id);
    if (!is_terminal((*row)->info.status) && (*row)->host.alive()) {
      return make_error(ErrorCode::failed_precondition,
                        "job " + id + " belongs to another meanwhile process and is still " +
                            to_string((*row)->info.status) + "; this process cannot wait for it");
    }
    JobInfo info = std::move((*row)->info);
    info.ours = false;
    targets.emplace_back(nullptr, std::move(info));
  }
  const auto deadline = SteadyClock::now() + timeout;
  std::unique_lock lock(mu_);
  for (;;) {
    for (auto& [job, stored] : targets) {
      if (!job) return stored;  // an earlier row: terminal (or lost) already
      if (is_terminal(job->info.status)) return std::optional<JobInfo>(snapshot_locked(*job));
    }
    if (closed_) return std::optional<JobInfo>();
    if (status_cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      for (auto& [job, stored] : targets) {
        if (job && is_terminal(job->info.status)) {
          return std::optional<JobInfo>(snapshot_locked(*job));
        }
      }
      return std::optional<JobInfo>();
    }
  }
}

void Lane::Impl::set_observer(std::function<void(const JobInfo&)> observer) {
  std::lock_guard lock(observer_mu_);
  observer_ = std::move(observer);
}

std::size_t Lane::Impl::running_count() const {
  std::lock_guard lock(mu_);
  return running_;
}

// Every shard in turn, each under "--- shard N ---" (shards with nothing to show are left out),
// with its own cursor (the one a read of that shard alone moves) and an equal part of
// max_bytes.
Result<OutputChunk> Lane::Impl::read_shards(std::uint64_t key, const std::string& log_path,
                                            int shards, const ReadRequest& request, bool running) {
  if (!request.filter.empty()) {
    auto compiled = WatchRegex::compile(request.filter, "filter");
    if (!compiled) return compiled.error_info();
  }
  OutputChunk all;
  all.job_running = running;
  all.log_path = shard_log_path(log_path, 0);
  if (auto at = all.log_path.rfind("shard-0"); at != std::string::npos)
    all.log_path.replace(at, 7, "shard-*");
  ReadRequest part = request;
  part.max_bytes =
      std::max<std::size_t>(1000, request.max_bytes / static_cast<std::size_t>(shards));
  for (int shard = 0; shard < shards; ++shard) {
    const std::string path = shard_log_path(log_path, shard);
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) continue;  // no output (yet)
    const auto cursor_key = std::make_pair(key, request.reader + "#shard-" + std::to_string(shard));
    std::uint64_t cursor = 0;
    {
      std::lock_guard lock(cursors_mu_);
      if (auto it = cursors_.find(cursor_key); it != cursors_.end()) cursor = it->second;
    }
    auto chunk = read_log(path, part, &cursor, running);
    if (!chunk) return with_prefix("shard " + std::to_string(shard) + ": ", chunk.error_info());
    {
      std::lock_guard lock(cursors_mu_);
      cursors_[cursor_key] = cursor;
    }
    if (chunk->text.empty()) continue;
    all.text += "--- shard " + std::to_string(shard) + " ---\n" + chunk->text;
    if (all.text.back() != '\n') all.text += '\n';
    all.from_offset += chunk->from_offset;
    all.to_offset += chunk->to_offset;
    all.lines_omitted += chunk->lines_omitted;
    all.bytes_omitted += chunk->bytes_omitted;
  }
  return all;
}

}  // namespace meanwhile
