// The row writer alone, against a real store: batching, retry after a failing store, and
// the flag that says a row exists.
#include "lane/row_writer.h"

#include <map>

#include "lane_test_util.h"

namespace meanwhile::testing {
namespace {

class RowWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = Store::open(dir / "jobs.db");
    ASSERT_TRUE(opened.ok()) << opened.error();
    store = std::move(*opened);
    auto first = store->reserve_ids(10);
    ASSERT_TRUE(first.ok()) << first.error();
    for (std::int64_t i = 0; i < 10; ++i) {
      JobInfo info;
      info.id = std::to_string(*first + i);
      info.spec.command = "true";
      info.status = JobStatus::queued;
      info.log_path = dir / ("logs/" + info.id + ".log");
      jobs[static_cast<std::uint64_t>(*first + i)] = info;
    }
    writer = std::make_unique<RowWriter>(io, *store, HostId::self(),
                                         [this](const std::vector<std::uint64_t>& keys) {
                                           ++snapshots;
                                           std::vector<JobInfo> infos;
                                           for (auto key : keys) infos.push_back(jobs.at(key));
                                           return infos;
                                         });
  }
  JobStatus stored_status(std::uint64_t key) {
    auto row = store->load(std::to_string(key));
    EXPECT_TRUE(row.ok() && row->has_value()) << "no row for " << key;
    return row.ok() && row->has_value() ? (*row)->info.status : JobStatus::lost;
  }

  TempDir dir;
  std::unique_ptr<Store> store;
  std::map<std::uint64_t, JobInfo> jobs;
  asio::io_context io;
  std::unique_ptr<RowWriter> writer;
  int snapshots = 0;
};

TEST_F(RowWriterTest, ABurstOfChangesIsOneWrite) {
  for (auto& [key, info] : jobs) writer->changed(key);
  for (auto& [key, info] : jobs) writer->changed(key);  // changed again before the write
  EXPECT_EQ(writer->pending(), 10u);
  EXPECT_FALSE(writer->written(jobs.begin()->first));
  io.run();  // until the flush timer has fired: no other work is queued
  EXPECT_EQ(snapshots, 1);
  EXPECT_EQ(writer->pending(), 0u);
  for (auto& [key, info] : jobs) {
    EXPECT_TRUE(writer->written(key));
    EXPECT_EQ(stored_status(key), JobStatus::queued);
  }
  // Later changes update the rows written before.
  auto& [key, info] = *jobs.begin();
  info.status = JobStatus::exited;
  info.exit_code = 3;
  writer->changed(key);
  ASSERT_TRUE(writer->flush().ok());
  EXPECT_EQ(stored_status(key), JobStatus::exited);
}

TEST_F(RowWriterTest, AFailingStoreKeepsTheRowsAndRetries) {
  exec_sql(dir / "jobs.db",
           "CREATE TRIGGER no_rows BEFORE INSERT ON jobs BEGIN SELECT RAISE(ABORT, 'disk says "
           "no'); END;");
  const std::uint64_t key = jobs.begin()->first;
  writer->changed(key);
  Status failed = writer->flush();
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().find("disk says no"), std::string::npos) << failed.error();
  EXPECT_EQ(writer->pending(), 1u) << "the row is kept for the retry";
  EXPECT_FALSE(writer->written(key));
  exec_sql(dir / "jobs.db", "DROP TRIGGER no_rows;");
  io.run();  // the retry armed by the failed flush
  EXPECT_EQ(writer->pending(), 0u);
  EXPECT_TRUE(writer->written(key));
  EXPECT_EQ(stored_status(key), JobStatus::queued);
}

TEST_F(RowWriterTest, NoRetryAfterStopRetrying) {
  exec_sql(dir / "jobs.db",
           "CREATE TRIGGER no_rows BEFORE INSERT ON jobs BEGIN SELECT RAISE(ABORT, 'no'); END;");
  writer->stop_retrying();
  writer->changed(jobs.begin()->first);
  EXPECT_FALSE(writer->flush().ok());
  // Had a retry been armed, running the loop now would write the row: the store accepts it.
  exec_sql(dir / "jobs.db", "DROP TRIGGER no_rows;");
  io.run();
  EXPECT_EQ(writer->pending(), 1u) << "no retry ran";
  EXPECT_FALSE(writer->written(jobs.begin()->first));
}

}  // namespace
}  // namespace meanwhile::testing
