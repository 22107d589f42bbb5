#pragma once
// A fixed pool of threads that splits index ranges among them. One pool per rank:
// the hot loops (GEMMs, attention) are data-parallel over rows or heads.
//
// A decode step runs ~100 ParallelFor calls a few hundred microseconds apart, so the
// hand-off must cost far less than a futex wake-up (~25 us on the build machine's VM):
// chunks are claimed with an atomic counter, and idle threads spin briefly on the job
// counter before they park on a condition variable. The spin is bounded (a serving
// worker parks between steps) and off when there are more threads than cores.
// Which thread computes a chunk never changes what it computes: results do not depend
// on the schedule.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace dsm {

class ThreadPool {
 public:
  // num_threads counts the calling thread, which takes part in every ParallelFor.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(begin, end) over disjoint chunks covering [0, n), at least `grain` items per
  // chunk; returns when all are done. Not reentrant.
  void ParallelFor(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn);

 private:
  void WorkerLoop();
  void RunChunks();
  // Spins while pred() is false, for at most the spin budget; true once pred() held.
  template <typename Pred>
  bool SpinUntil(Pred pred) const;

  std::vector<std::thread> workers_;
  bool spin_ = false;  // only with a core for every thread

  // The current job: written by ParallelFor before it publishes a new generation_.
  const std::function<void(size_t, size_t)>* fn_ = nullptr;
  size_t n_ = 0;
  size_t chunk_ = 0;
  std::atomic<size_t> next_{0};  // next chunk start
  std::atomic<int> pending_{0};  // workers still inside the current job
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};

  // Parking: generation_ and pending_ change under mu_ whenever a thread may be asleep.
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
};

// Threads to use when the user does not say: the cores this process may run on.
int DefaultThreadCount();

}  // namespace dsm
