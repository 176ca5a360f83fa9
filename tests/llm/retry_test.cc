#include "llm/retry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "llm/http_client.h"

namespace meanwhile::llm {
namespace {

using std::chrono::milliseconds;

TEST(RetryPolicy, RetryableStatuses) {
  for (long status : {429, 500, 502, 503, 504, 529})
    EXPECT_TRUE(is_retryable_status(status)) << status;
  for (long status : {200, 400, 401, 403, 404, 413, 501})
    EXPECT_FALSE(is_retryable_status(status)) << status;
}

TEST(RetryPolicy, FullJitterGrowsExponentiallyUpToTheCap) {
  RetryPolicy policy{10, milliseconds(100), milliseconds(1000)};
  std::mt19937_64 rng(42);
  for (int failed = 1; failed <= 8; ++failed) {
    long ceiling = std::min<long>(1000, 100L << (failed - 1));
    long highest = 0;
    for (int i = 0; i < 500; ++i) {
      long wait = backoff_delay(policy, failed, std::nullopt, rng).count();
      ASSERT_GE(wait, 0);
      ASSERT_LE(wait, ceiling) << "after " << failed << " failures";
      highest = std::max(highest, wait);
    }
    EXPECT_GT(highest, ceiling / 2) << "the jitter should use the whole range";
  }
}

TEST(RetryPolicy, RetryAfterWinsOverBackoff) {
  RetryPolicy policy{5, milliseconds(10), milliseconds(20)};
  std::mt19937_64 rng(1);
  EXPECT_EQ(backoff_delay(policy, 1, milliseconds(1500), rng), milliseconds(1500));
  EXPECT_EQ(backoff_delay(policy, 1, milliseconds(24 * 3600 * 1000), rng), milliseconds(600000));
}

TEST(RetryPolicy, ParsesRetryAfterHeader) {
  EXPECT_EQ(parse_retry_after("1"), milliseconds(1000));
  EXPECT_EQ(parse_retry_after(" 2.5 "), milliseconds(2500));
  EXPECT_EQ(parse_retry_after("0"), milliseconds(0));
  EXPECT_EQ(parse_retry_after("soon"), std::nullopt);
  EXPECT_EQ(parse_retry_after(""), std::nullopt);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), milliseconds(0));  // in the past
}

TEST(RetryPolicy, StopsAfterMaxTriesWithTheLastMessage) {
  RetryPolicy policy{3, milliseconds(1), milliseconds(2)};
  int tries = 0, retries = 0;
  StreamHandler handler;
  handler.on_retry = [&](int attempt, const std::string& why, milliseconds) {
    ++retries;
    EXPECT_EQ(attempt, retries);
    EXPECT_EQ(why, "503 busy");
  };
  auto result = run_with_retries(policy, handler, nullptr, [&](int n) -> Attempt {
    EXPECT_EQ(n, ++tries);
    return AttemptError{"503 busy", true, false, std::nullopt};
  });
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error(), "503 busy (after 3 tries)");
  EXPECT_EQ(tries, 3);
  EXPECT_EQ(retries, 2);
}

TEST(RetryPolicy, NonRetryableFailsAtOnce) {
  RetryPolicy policy{5, milliseconds(1), milliseconds(2)};
  int tries = 0;
  auto result = run_with_retries(policy, {}, nullptr, [&](int) -> Attempt {
    ++tries;
    return AttemptError{"401 invalid x-api-key", false, false, std::nullopt};
  });
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error(), "401 invalid x-api-key");
  EXPECT_EQ(tries, 1);
}

TEST(RetryPolicy, CancelDuringBackoffReturnsInterruptedPromptly) {
  RetryPolicy policy{5, milliseconds(1), milliseconds(2)};
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(100));
    cancel = true;
  });
  auto start = std::chrono::steady_clock::now();
  auto result = run_with_retries(policy, {}, &cancel, [&](int) -> Attempt {
    return AttemptError{"429 slow down", true, false, milliseconds(30000)};
  });
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  canceller.join();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error(), "interrupted");
  EXPECT_LT(elapsed, 2.0);
}

}  // namespace
}  // namespace meanwhile::llm
