// open_beneath and its fallback walk refuse every symlink and every escape, and the file tools
// built on them never land outside the workspace while a directory is swapped for a symlink.
#include "tools/open_beneath.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tools_fixture.h"

namespace meanwhile::testing {
namespace {

namespace fs = std::filesystem;
using OpenFn = UniqueFd (*)(int, const std::string&, int, mode_t);

class OpenBeneathTest : public ::testing::TestWithParam<OpenFn> {
 protected:
  void SetUp() override {
    fs::create_directories(base_ + "/root/dir");
    fs::create_directories(base_ + "/outside");
    std::ofstream(base_ + "/root/dir/file.txt") << "inside";
    std::ofstream(base_ + "/outside/file.txt") << "outside";
    root_ = UniqueFd(::open((base_ + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_);
  }
  UniqueFd open(const std::string& relative, int flags, mode_t mode = 0) {
    return GetParam()(root_.get(), relative, flags, mode);
  }
  std::string contents(const UniqueFd& fd) {
    char buffer[64];
    ssize_t n = ::pread(fd.get(), buffer, sizeof buffer, 0);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : "";
  }

  test::TempDir tmp_{"mw-beneath"};
  std::string base_ = tmp_.path();
  UniqueFd root_;
};

TEST_P(OpenBeneathTest, OpensPlainPathsAndCreatesFiles) {
  UniqueFd fd = open("dir/file.txt", O_RDONLY);
  ASSERT_TRUE(fd) << std::strerror(errno);
  EXPECT_EQ(contents(fd), "inside");
  fd = open("dir/new.txt", O_WRONLY | O_CREAT | O_EXCL, 0600);
  ASSERT_TRUE(fd) << std::strerror(errno);
  EXPECT_TRUE(fs::exists(base_ + "/root/dir/new.txt"));
  fd = open("", O_RDONLY | O_DIRECTORY);
  EXPECT_TRUE(fd) << "the root itself";
}

TEST_P(OpenBeneathTest, RefusesEverySymlinkEvenOneThatStaysInside) {
  fs::create_directory_symlink(base_ + "/outside", base_ + "/root/out");
  fs::create_directory_symlink("dir", base_ + "/root/alias");
  fs::create_symlink(base_ + "/outside/file.txt", base_ + "/root/dir/filelink");
  fs::create_symlink(base_ + "/outside/fresh.txt", base_ + "/root/dir/dangling");
  for (const char* path : {"out/file.txt", "alias/file.txt", "dir/filelink"}) {
    SCOPED_TRACE(path);
    errno = 0;
    EXPECT_FALSE(open(path, O_RDONLY));
    EXPECT_EQ(errno, ELOOP);
  }
  errno = 0;
  EXPECT_FALSE(open("dir/dangling", O_WRONLY | O_CREAT, 0600));
  EXPECT_EQ(errno, ELOOP);
  EXPECT_FALSE(fs::exists(base_ + "/outside/fresh.txt"));
  EXPECT_FALSE(open("out/new.txt", O_WRONLY | O_CREAT, 0600));
  EXPECT_FALSE(fs::exists(base_ + "/outside/new.txt"));
}

TEST_P(OpenBeneathTest, RefusesPathsThatAreNotPlainRelativeOnes) {
  for (const char* path : {"../outside/file.txt", "dir/../dir/file.txt", "/etc/passwd", "dir//x",
                           "./dir/file.txt", "dir/"}) {
    SCOPED_TRACE(path);
    errno = 0;
    EXPECT_FALSE(open(path, O_RDONLY));
    EXPECT_EQ(errno, EINVAL);
  }
}

INSTANTIATE_TEST_SUITE_P(Both, OpenBeneathTest,
                         ::testing::Values(&open_beneath, &open_beneath_walk),
                         [](const auto& info) {
                           return info.param == &open_beneath ? std::string("Openat2")
                                                              : std::string("Walk");
                         });

TEST(OpenParentBeneath, CreatesMissingDirectoriesButNotThroughASymlink) {
  const test::TempDir dir("mw-parent");
  const std::string& tmpl = dir.path();
  fs::create_directories(tmpl + "/outside");
  fs::create_directories(tmpl + "/root");
  fs::create_directory_symlink(tmpl + "/outside", tmpl + "/root/out");
  UniqueFd root(::open((tmpl + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  std::string last;
  UniqueFd parent = open_parent_beneath(root.get(), "a/b/c.txt", true, last);
  ASSERT_TRUE(parent) << std::strerror(errno);
  EXPECT_EQ(last, "c.txt");
  EXPECT_TRUE(fs::is_directory(tmpl + "/root/a/b"));
  EXPECT_FALSE(open_parent_beneath(root.get(), "x/y.txt", false, last));
  EXPECT_EQ(errno, ENOENT);
  EXPECT_FALSE(open_parent_beneath(root.get(), "out/sub/y.txt", true, last));
  EXPECT_EQ(errno, ELOOP);
  EXPECT_FALSE(fs::exists(tmpl + "/outside/sub"));
}

// The race of issue 9 item 10: the path is checked while `d` is a directory of the workspace,
// and a thread keeps exchanging `d` with `s`, a symlink to a directory outside it.
class FileToolsRaceTest : public ToolsTest {};

TEST_F(FileToolsRaceTest, ASymlinkSwappedInDuringTheCallIsNeverFollowed) {
  const std::string outside = root_ + "/outside";
  fs::create_directories(outside);
  fs::create_directories(path("d"));
  std::ofstream(outside + "/secret.txt") << "SECRET-OUTSIDE\n";
  std::ofstream(path("d/secret.txt")) << "inside\n";
  fs::create_directory_symlink(outside, path("s"));

  std::atomic<bool> stop{false};
  std::atomic<long> swaps{0};
  std::thread swapper([&] {
    UniqueFd ws(::open(workspace_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    while (!stop.load()) {
      if (::renameat2(ws.get(), "d", ws.get(), "s", RENAME_EXCHANGE) == 0) ++swaps;
    }
  });
  int written = 0, read_inside = 0;
  std::string leaked;
  for (int i = 0; i < 3000; ++i) {
    auto w = call("write_file", {{"path", "d/f.txt"}, {"content", "x"}});
    if (!w.is_error) ++written;
    auto r = call("read_file", {{"path", "d/secret.txt"}});
    if (r.text.find("SECRET-OUTSIDE") != std::string::npos) leaked = r.text;
    if (!r.is_error) ++read_inside;
    call("edit_file", {{"path", "d/secret.txt"}, {"old_text", "SECRET"}, {"new_text", "PWNED"}});
    if (!leaked.empty() || fs::exists(outside + "/f.txt")) break;
  }
  stop = true;
  swapper.join();
  EXPECT_EQ(leaked, "") << "read_file returned a file outside the workspace";
  EXPECT_FALSE(fs::exists(outside + "/f.txt")) << "a write landed outside the workspace";
  std::ifstream in(outside + "/secret.txt");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "SECRET-OUTSIDE");
  // The race was real: the directory moved under the calls, and calls still got through.
  EXPECT_GT(swaps.load(), 1000);
  EXPECT_GT(written, 0);
  EXPECT_GT(read_inside, 0);
}

}  // namespace
}  // namespace meanwhile::testing
