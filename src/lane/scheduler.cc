#include "lane/scheduler.h"

namespace meanwhile {

void Scheduler::add(Key key, int priority, const std::vector<Key>& waits_for) {
  auto [it, inserted] = jobs_.try_emplace(key);
  if (!inserted) return;  // added twice: the first stands
  Entry& entry = it->second;
  entry.priority = priority;
  for (Key dep : waits_for) {
    auto found = jobs_.find(dep);
    if (found == jobs_.end() || dep == key) continue;
    found->second.dependents.push_back(key);
    ++entry.waiting_for;
  }
  if (entry.waiting_for == 0) make_ready(key, entry);
}

void Scheduler::add_running(Key key) {
  auto [it, inserted] = jobs_.try_emplace(key);
  if (!inserted) return;
  it->second.holds_slot = true;
  ++running_;
}

void Scheduler::make_ready(Key key, Entry& entry) {
  entry.ready = true;
  ready_.emplace(-entry.priority, key);
}

std::optional<Scheduler::Key> Scheduler::take(std::size_t slot_limit) {
  if (ready_.empty() || running_ >= slot_limit) return std::nullopt;
  const Key key = ready_.begin()->second;
  ready_.erase(ready_.begin());
  Entry& entry = jobs_.at(key);
  entry.ready = false;
  entry.holds_slot = true;
  ++running_;
  return key;
}

void Scheduler::put_back(Key key) {
  auto it = jobs_.find(key);
  if (it == jobs_.end() || !it->second.holds_slot) return;
  it->second.holds_slot = false;
  --running_;
  make_ready(key, it->second);
}

std::vector<Scheduler::Key> Scheduler::ended(Key key, bool succeeded) {
  auto it = jobs_.find(key);
  if (it == jobs_.end()) return {};
  Entry entry = std::move(it->second);
  jobs_.erase(it);
  if (entry.holds_slot) --running_;
  if (entry.ready) ready_.erase({-entry.priority, key});
  std::vector<Key> cannot_run;
  for (Key dependent : entry.dependents) {
    auto found = jobs_.find(dependent);
    if (found == jobs_.end()) continue;  // ended already (killed while it waited)
    if (!succeeded) {
      cannot_run.push_back(dependent);
    } else if (--found->second.waiting_for == 0) {
      make_ready(dependent, found->second);
    }
  }
  return cannot_run;
}

}  // namespace meanwhile
