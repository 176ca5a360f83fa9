// read_file, write_file, edit_file, and confinement to the workspace.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tools_fixture.h"

namespace meanwhile::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class FileToolsTest : public ToolsTest {};

TEST_F(FileToolsTest, ReadNumbersLines) {
  write("a.txt", "alpha\nbeta\r\ngamma");
  auto result = call("read_file", {{"path", "a.txt"}});
  ASSERT_FALSE(result.is_error) << result.text;
  EXPECT_EQ(result.text, "     1\talpha\n     2\tbeta\n     3\tgamma\n");
  EXPECT_EQ(result.structured["total_lines"], 3);
  EXPECT_EQ(result.structured["truncated"], false);
  // Absolute paths inside the workspace work too.
  EXPECT_FALSE(call("read_file", {{"path", path("a.txt")}}).is_error);
}

TEST_F(FileToolsTest, ReadOffsetAndLimit) {
  std::string content;
  for (int i = 1; i <= 10; ++i) content += "line " + std::to_string(i) + "\n";
  write("ten.txt", content);
  auto result = call("read_file", {{"path", "ten.txt"}, {"offset", 4}, {"limit", 2}});
  ASSERT_FALSE(result.is_error) << result.text;
  EXPECT_EQ(result.text,
            "     4\tline 4\n     5\tline 5\n[showing lines 4-5 of 10; continue with offset=6]\n");
  EXPECT_EQ(result.structured["next_offset"], 6);
  result = call("read_file", {{"path", "ten.txt"}, {"offset", 11}});
  EXPECT_TRUE(result.is_error);
  EXPECT_EQ(result.text, "offset 11 is past the end of ten.txt, which has 10 lines");
}

TEST_F(FileToolsTest, ReadCutsLongLinesAndRefusesBinary) {
  write("long.txt", std::string(5000, 'x') + "\nshort\n");
  auto result = call("read_file", {{"path", "long.txt"}});
  ASSERT_FALSE(result.is_error);
  EXPECT_THAT(result.text, HasSubstr("[line cut: 3000 more bytes]\n     2\tshort\n"));
  EXPECT_LT(result.text.size(), 2200u);

  write("blob.bin", std::string("\x7f"
                                "ELF\0\0\0\x01",
                                8) +
                        std::string(100, '\0'));
  result = call("read_file", {{"path", "blob.bin"}});
  EXPECT_TRUE(result.is_error);
  EXPECT_THAT(result.text, StartsWith("blob.bin looks like a binary file"));
  EXPECT_THAT(result.text, HasSubstr("NUL bytes"));
}

TEST_F(FileToolsTest, ReadErrorsNameThePath) {
  auto result = call("read_file", {{"path", "missing/file.txt"}});
  EXPECT_TRUE(result.is_error);
  EXPECT_EQ(result.text, "missing/file.txt: no such file");
  std::filesystem::create_directories(path("dir"));
  result = call("read_file", {{"path", "dir"}});
  EXPECT_TRUE(result.is_error);
  EXPECT_THAT(result.text, StartsWith("dir is a directory"));
  write("empty.txt", "");
  result = call("read_file", {{"path", "empty.txt"}});
  EXPECT_FALSE(result.is_error);
  EXPECT_EQ(result.text, "empty.txt is empty (0 bytes)");
}

TEST_F(FileToolsTest, WriteCreatesParentsAndReportsBytes) {
  auto result = call("write_file", {{"path", "src/deep/new.txt"}, {"content", "héllo\n"}});
  ASSERT_FALSE(result.is_error) << result.text;
  EXPECT_EQ(result.text, "wrote 7 bytes to src/deep/new.txt (new file)");
  EXPECT_EQ(read(path("src/deep/new.txt")), "héllo\n");
  result = call("write_file", {{"path", "src/deep/new.txt"}, {"content", ""}});
  EXPECT_EQ(result.text, "wrote 0 bytes to src/deep/new.txt (replaced its 7 bytes)");
  EXPECT_EQ(result.structured["created"], false);
  result = call("write_file", {{"path", "src"}, {"content", "x"}});
  EXPECT_TRUE(result.is_error);
  EXPECT_EQ(result.text, "src is a directory; give a file path");
}

TEST_F(FileToolsTest, EditReplacesExactlyOnce) {
  write("code.py", "def f():\n    return 1\n\ndef g():\n    return 2\n");
  auto result =
      call("edit_file", {{"path", "code.py"}, {"old_text", "return 2"}, {"new_text", "return 3"}});
  ASSERT_FALSE(result.is_error) << result.text;
  EXPECT_THAT(result.text, StartsWith("replaced 1 occurrence in code.py (line 5). The result:\n"));
  EXPECT_THAT(result.text, HasSubstr("     5\t    return 3\n"));
  EXPECT_EQ(read(path("code.py")), "def f():\n    return 1\n\ndef g():\n    return 3\n");
}

TEST_F(FileToolsTest, EditCountsMatches) {
  write("x.txt", "a = 1\nb = 1\nc = 1\n");
  auto result = call("edit_file", {{"path", "x.txt"}, {"old_text", "= 1"}, {"new_text", "= 2"}});
  EXPECT_TRUE(result.is_error);
  EXPECT_EQ(result.text,
            "old_text found 3 times in x.txt (at lines 1, 2, 3); add context to make it unique or "
            "set replace_all to replace every occurrence");
  result = call("edit_file", {{"path", "x.txt"}, {"old_text", "= 9"}, {"new_text", "= 2"}});
  EXPECT_TRUE(result.is_error);
  EXPECT_THAT(result.text, StartsWith("old_text found 0 times in x.txt"));
  EXPECT_EQ(read(path("x.txt")), "a = 1\nb = 1\nc = 1\n");

  result =
      call("edit_file",
           {{"path", "x.txt"}, {"old_text", "= 1"}, {"new_text", "= 2"}, {"replace_all", true}});
  ASSERT_FALSE(result.is_error) << result.text;
  EXPECT_EQ(result.text, "replaced 3 occurrences in x.txt (lines 1, 2, 3)");
  EXPECT_EQ(read(path("x.txt")), "a = 2\nb = 2\nc = 2\n");
}

TEST_F(FileToolsTest, EditHintsAtWhitespaceMismatch) {
  write("y.py", "if x:\n        do()\n");
  auto result =
      call("edit_file", {{"path", "y.py"}, {"old_text", "if x:\n    do()"}, {"new_text", "pass"}});
  EXPECT_TRUE(result.is_error);
  EXPECT_THAT(result.text, HasSubstr("differs only in indentation"));
  EXPECT_THAT(result.text, HasSubstr("line 1"));
  result = call("edit_file", {{"path", "y.py"}, {"old_text", "do()"}, {"new_text", "do()"}});
  EXPECT_EQ(result.text, "old_text and new_text are identical; there is nothing to change");
  result = call("edit_file", {{"path", "y.py"}, {"old_text", ""}, {"new_text", "x"}});
  EXPECT_THAT(result.text, HasSubstr("old_text: must not be empty"));
  result = call("edit_file", {{"path", "nope.py"}, {"old_text", "a"}, {"new_text", "b"}});
  EXPECT_EQ(result.text, "nope.py: no such file");
}

TEST_F(FileToolsTest, EscapesAreRefused) {
  std::string outside = root_ + "/outside.txt";
  std::ofstream(outside) << "secret\n";
  for (const std::string& p :
       {std::string("../outside.txt"), outside, std::string("a/../../outside.txt"),
        std::string("/etc/passwd"), std::string("new/../../x")}) {
    SCOPED_TRACE(p);
    auto result = call("read_file", {{"path", p}});
    EXPECT_TRUE(result.is_error);
    EXPECT_THAT(result.text, StartsWith("path " + p + " is outside the workspace " + workspace_));
    result = call("write_file", {{"path", p}, {"content", "pwned"}});
    EXPECT_TRUE(result.is_error);
    EXPECT_THAT(result.text, HasSubstr("is outside the workspace"));
  }
  EXPECT_EQ(read(outside), "secret\n");
  EXPECT_FALSE(std::filesystem::exists(root_ + "/x"));
}

TEST_F(FileToolsTest, SymlinksOutAreRefused) {
  std::filesystem::create_directories(root_ + "/elsewhere");
  std::ofstream(root_ + "/elsewhere/f.txt") << "secret\n";
  std::filesystem::create_directory_symlink(root_ + "/elsewhere", path("link"));
  std::filesystem::create_symlink("../elsewhere/f.txt", path("filelink"));
  std::filesystem::create_symlink(root_ + "/elsewhere/new.txt", path("dangling"));

  auto result = call("read_file", {{"path", "link/f.txt"}});
  EXPECT_TRUE(result.is_error);
  EXPECT_THAT(result.text, StartsWith("path link/f.txt is outside the workspace " + workspace_));
  EXPECT_THAT(result.text, HasSubstr("a symlink leads to " + root_ + "/elsewhere/f.txt"));
  EXPECT_TRUE(call("read_file", {{"path", "filelink"}}).is_error);
  // New files under a symlinked directory, and through a dangling link, are checked too.
  EXPECT_TRUE(call("write_file", {{"path", "link/sub/new.txt"}, {"content", "x"}}).is_error);
  EXPECT_TRUE(call("write_file", {{"path", "dangling"}, {"content", "x"}}).is_error);
  EXPECT_TRUE(call("edit_file", {{"path", "filelink"}, {"old_text", "secret"}, {"new_text", "x"}})
                  .is_error);
  EXPECT_FALSE(std::filesystem::exists(root_ + "/elsewhere/new.txt"));
  EXPECT_FALSE(std::filesystem::exists(root_ + "/elsewhere/sub"));
  EXPECT_EQ(read(root_ + "/elsewhere/f.txt"), "secret\n");
}

TEST_F(FileToolsTest, SymlinksInsideAreFollowed) {
  write("real/data.txt", "inside\n");
  std::filesystem::create_directory_symlink("real", path("alias"));
  auto result = call("read_file", {{"path", "alias/data.txt"}});
  ASSERT_FALSE(result.is_error) << result.text;
  EXPECT_EQ(result.text, "     1\tinside\n");
  result = call("write_file", {{"path", "alias/new/more.txt"}, {"content", "ok"}});
  ASSERT_FALSE(result.is_error) << result.text;
  EXPECT_EQ(result.text, "wrote 2 bytes to real/new/more.txt (new file)");
  EXPECT_EQ(read(path("real/new/more.txt")), "ok");
}

}  // namespace
}  // namespace meanwhile::testing

namespace meanwhile::testing {
namespace {

TEST_F(FileToolsTest, DataDirectoryIsReadOnly) {
  // A lane keeping its store inside the workspace, as by default (WORKSPACE/.meanwhile).
  LaneOptions options;
  options.workspace = workspace_;
  options.data_dir = workspace_ + "/.meanwhile";
  auto lane = Lane::open(options);
  ASSERT_TRUE(lane.ok()) << lane.error();
  ToolContext ctx{**lane, workspace_, nullptr, {}};
  auto result =
      registry_.call("write_file", {{"path", ".meanwhile/jobs.db"}, {"content", "x"}}, ctx);
  EXPECT_TRUE(result.is_error);
  EXPECT_THAT(result.text, ::testing::StartsWith(
                               "path .meanwhile/jobs.db is inside meanwhile's data directory"));
  result = registry_.call(
      "edit_file", {{"path", ".meanwhile/logs/1.log"}, {"old_text", "a"}, {"new_text", "b"}}, ctx);
  EXPECT_TRUE(result.is_error);
  EXPECT_THAT(result.text, ::testing::HasSubstr("inside meanwhile's data directory"));
  // Reading (a log, say) is fine.
  write(".meanwhile/logs/note.txt", "hello\n");
  result = registry_.call("read_file", {{"path", ".meanwhile/logs/note.txt"}}, ctx);
  EXPECT_FALSE(result.is_error) << result.text;
  // A sibling whose name only starts the same is not inside.
  result = registry_.call("write_file", {{"path", ".meanwhile2/x.txt"}, {"content", "x"}}, ctx);
  EXPECT_FALSE(result.is_error) << result.text;
}

}  // namespace
}  // namespace meanwhile::testing
