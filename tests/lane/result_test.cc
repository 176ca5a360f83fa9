// Result and Error: codes from errno, context that keeps the code, and value() on an error.
#include <sqlite3.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "lane/store.h"
#include "lane_test_util.h"
#include "meanwhile/result.h"

namespace meanwhile::testing {
namespace {

TEST(ResultTest, PosixErrorsAreCodedFromErrno) {
  struct Case {
    int err;
    ErrorCode code;
  } cases[] = {{ENOENT, ErrorCode::not_found},
               {ENOTDIR, ErrorCode::not_found},
               {EACCES, ErrorCode::permission_denied},
               {EPERM, ErrorCode::permission_denied},
               {EMFILE, ErrorCode::resource_exhausted},
               {EAGAIN, ErrorCode::resource_exhausted},
               {ENOMEM, ErrorCode::resource_exhausted},
               {EBUSY, ErrorCode::busy},
               {EINVAL, ErrorCode::invalid_argument},
               {EEXIST, ErrorCode::already_exists},
               {EIO, ErrorCode::io},
               {ENOSPC, ErrorCode::io}};
  for (const Case& c : cases) {
    Error e = posix_error("cannot open /x", c.err, "path");
    EXPECT_EQ(e.code, c.code) << c.err;
    EXPECT_EQ(e.sys_errno, c.err);
    EXPECT_EQ(e.field, "path");
    EXPECT_EQ(e.message, std::string("cannot open /x: ") + std::strerror(c.err));
  }
}

TEST(ResultTest, ContextKeepsTheCode) {
  Status failed = posix_error("read", ENOENT);
  Status wrapped = with_prefix("job 3: ", failed.error_info());
  EXPECT_EQ(wrapped.code(), ErrorCode::not_found);
  EXPECT_EQ(wrapped.error_info().sys_errno, ENOENT);
  EXPECT_EQ(wrapped.error().rfind("job 3: read: ", 0), 0u) << wrapped.error();
  EXPECT_EQ(with_field("cwd", wrapped.error_info()).field, "cwd");
  EXPECT_EQ(std::string(error_code_name(ErrorCode::failed_precondition)), "failed_precondition");
}

TEST(ResultDeathTest, ValueOfAnErrorAbortsWithTheErrorNotBadVariantAccess) {
  Result<std::string> failed = make_error(ErrorCode::not_found, "unknown job id 12");
  EXPECT_DEATH((void)failed.value(),
               "value\\(\\) called on an error \\(not_found\\): unknown job id 12");
}

TEST(ResultTest, AStoreFromANewerMeanwhileIsAFailedPrecondition) {
  TempDir dir;
  const std::string path = dir / "jobs.db";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 999", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto store = Store::open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.code(), ErrorCode::failed_precondition) << store.error();
  EXPECT_NE(store.error().find("newer meanwhile"), std::string::npos) << store.error();
}

}  // namespace
}  // namespace meanwhile::testing
