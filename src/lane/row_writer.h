// RowWriter: the lane's batched writes of job rows to the store.
//
// A burst of changes becomes one transaction per kFlushDelay. When the store fails (a full
// disk, a lock held too long) the rows stay pending and are written again kRetryDelay later:
// a failing disk must not stop the jobs, nor lose a row once it works again. It reads rows
// through `snapshot` (called with the keys to write, on the lane thread) and knows nothing
// else of jobs. Lane thread only; not thread-safe.
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <unordered_set>
#include <vector>

#include "lane/store.h"
#include "meanwhile/lane.h"

namespace meanwhile {

class RowWriter {
 public:
  static constexpr std::chrono::milliseconds kFlushDelay{5};
  static constexpr std::chrono::milliseconds kRetryDelay{200};

  // The current row of each key, in the same order (keys of jobs the writer was told of).
  using Snapshot = std::function<std::vector<JobInfo>(const std::vector<std::uint64_t>& keys)>;

  // `store` must outlive the writer; timers run on `io`.
  RowWriter(asio::io_context& io, Store& store, HostId host, Snapshot snapshot);

  // The job's row changed (or is new): written within kFlushDelay.
  void changed(std::uint64_t key);
  // Whether the job's row has been written once (it is in the store).
  bool written(std::uint64_t key) const { return written_.count(key) != 0; }
  // The row exists already (written by an earlier host): later writes update it.
  void note_written(std::uint64_t key) { written_.insert(key); }
  // Writes every pending row now, in one transaction. On failure the rows stay pending and a
  // retry is armed (unless stop_retrying() was called); returns the store's error.
  Status flush();
  // The loop is ending: a failed flush() arms no more retries.
  void stop_retrying() { retry_ = false; }
  std::size_t pending() const { return pending_.size(); }

 private:
  void arm(std::chrono::milliseconds delay);

  Store& store_;
  HostId host_;
  Snapshot snapshot_;
  asio::steady_timer timer_;
  bool armed_ = false;
  bool retry_ = true;
  std::vector<std::uint64_t> pending_;  // in the order they first changed
  std::unordered_set<std::uint64_t> pending_set_;
  std::unordered_set<std::uint64_t> written_;
};

}  // namespace meanwhile
