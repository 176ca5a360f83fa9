// Path confinement for the file tools: every path a tool touches resolves inside the workspace.
#pragma once

#include <string>

#include "meanwhile/result.h"

namespace meanwhile {

struct WorkspacePath {
  std::string absolute;  // symlinks resolved; inside the workspace
  std::string display;   // relative to the workspace when possible, for messages
  std::string root;      // the workspace, symlinks resolved
  std::string relative;  // `absolute` below `root`, no symlinks, "." or ".."; "" for the root
  bool exists = false;   // the resolved path exists now
};

// Resolves `path` (relative to `workspace`, or absolute) the way the kernel would: every
// existing component's symlinks are followed, also dangling ones and those in the parents of a
// file that does not exist yet; "." and ".." are applied to the resolved prefix. Refuses a
// result outside the workspace: "path X is outside the workspace W" (naming the symlink target
// when one leads out). `workspace` must exist; it is resolved too. The file tools then open
// `relative` beneath a handle on `root` (open_beneath.h), so a symlink that appears after this
// check is refused rather than followed.
Result<WorkspacePath> resolve_workspace_path(const std::string& workspace, const std::string& path);

}  // namespace meanwhile
