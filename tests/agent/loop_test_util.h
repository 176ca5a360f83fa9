// Helpers for the loop's tests: a provider that replays canned replies and records requests,
// a temporary workspace with a real lane.
#pragma once

#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "meanwhile/lane.h"
#include "meanwhile/llm.h"
#include "meanwhile/tools.h"
#include "support/test_support.h"

namespace meanwhile::agent::testing {

using nlohmann::json;

using meanwhile::test::TempDir;  // the temporary workspace (tests/support)

class FakeProvider : public llm::Provider {
 public:
  std::vector<Result<llm::Response>> replies;
  std::vector<llm::Request> requests;
  std::function<void()> before_reply;  // runs inside send(), e.g. to set the cancel flag

  Result<llm::Response> send(const llm::Request& request, const llm::StreamHandler& handler,
                             const std::atomic<bool>* cancel) override {
    requests.push_back(request);
    if (before_reply) before_reply();
    if (cancel && cancel->load()) return make_error("interrupted");
    if (next_ >= replies.size()) return make_error("no more replies");
    auto reply = replies[next_++];
    if (reply && handler.on_text) {
      for (const json& b : reply->content) {
        if (b.value("type", "") == "text") handler.on_text(b.value("text", ""));
      }
    }
    return reply;
  }
  std::string name() const override { return "fake"; }

 private:
  std::size_t next_ = 0;
};

inline llm::Response reply(json content) {
  llm::Response r;
  r.content = std::move(content);
  r.stop_reason = "end_turn";
  for (const json& b : r.content) {
    if (b["type"] == "tool_use") r.stop_reason = "tool_use";
  }
  return r;
}

inline json text(const std::string& t) {
  return {{"type", "text"}, {"text", t}};
}

inline json tool_use(const std::string& id, const std::string& name, json input) {
  return {{"type", "tool_use"}, {"id", id}, {"name", name}, {"input", std::move(input)}};
}

// Waits (bounded) until the lane has a note queued.
inline bool wait_for_pending_note(Lane& lane,
                                  std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (lane.pending_notes() == 0) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

inline std::unique_ptr<Lane> open_lane(const std::string& dir) {
  LaneOptions options;
  options.workspace = dir;
  options.data_dir = dir + "/.meanwhile";
  auto lane = Lane::open(options);
  EXPECT_TRUE(lane.ok()) << (lane.ok() ? "" : lane.error());
  return lane.ok() ? std::move(*lane) : nullptr;
}

}  // namespace meanwhile::agent::testing
