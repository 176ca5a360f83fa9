// openat2 where the kernel has it (Linux 5.6+), and a component-by-component walk elsewhere:
// both refuse every symlink on the way, so the path opened is the path that was checked.
#include "tools/open_beneath.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

namespace meanwhile {
namespace {

// Set once openat2 turned out to be missing (ENOSYS: an old kernel; E2BIG: an older struct).
std::atomic<bool> g_no_openat2{false};

bool split_relative(const std::string& relative, std::vector<std::string>& parts) {
  if (relative.empty()) return true;
  if (relative.find('\0') != std::string::npos) return false;
  std::size_t start = 0;
  while (true) {
    std::size_t slash = relative.find('/', start);
    std::string part =
        relative.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    parts.push_back(std::move(part));
    if (slash == std::string::npos) return true;
    start = slash + 1;
  }
}

// openat(2) of a single component without following it; a symlink where a directory was
// expected gives ELOOP (O_DIRECTORY alone would say ENOTDIR).
UniqueFd open_component(int dir_fd, const std::string& name, int flags, mode_t mode) {
  UniqueFd fd(::openat(dir_fd, name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd && (errno == ENOTDIR || errno == ELOOP)) {
    int err = errno;
    struct stat st {};
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
      err = ELOOP;
    errno = err;
  }
  return fd;
}

// Opens parts[0 .. count) as directories beneath root_fd, making missing ones with `create`.
// Returns an empty fd with errno set on failure; with count 0, a handle on the root itself.
UniqueFd walk_directories(int root_fd, const std::vector<std::string>& parts, std::size_t count,
                          bool create) {
  UniqueFd current(::openat(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  for (std::size_t i = 0; current && i < count; ++i) {
    UniqueFd next = open_component(current.get(), parts[i], O_PATH | O_DIRECTORY, 0);
    if (!next && errno == ENOENT && create) {
      if (::mkdirat(current.get(), parts[i].c_str(), 0777) != 0 && errno != EEXIST) return {};
      next = open_component(current.get(), parts[i], O_PATH | O_DIRECTORY, 0);
    }
    if (!next) return {};
    current = std::move(next);
  }
  return current;
}

}  // namespace

UniqueFd open_beneath_walk(int root_fd, const std::string& relative, int flags, mode_t mode) {
  std::vector<std::string> parts;
  if (!split_relative(relative, parts)) {
    errno = EINVAL;
    return {};
  }
  if (parts.empty()) return UniqueFd(::openat(root_fd, ".", flags | O_CLOEXEC, mode));
  UniqueFd parent = walk_directories(root_fd, parts, parts.size() - 1, false);
  if (!parent) return {};
  return open_component(parent.get(), parts.back(), flags, mode);
}

UniqueFd open_beneath(int root_fd, const std::string& relative, int flags, mode_t mode) {
  std::vector<std::string> parts;
  if (!split_relative(relative, parts)) {
    errno = EINVAL;
    return {};
  }
  if (!g_no_openat2.load(std::memory_order_relaxed)) {
    struct open_how how {};
    how.flags = static_cast<std::uint64_t>(flags | O_NOFOLLOW | O_CLOEXEC);
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    const char* path = relative.empty() ? "." : relative.c_str();
    long fd = ::syscall(SYS_openat2, root_fd, path, &how, sizeof how);
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    if (errno != ENOSYS && errno != E2BIG) return {};
    g_no_openat2.store(true, std::memory_order_relaxed);
  }
  return open_beneath_walk(root_fd, relative, flags, mode);
}

UniqueFd open_parent_beneath(int root_fd, const std::string& relative, bool create_missing,
                             std::string& last) {
  std::vector<std::string> parts;
  if (!split_relative(relative, parts) || parts.empty()) {
    errno = EINVAL;
    return {};
  }
  last = parts.back();
  return walk_directories(root_fd, parts, parts.size() - 1, create_missing);
}

std::string beneath_error_text(int err) {
  if (err == ELOOP || err == EXDEV)
    return "the path changed while it was being opened (a symlink took the place of a checked "
           "component); refused";
  return std::strerror(err);
}

}  // namespace meanwhile
