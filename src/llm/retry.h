// The retry policy every network provider shares: which failures are transient, how long to wait
// (exponential backoff with full jitter, or the server's retry-after), and the loop that drives
// the attempts, reports each retry to the caller and stops promptly on cancel.
//
// A retry starts the whole turn again: text streamed to on_text before a failure in the middle of
// a stream is streamed again by the next attempt (on_retry tells the UI when that happens).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <variant>

#include "meanwhile/llm.h"

namespace meanwhile::llm {

// Why one attempt failed.
struct AttemptError {
  std::string message;  // "<status> <API message>" or "connection error: ..."
  bool retryable = false;
  bool cancelled = false;  // the caller cancelled: stop at once, "interrupted"
  std::optional<std::chrono::milliseconds> retry_after;
  // What the caller can do about it: permission_denied (401/403: the key), not_found (404: the
  // model id), else internal.
  ErrorCode code = ErrorCode::internal;
};

using Attempt = std::variant<Response, AttemptError>;

struct RetryPolicy {
  int max_tries = 5;
  std::chrono::milliseconds base_backoff{500};
  std::chrono::milliseconds max_backoff{30000};
};

// 429, 500, 502, 503, 504 and 529 (Anthropic's "overloaded").
bool is_retryable_status(long status);

// The wait before the try after `failed_tries` failures (1-based): the server's retry-after when
// it sent one (capped at 10 minutes), else a uniform random delay in
// [0, min(max_backoff, base_backoff * 2^(failed_tries-1))] ("full jitter").
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int failed_tries,
                                        std::optional<std::chrono::milliseconds> retry_after,
                                        std::mt19937_64& rng);

// Sleeps for `delay`, waking every few ms to check `cancel`. False when cancelled.
bool sleep_unless_cancelled(std::chrono::milliseconds delay, const std::atomic<bool>* cancel);

// Runs `attempt(try_number)` until it succeeds, fails for good, is cancelled or max_tries is
// reached. The final Error is the last failure's message, with " (after N tries)" when there
// was more than one try; "interrupted" on cancel.
Result<Response> run_with_retries(const RetryPolicy& policy, const StreamHandler& handler,
                                  const std::atomic<bool>* cancel,
                                  const std::function<Attempt(int)>& attempt);

}  // namespace meanwhile::llm
