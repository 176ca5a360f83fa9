// Resolves a path component by component, following symlinks by hand so that paths that do not
// exist yet (write_file's new files and directories) are checked as strictly as existing ones.
#include "tools/workspace_path.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>

namespace meanwhile {
namespace {

constexpr int kMaxSymlinks = 40;  // as the kernel's ELOOP limit

std::deque<std::string> split(const std::string& path) {
  std::deque<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

std::string parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

std::string child_of(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

bool inside(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  return path == root || (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
                          path[root.size()] == '/');
}

Result<std::string> read_link(const std::string& path) {
  std::string target(PATH_MAX, '\0');
  ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
  if (n < 0) return posix_error("cannot read symlink " + path, errno);
  target.resize(static_cast<std::size_t>(n));
  return target;
}

}  // namespace

Result<WorkspacePath> resolve_workspace_path(const std::string& workspace,
                                             const std::string& path) {
  if (path.empty()) return make_error("path is empty");
  if (path.find('\0') != std::string::npos) return make_error("path contains a NUL byte");
  std::unique_ptr<char, decltype(&free)> real_ws(::realpath(workspace.c_str(), nullptr), &free);
  if (!real_ws)
    return make_error("workspace " + workspace + " is not accessible: " + std::strerror(errno));
  const std::string root = real_ws.get();

  std::string current = path[0] == '/' ? "/" : root;
  std::deque<std::string> todo = split(path);
  bool missing = false;  // a component did not exist: the rest is applied lexically
  bool through_link = false;
  int links = 0;
  while (!todo.empty()) {
    std::string part = std::move(todo.front());
    todo.pop_front();
    if (part == ".") continue;
    if (part == "..") {
      current = parent_of(current);
      continue;
    }
    std::string next = child_of(current, part);
    if (missing) {
      current = next;
      continue;
    }
    struct stat st {};
    if (::lstat(next.c_str(), &st) != 0) {
      missing = true;  // ENOENT, ENOTDIR, EACCES: the tool's own open reports the exact error
      current = next;
      continue;
    }
    if (!S_ISLNK(st.st_mode)) {
      current = next;
      continue;
    }
    if (++links > kMaxSymlinks)
      return make_error("path " + path + ": too many levels of symbolic links");
    auto target = read_link(next);
    if (!target) return make_error(target.error());
    through_link = true;
    if (!target->empty() && (*target)[0] == '/') current.assign(1, '/');
    auto target_parts = split(*target);
    todo.insert(todo.begin(), target_parts.begin(), target_parts.end());
  }

  if (!inside(current, root)) {
    std::string message = "path " + path + " is outside the workspace " + root;
    if (through_link) message += " (a symlink leads to " + current + ")";
    return make_error(message);
  }
  WorkspacePath out;
  out.absolute = current;
  out.exists = !missing;
  out.root = root;
  out.relative = current == root ? "" : current.substr(root == "/" ? 1 : root.size() + 1);
  out.display = current == root ? "." : out.relative;
  return out;
}

}  // namespace meanwhile
