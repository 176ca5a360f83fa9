// The free functions of lane.h.
#include <chrono>

#include "meanwhile/lane.h"

namespace meanwhile {

const char* to_string(JobStatus status) {
  switch (status) {
    case JobStatus::queued:
      return "queued";
    case JobStatus::running:
      return "running";
    case JobStatus::exited:
      return "exited";
    case JobStatus::killed:
      return "killed";
    case JobStatus::timed_out:
      return "timed_out";
    case JobStatus::skipped:
      return "skipped";
    case JobStatus::failed_to_start:
      return "failed_to_start";
    case JobStatus::lost:
      return "lost";
  }
  return "unknown";
}

bool is_terminal(JobStatus status) {
  return status != JobStatus::queued && status != JobStatus::running;
}

const char* to_string(ExecutorKind kind) {
  return kind == ExecutorKind::slurm ? "slurm" : "local";
}

std::optional<ExecutorKind> parse_executor(std::string_view name) {
  if (name == "local") return ExecutorKind::local;
  if (name == "slurm") return ExecutorKind::slurm;
  return std::nullopt;
}

const char* to_string(NoteKind kind) {
  switch (kind) {
    case NoteKind::finished:
      return "finished";
    case NoteKind::matched:
      return "matched";
    case NoteKind::stalled:
      return "stalled";
  }
  return "unknown";
}

double JobInfo::elapsed_seconds() const {
  WallClock::time_point from = started_at.value_or(submitted_at);
  WallClock::time_point to = ended_at.value_or(WallClock::now());
  if (to < from) return 0.0;
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace meanwhile
