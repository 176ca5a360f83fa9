#include "lane/row_writer.h"

#include <utility>

namespace meanwhile {

RowWriter::RowWriter(asio::io_context& io, Store& store, HostId host, Snapshot snapshot)
    : store_(store), host_(std::move(host)), snapshot_(std::move(snapshot)), timer_(io) {}

void RowWriter::changed(std::uint64_t key) {
  if (pending_set_.insert(key).second) pending_.push_back(key);
  if (!armed_) arm(kFlushDelay);
}

void RowWriter::arm(std::chrono::milliseconds delay) {
  armed_ = true;
  timer_.expires_after(delay);
  timer_.async_wait([this](const asio::error_code& ec) {
    if (!ec) (void)flush();
  });
}

Status RowWriter::flush() {
  armed_ = false;
  timer_.cancel();
  if (pending_.empty()) return Ok{};
  std::vector<JobInfo> infos = snapshot_(pending_);
  std::vector<Store::RowWrite> rows;
  rows.reserve(infos.size());
  for (std::size_t i = 0; i < infos.size() && i < pending_.size(); ++i) {
    rows.push_back({std::move(infos[i]), written_.count(pending_[i]) == 0});
  }
  if (auto st = store_.write(rows, host_); !st) {
    if (retry_) arm(kRetryDelay);
    return st;
  }
  for (std::uint64_t key : pending_) written_.insert(key);
  pending_.clear();
  pending_set_.clear();
  return Ok{};
}

}  // namespace meanwhile
