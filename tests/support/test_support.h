// Shared by the tests (tests/*) and the fuzz targets: a temporary directory, whole-file reads and
// writes, and polling with timeouts that scale under the sanitizers. Plain C++: no GoogleTest.
#pragma once

#include <chrono>
#include <functional>
#include <string>

namespace meanwhile::test {

// A fresh directory TMPDIR/PREFIX-XXXXXX (std::filesystem::temp_directory_path()), made with
// mkdtemp(3) and removed recursively, with everything in it, when the TempDir is destroyed.
// Its path is canonical (symlinks resolved), so it compares equal to realpath()s of files in it.
class TempDir {
 public:
  // Throws std::runtime_error (with strerror(errno)) when the directory cannot be created.
  explicit TempDir(const std::string& prefix = "meanwhile-test");
  ~TempDir();  // removes the tree, ignoring errors
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name: nothing is created.
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  std::string operator/(const std::string& name) const { return file(name); }

 private:
  std::string path_;
};

// The whole file, or what could be read of it: empty when it cannot be opened, the bytes read so
// far when a read fails. With read(2), not iostreams: libstdc++'s filebuf throws when a read
// fails, as reads of /proc/PID/... do once the process is gone (ESRCH).
std::string read_file(const std::string& path);

// Creates or truncates `path` (mode 0666 less the umask) and writes `text` to it. False, with
// errno set, when it cannot be opened or not all of `text` was written.
bool write_file(const std::string& path, const std::string& text);

// Sanitizers make everything several times slower: scale generous timeouts with this. 4 in an
// ASan or TSan build (g++ or clang++), else 1.
int slowdown();

// Polls `pred` every 10 ms until it returns true or `timeout` * slowdown() has passed; the
// result of its last call (so true when the condition held in time).
bool eventually(const std::function<bool()>& pred,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

}  // namespace meanwhile::test
