// Scheduler: which queued job may start next (ninja's Plan, apart from what runs it).
//
// It knows keys, priorities, `after` edges and slots: no fds, processes, clock or store, so it
// is tested without running anything (tests/lane/scheduler_test.cc). The lane thread is its
// only user; it is not thread-safe.
//
// A job's path through it: add() → (waiting for its `after` jobs) → ready → take() (holds a
// slot) → ended(). put_back() returns a taken job that could not start for now. ended() is
// called once for every added job, whatever state it is in, and says which dependents can no
// longer run (their `after` job did not succeed): the caller ends those too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

namespace meanwhile {

class Scheduler {
 public:
  using Key = std::uint64_t;

  // Adds a queued job. `waits_for` are jobs it runs after that were added and have not ended
  // (the caller resolves the others: succeeded ones are dropped, failed ones skip the job).
  // Keys not known here are ignored. A job that waits for nothing is ready at once.
  void add(Key key, int priority, const std::vector<Key>& waits_for);
  // Adds a job that already runs (one followed again after a restart): it holds a slot until
  // it ends, and jobs may wait for it. Nothing when the key is known.
  void add_running(Key key);

  // The next ready job (highest priority, then lowest key) when fewer than `slot_limit` jobs
  // hold a slot; it holds one from now on. Nothing when no job is ready or no slot is free.
  std::optional<Key> take(std::size_t slot_limit);

  // A taken job could not start for now (out of fds or processes): it frees its slot and is
  // ready again, first in line among equal priorities as before.
  void put_back(Key key);

  // The job ended (ran, failed to start, was killed or skipped, whether or not it was taken).
  // Frees its slot and forgets it. When it succeeded, its dependents' wait shrinks (those left
  // waiting for nothing become ready); otherwise they are returned, still known here: the
  // caller ends each (and calls ended() for it). Unknown keys return nothing.
  std::vector<Key> ended(Key key, bool succeeded);

  bool has_ready() const { return !ready_.empty(); }
  // Jobs that hold a slot: taken and not yet put back or ended.
  std::size_t running() const { return running_; }
  // Jobs added and not ended.
  std::size_t size() const { return jobs_.size(); }

 private:
  struct Entry {
    int priority = 0;
    std::size_t waiting_for = 0;  // `after` jobs not yet ended
    bool ready = false;
    bool holds_slot = false;
    std::vector<Key> dependents;
  };
  void make_ready(Key key, Entry& entry);

  std::unordered_map<Key, Entry> jobs_;
  std::set<std::pair<int, Key>> ready_;  // (-priority, key): begin() starts first
  std::size_t running_ = 0;
};

}  // namespace meanwhile
