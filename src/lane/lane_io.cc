// The lane thread: a job's output pipe (log, tail, watch), its stdin pipe, the stall timer.
//
// Asio registers fds edge-triggered, so a read loop always runs until EAGAIN before it waits
// again. One buffer serves every job (reads are synchronous on this thread); a job that prints
// without pause yields to the others every kReadBudget bytes. A job that prints heavily (say
// 4 KiB writes at 1 GB/s) would wake the lane for every write: while wakeups come faster than
// kBusyWakeups, the next read waits kCoalesce on a timer instead (the enlarged pipe holds that
// much), and as soon as a read finds the pipe empty the lane waits for the fd again.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <asio/post.hpp>
#include <cerrno>
#include <cstdio>

#include "lane/lane_impl.h"
#include "lane/text.h"

namespace meanwhile {

namespace {

constexpr std::size_t kReadBudget = 4 << 20;            // bytes per turn before yielding
constexpr std::uint64_t kEnlargePipeAfter = 256 << 10;  // a job that prints a lot
constexpr int kLargePipe = 1 << 20;
constexpr std::size_t kMatchedLineBytes = 1000;
constexpr auto kCoalesce = std::chrono::milliseconds(1);
constexpr auto kBusyWakeups = std::chrono::milliseconds(2);
constexpr std::uint64_t kCoalesceAfter = 1 << 20;  // bytes printed before reads coalesce

}  // namespace

void Lane::Impl::schedule_read(const JobPtr& job) {
  LiveJob& live = *job->live;
  if (live.read_scheduled || live.output_eof) return;
  live.read_scheduled = true;
  live.output.async_wait(asio::posix::stream_descriptor::wait_read,
                         [this, job](const asio::error_code& ec) {
                           if (!job->live) return;
                           job->live->read_scheduled = false;
                           if (!ec) read_output(job, kReadBudget);
                         });
}

void Lane::Impl::read_output(const JobPtr& job, std::size_t budget) {
  const int fd = job->live->output.native_handle();
  std::size_t done = 0;
  for (;;) {
    if (done >= budget) {  // more to read: come back after the other handlers
      job->live->read_scheduled = true;
      asio::post(io_, [this, job] {
        if (!job->live || job->live->output_eof) return;
        job->live->read_scheduled = false;
        read_output(job, kReadBudget);
      });
      return;
    }
    ssize_t n = ::read(fd, read_buffer_.data(), read_buffer_.size());
    if (n > 0) {
      consume(job, std::string_view(read_buffer_.data(), static_cast<std::size_t>(n)));
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      LiveJob& live = *job->live;
      const auto now = SteadyClock::now();
      const bool busy = done > 0 && now - live.last_read_wake < kBusyWakeups &&
                        job->output.bytes_seen() > kCoalesceAfter;
      live.last_read_wake = now;
      if (!busy) {
        schedule_read(job);
        return;
      }
      live.read_scheduled = true;
      live.coalesce.expires_after(kCoalesce);
      live.coalesce.async_wait([this, job](const asio::error_code& ec) {
        if (!job->live) return;
        job->live->read_scheduled = false;
        if (!ec && !job->live->output_eof) read_output(job, kReadBudget);
      });
      return;
    }
    on_output_eof(job);  // EOF (or a read error: nothing more will come)
    return;
  }
}

// The leader exited: take what is in the pipe now (not what a descendant keeps printing).
void Lane::Impl::drain_output_now(const JobPtr& job) {
  LiveJob& live = *job->live;
  if (live.output_eof) return;
  const int fd = live.output.native_handle();
  int available = 0;
  if (::ioctl(fd, FIONREAD, &available) < 0) return;
  std::size_t left = static_cast<std::size_t>(available);
  while (left > 0) {
    ssize_t n = ::read(fd, read_buffer_.data(), std::min(left, read_buffer_.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EAGAIN; EOF is left to the pending read
    consume(job, std::string_view(read_buffer_.data(), static_cast<std::size_t>(n)));
    left -= std::min(left, static_cast<std::size_t>(n));
  }
}

void Lane::Impl::consume(const JobPtr& job, std::string_view chunk) {
  LiveJob& live = *job->live;
  const std::size_t written = job->output.write_log(chunk);  // on disk before anything else
  if (written < chunk.size()) {
    std::string log_error = job->output.take_log_error();
    if (!log_error.empty()) {
      {
        std::lock_guard lock(mu_);
        job->info.error = log_error + "; later output is counted as dropped";
      }
      std::fprintf(stderr, "meanwhile: task %s: %s; later output is counted as dropped\n",
                   job->info.id.c_str(), log_error.c_str());
    }
  }
  observe_output(job, chunk, written, live.lines);
  if (!live.pipe_enlarged && job->output.bytes_seen() > kEnlargePipeAfter) {
    live.pipe_enlarged = true;  // fewer wakeups for a job that prints a lot; may be refused
    ::fcntl(live.output.native_handle(), F_SETPIPE_SZ, kLargePipe);
  }
}

void Lane::Impl::on_output_eof(const JobPtr& job) {
  LiveJob& live = *job->live;
  if (live.output_eof) return;
  live.output_eof = true;
  if (job->watch) live.lines.finish([&](std::string_view line) { match_line(job, line); });
  asio::error_code ignored;
  live.output.close(ignored);
  {
    std::lock_guard lock(mu_);
    job->info.output_open = false;
  }
  if (live.leader_reaped) {
    flush_matches(job);
    mark_dirty(job);  // byte counts grew after the finished note
  }
  check_done(job);
}

void Lane::Impl::match_line(const JobPtr& job, std::string_view line) {
  LiveJob& live = *job->live;
  // Most lines need no cleaning: matched as they are, and copied only when they match.
  const bool plain = text::is_clean(line);
  std::string cleaned = plain ? std::string() : text::clean(line);
  if (!job->watch->search(plain ? line : std::string_view(cleaned))) return;
  if (plain) cleaned.assign(line);
  if (live.fold_lines.size() < NoteQueue::kMaxLines) {
    if (cleaned.size() > kMatchedLineBytes) {
      cleaned = text::cut_middle(cleaned, kMatchedLineBytes, "").text;
    }
    live.fold_lines.push_back(std::move(cleaned));
  } else {
    ++live.fold_extra;
  }
  if (live.fold_armed) return;
  live.fold_armed = true;
  live.fold.expires_after(options_.watch_fold);
  live.fold.async_wait([this, job](const asio::error_code& ec) {
    if (ec || !job->live) return;
    flush_matches(job);
  });
}

// Lines matched within one watch_fold window become one `matched` note.
void Lane::Impl::flush_matches(const JobPtr& job) {
  LiveJob& live = *job->live;
  if (live.fold_armed) {
    live.fold_armed = false;
    live.fold.cancel();
  }
  if (live.fold_lines.empty()) return;
  std::vector<std::string> lines;
  lines.swap(live.fold_lines);
  if (live.fold_extra > 0) {
    lines.back() = "[... " + std::to_string(live.fold_extra + 1) + " more matching lines]";
    live.fold_extra = 0;
  }
  push_note(job, NoteKind::matched, 1, std::move(lines), {});
}

void Lane::Impl::arm_stall(const JobPtr& job, SteadyClock::time_point at) {
  LiveJob& live = *job->live;
  live.stall.expires_at(at);
  live.stall.async_wait([this, job](const asio::error_code& ec) {
    if (ec || !job->live) return;
    on_stall_timer(job);
  });
}

// The timer is not moved on every read: when it fires it checks when output last came.
void Lane::Impl::on_stall_timer(const JobPtr& job) {
  LiveJob& live = *job->live;
  if (live.leader_reaped || live.stalled) return;
  const auto due = live.last_output + options_.stall_after;
  if (due > SteadyClock::now()) {
    arm_stall(job, due);
    return;
  }
  live.stalled = true;
  {
    std::lock_guard lock(mu_);
    job->info.stalled = true;
  }
  push_note(job, NoteKind::stalled, 1, {}, {});
}

void Lane::Impl::pump_input(const JobPtr& job) {
  LiveJob& live = *job->live;
  if (!live.input.is_open()) {
    std::string().swap(job->stdin_pending);
    job->stdin_offset = 0;
    return;
  }
  std::string& pending = job->stdin_pending;
  while (job->stdin_offset < pending.size()) {
    ssize_t n = ::write(live.input.native_handle(), pending.data() + job->stdin_offset,
                        pending.size() - job->stdin_offset);
    if (n > 0) {
      job->stdin_offset += static_cast<std::size_t>(n);
      std::lock_guard lock(mu_);
      job->stdin_queued -=
          std::min<std::uint64_t>(job->stdin_queued, static_cast<std::uint64_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (job->stdin_offset > (1 << 16) && job->stdin_offset > pending.size() / 2) {
        pending.erase(0, job->stdin_offset);
        job->stdin_offset = 0;
      }
      if (!live.input_waiting) {
        live.input_waiting = true;
        live.input.async_wait(asio::posix::stream_descriptor::wait_write,
                              [this, job](const asio::error_code& ec) {
                                if (!job->live) return;
                                job->live->input_waiting = false;
                                if (!ec) pump_input(job);
                              });
      }
      return;
    }
    // EPIPE: the job closed its stdin. What is left cannot be delivered.
    close_input(job);
    return;
  }
  std::string().swap(pending);
  job->stdin_offset = 0;
  if (job->stdin_close_requested) close_input(job);
}

void Lane::Impl::close_input(const JobPtr& job) {
  LiveJob& live = *job->live;
  asio::error_code ignored;
  live.input.close(ignored);
  std::string().swap(job->stdin_pending);
  job->stdin_offset = 0;
  std::lock_guard lock(mu_);
  job->stdin_closed = true;
  job->stdin_queued = 0;
}

}  // namespace meanwhile
