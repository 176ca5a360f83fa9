#include "cli/stream_json.h"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>

#include "agent/conversation.h"
#include "tools/format.h"

namespace meanwhile::cli {
using nlohmann::json;

std::string iso_timestamp(WallClock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

void JsonLines::emit(json event, WallClock::time_point t) {
  event["timestamp"] = iso_timestamp(t);
  std::string line = event.dump(-1, ' ', false, json::error_handler_t::replace);
  std::lock_guard lock(mu_);
  std::fputs(line.c_str(), out_);
  std::fputc('\n', out_);
  std::fflush(out_);
}

agent::LoopEvents json_loop_events(JsonLines& out) {
  agent::LoopEvents events;
  events.on_assistant = [&out](const json& message) {
    out.emit({{"type", "assistant"}, {"text", agent::message_text(message)}, {"message", message}});
  };
  events.on_tool_use = [&out](const json& use) {
    out.emit({{"type", "tool_use"},
              {"id", use.value("id", "")},
              {"name", use.value("name", "")},
              {"input", use.contains("input") ? use["input"] : json::object()}});
  };
  events.on_tool_result = [&out](const json& use, const ToolResult& result) {
    out.emit({{"type", "tool_result"},
              {"tool_use_id", use.value("id", "")},
              {"name", use.value("name", "")},
              {"is_error", result.is_error},
              {"text", result.text}});
  };
  events.on_background_results = [&out](const std::vector<Note>& notes, const std::string& block) {
    json list = json::array();
    for (const Note& note : notes) {
      json item = {{"kind", to_string(note.kind)},
                   {"task_id", note.job},
                   {"status", to_string(note.info.status)}};
      if (note.info.exit_code) item["exit_code"] = *note.info.exit_code;
      list.push_back(std::move(item));
    }
    out.emit({{"type", "background_results"}, {"notes", std::move(list)}, {"text", block}});
  };
  events.on_retry = [&out](int attempt, const std::string& why, std::chrono::milliseconds wait) {
    out.emit({{"type", "retry"}, {"attempt", attempt}, {"reason", why}, {"wait_ms", wait.count()}});
  };
  return events;
}

JobEvents::JobEvents() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
    read_end_.reset(fds[0]);
    write_end_.reset(fds[1]);
  }
}

std::function<void(const JobInfo&)> JobEvents::observer() {
  return [this](const JobInfo& job) {
    {
      std::lock_guard lock(mu_);
      queued_.push_back({WallClock::now(), job});
    }
    char byte = 1;
    [[maybe_unused]] ssize_t n = ::write(write_end_.get(), &byte, 1);  // full pipe: already poked
  };
}

void JobEvents::flush(JsonLines& out) {
  std::vector<Event> events;
  {
    std::lock_guard lock(mu_);
    events.swap(queued_);
    char buf[256];
    while (::read(read_end_.get(), buf, sizeof buf) > 0) {
    }
  }
  for (const Event& e : events) {
    auto [it, inserted] = last_status_.try_emplace(e.job.id, e.job.status);
    if (!inserted && it->second == e.job.status) continue;
    it->second = e.job.status;
    out.emit({{"type", "job"},
              {"task_id", e.job.id},
              {"status", to_string(e.job.status)},
              {"job", job_to_json(e.job)}},
             e.at);
  }
}

}  // namespace meanwhile::cli
