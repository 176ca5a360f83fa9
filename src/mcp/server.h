// The MCP server: the lane's background tools for any MCP client, over stdio.
#pragma once

#include <string>

namespace meanwhile::mcp {

struct ServerOptions {
  std::string workspace = ".";  // jobs' default cwd; the store lives in WORKSPACE/.meanwhile
  std::string data_dir;         // overrides the store's location when set
};

// Serves newline-delimited JSON-RPC 2.0 on stdin/stdout until the client closes stdin or a
// SIGTERM/SIGINT/SIGHUP arrives; kills the server's jobs before returning. Logs go to stderr.
// Returns the process exit code.
int serve_stdio(const ServerOptions& options);

}  // namespace meanwhile::mcp
