#include "kernels/cpu/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace dsm {
namespace {

// Counts how often each index is handed out; every index must come exactly once.
void ExpectEveryIndexOnce(ThreadPool& pool, size_t n, size_t grain) {
  std::vector<std::atomic<int>> seen(n);
  pool.ParallelFor(n, grain, [&](size_t begin, size_t end) {
    ASSERT_LT(begin, end);
    ASSERT_LE(end, n);
    for (size_t i = begin; i < end; ++i) seen[i].fetch_add(1, std::memory_order_relaxed);
  });
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(seen[i].load(), 1) << "index " << i << " of " << n;
}

TEST(ThreadPoolTest, CoversEveryIndexExactlyOnce) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.num_threads(), threads);
    for (size_t n : {1u, 2u, 7u, 8u, 9u, 1000u, 12345u}) {
      for (size_t grain : {0u, 1u, 5u, 64u}) ExpectEveryIndexOnce(pool, n, grain);
    }
  }
}

TEST(ThreadPoolTest, EmptyRangeCallsNothing) {
  ThreadPool pool(2);
  bool called = false;
  pool.ParallelFor(0, 1, [&](size_t, size_t) { called = true; });
  EXPECT_FALSE(called);
}

// Jobs back to back (the workers still spinning) and jobs after a pause (the workers
// parked): both hand-offs must deliver every job, and the caller must see all writes.
TEST(ThreadPoolTest, JobsBackToBackAndAfterParking) {
  ThreadPool pool(2);
  std::vector<int> values(64);
  for (int job = 0; job < 4000; ++job) {
    pool.ParallelFor(values.size(), 1, [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) values[i] = job;
    });
    for (size_t i = 0; i < values.size(); ++i) ASSERT_EQ(values[i], job) << "job " << job;
    if (job % 500 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// More threads than cores: the pool parks instead of spinning, and still finishes.
TEST(ThreadPoolTest, OversubscribedPoolFinishesEveryJob) {
  ThreadPool pool(DefaultThreadCount() + 3);
  for (int job = 0; job < 200; ++job) ExpectEveryIndexOnce(pool, 97, 1);
}

}  // namespace
}  // namespace dsm
