// The MCP server: the lane's background tools for any MCP client, over stdio.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "meanwhile/lane.h"

namespace meanwhile::mcp {

struct ServerOptions {
  std::string workspace = ".";  // jobs' default cwd; the store lives in WORKSPACE/.meanwhile
  std::string data_dir;         // overrides the store's location when set
  // SIGTERM -> SIGKILL grace for the jobs still running when the server ends: short, so that
  // the server is gone within 2 s of its client closing stdin.
  std::chrono::milliseconds kill_grace{1000};
  std::size_t max_concurrent_requests = 16;  // blocking requests (tools/call, tasks/result)
  // Job events kept for background_wait; past this the oldest successes are dropped (and
  // counted in its result), so a client that never waits does not grow the server forever.
  std::size_t max_events = 1000;
  // Where jobs run when a background_run names no executor (--executor, MEANWHILE_EXECUTOR).
  ExecutorKind default_executor = ExecutorKind::local;
  // --all-structured: structuredContent for every tool (SessionOptions::all_structured).
  bool all_structured = false;
  // The protocol's streams; anything else written to the process's stdout is sent to stderr.
  int input_fd = 0;
  int output_fd = 1;
};

// Serves newline-delimited JSON-RPC 2.0 on stdin/stdout until the client closes stdin or a
// SIGTERM/SIGINT/SIGHUP arrives; kills the server's jobs before returning. Logs go to stderr.
// Returns the process exit code.
int serve_stdio(const ServerOptions& options);

}  // namespace meanwhile::mcp
