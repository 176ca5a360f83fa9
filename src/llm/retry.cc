#include "llm/retry.h"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

namespace meanwhile::llm {

using std::chrono::milliseconds;

bool is_retryable_status(long status) {
  switch (status) {
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
    case 529:
      return true;
    default:
      return false;
  }
}

milliseconds backoff_delay(const RetryPolicy& policy, int failed_tries,
                           std::optional<milliseconds> retry_after, std::mt19937_64& rng) {
  constexpr milliseconds kMaxRetryAfter{10 * 60 * 1000};
  if (retry_after) return std::clamp(*retry_after, milliseconds(0), kMaxRetryAfter);
  std::int64_t cap = std::max<std::int64_t>(0, policy.max_backoff.count());
  std::int64_t ceiling = std::max<std::int64_t>(0, policy.base_backoff.count());
  for (int i = 1; i < failed_tries && ceiling < cap; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  std::uniform_int_distribution<std::int64_t> pick(0, ceiling);
  return milliseconds(pick(rng));
}

bool sleep_unless_cancelled(milliseconds delay, const std::atomic<bool>* cancel) {
  constexpr milliseconds kTick{20};
  auto deadline = std::chrono::steady_clock::now() + delay;
  for (;;) {
    if (cancel && cancel->load()) return false;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return true;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(kTick, deadline - now));
  }
}

Result<Response> run_with_retries(const RetryPolicy& policy, const StreamHandler& handler,
                                  const std::atomic<bool>* cancel,
                                  const std::function<Attempt(int)>& attempt) {
  std::mt19937_64 rng(std::random_device{}());
  int max_tries = std::max(1, policy.max_tries);
  for (int tries = 1;; ++tries) {
    if (cancel && cancel->load()) return make_error("interrupted");
    Attempt result = attempt(tries);
    if (auto* response = std::get_if<Response>(&result)) return std::move(*response);
    auto& failure = std::get<AttemptError>(result);
    if (failure.cancelled || (cancel && cancel->load())) return make_error("interrupted");
    if (!failure.retryable || tries >= max_tries) {
      if (tries == 1) return make_error(failure.code, failure.message);
      return make_error(failure.code, fmt::format("{} (after {} tries)", failure.message, tries));
    }
    milliseconds wait = backoff_delay(policy, tries, failure.retry_after, rng);
    if (handler.on_retry) handler.on_retry(tries, failure.message, wait);
    if (!sleep_unless_cancelled(wait, cancel)) return make_error("interrupted");
  }
}

}  // namespace meanwhile::llm
