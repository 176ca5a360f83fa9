// Opening files beneath a directory handle without following any symlink, so that a path checked
// by resolve_workspace_path cannot be redirected outside the workspace between the check and the
// open (a directory swapped for a symlink, e.g. with renameat2(RENAME_EXCHANGE)).
#pragma once

#include <sys/types.h>

#include <string>

#include "lane/unique_fd.h"

namespace meanwhile {

// Every function here follows the syscall convention: on failure the returned UniqueFd is
// empty and errno says why. ELOOP or EXDEV means a component was (or became) a symlink or led
// outside `root_fd`; ENOENT, ENOTDIR, EACCES, ... mean what they always mean.
//
// `relative` names a path beneath `root_fd`: components separated by '/', none empty, "." or
// ".." (resolve_workspace_path's WorkspacePath::relative has that form; "" is the root itself).
// Anything else fails with EINVAL.

// Opens `relative` with open(2) `flags` (O_NOFOLLOW and O_CLOEXEC are always added) and `mode`.
// Uses openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) where the kernel
// has it, and otherwise open_beneath_walk.
UniqueFd open_beneath(int root_fd, const std::string& relative, int flags, mode_t mode = 0);

// The fallback, exposed for tests: opens each directory component with
// O_PATH | O_DIRECTORY | O_NOFOLLOW relative to the one before, then the last one with `flags`.
UniqueFd open_beneath_walk(int root_fd, const std::string& relative, int flags, mode_t mode = 0);

// Opens the directory that holds `relative`'s last component (O_PATH | O_DIRECTORY), walking as
// open_beneath_walk does; with `create_missing`, missing directories are made (mode 0777 less
// the umask) on the way, each through the handle of its parent. `last` gets the last component
// ("" for the root itself, which has no parent beneath root_fd: EINVAL).
UniqueFd open_parent_beneath(int root_fd, const std::string& relative, bool create_missing,
                             std::string& last);

// An error text for errno values from the functions above, naming the swap when it is one.
std::string beneath_error_text(int err);

}  // namespace meanwhile
