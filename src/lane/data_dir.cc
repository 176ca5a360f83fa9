#include "lane/data_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "lane/unique_fd.h"

namespace meanwhile {
namespace {

Error path_error(const std::string& what, const std::string& path) {
  return posix_error(fmt::format("{} {}", what, path), errno);
}

// mkdir if missing, then the checks every directory of ours gets.
Status ensure_private_dir(const std::string& path, bool refuse_symlink) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return path_error("cannot create the data directory", path);
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return path_error("cannot inspect", path);
  if (S_ISLNK(st.st_mode)) {
    if (refuse_symlink) {
      return make_error(
          ErrorCode::permission_denied,
          fmt::format(
              "the data directory {} is a symbolic link (a repository may have shipped it): "
              "refusing to follow it; remove it, or choose a data directory explicitly",
              path));
    }
    if (::stat(path.c_str(), &st) != 0) return path_error("cannot inspect", path);
  }
  if (!S_ISDIR(st.st_mode)) {
    return make_error(ErrorCode::invalid_argument,
                      fmt::format("the data directory {} is not a directory", path));
  }
  if (st.st_uid != ::geteuid()) {
    return make_error(
        ErrorCode::permission_denied,
        fmt::format(
            "the data directory {} belongs to uid {}, not to you (uid {}): refusing to use it; "
            "remove it, or choose another data directory",
            path, st.st_uid, ::geteuid()));
  }
  if ((st.st_mode & 07777) != 0700 && ::chmod(path.c_str(), 0700) != 0) {
    return path_error("cannot make private", path);
  }
  return Ok{};
}

// Tightens a file of ours to 0600; a missing file is fine.
void make_private(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid() &&
      (st.st_mode & 077) != 0) {
    ::chmod(path.c_str(), 0600);
  }
}

}  // namespace

Status prepare_data_dir(const std::string& dir, bool refuse_symlink) {
  if (auto ok = ensure_private_dir(dir, refuse_symlink); !ok) return ok;
  const std::string logs = dir + "/logs";
  if (auto ok = ensure_private_dir(logs, true); !ok) return ok;

  const std::string gitignore = dir + "/.gitignore";
  UniqueFd ignore(
      ::open(gitignore.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (ignore) {
    static constexpr char kAll[] = "# meanwhile's data: jobs, logs, sessions\n*\n";
    [[maybe_unused]] ssize_t written = ::write(ignore.get(), kAll, sizeof kAll - 1);
  }

  const std::string db = dir + "/jobs.db";
  UniqueFd created(::open(db.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!created) return path_error("cannot create the job store", db);
  for (const char* suffix : {"", "-wal", "-shm"}) make_private(db + suffix);

  // Logs written before this version were 0644.
  std::unique_ptr<DIR, int (*)(DIR*)> listing(::opendir(logs.c_str()), ::closedir);
  if (listing) {
    while (dirent* entry = ::readdir(listing.get())) {
      if (entry->d_name[0] != '.') make_private(logs + "/" + entry->d_name);
    }
  }
  return Ok{};
}

}  // namespace meanwhile
