// --output-format stream-json: one JSON object per line on stdout, each with "type" and
// "timestamp" (ISO-8601 UTC, milliseconds). Event types:
//   system (subtype init)  the session: model, provider, workspace, tools, transcript
//   assistant              a complete assistant turn: text and the message itself
//   tool_use, tool_result  each tool call and its result
//   background_results     notes injected into the user turn about to be sent
//   job                    a background job changed status (queued, running, exited, ...)
//   retry                  the provider will retry a failed request
//   waiting                the model ended its turn with jobs running; waiting for the next note
//   result                 the last line: is_error, num_turns, duration_ms, the final text
#pragma once

#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/loop.h"
#include "lane/unique_fd.h"
#include "meanwhile/lane.h"

namespace meanwhile::cli {

std::string iso_timestamp(WallClock::time_point t);

// Writes events as lines; every line is flushed at once.
class JsonLines {
 public:
  explicit JsonLines(FILE* out) : out_(out) {}
  void emit(nlohmann::json event, WallClock::time_point t = WallClock::now());

 private:
  FILE* out_;
  std::mutex mu_;
};

agent::LoopEvents json_loop_events(JsonLines& out);

// Job status changes, handed from the lane thread (the observer) to the main thread, which
// writes them: the observer only queues and pokes a pipe, it never writes stdout.
class JobEvents {
 public:
  JobEvents();
  std::function<void(const JobInfo&)> observer();
  int fd() const { return read_end_.get(); }  // readable while events are queued
  // Emits the queued events whose status differs from the last one emitted for that job.
  void flush(JsonLines& out);

 private:
  struct Event {
    WallClock::time_point at;
    JobInfo job;
  };
  std::mutex mu_;
  std::vector<Event> queued_;
  std::map<JobId, JobStatus> last_status_;  // main thread only
  UniqueFd read_end_, write_end_;
};

}  // namespace meanwhile::cli
