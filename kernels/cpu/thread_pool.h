#pragma once
// A fixed pool of threads that splits index ranges among them. One pool per rank:
// the hot loops (GEMMs, attention) are data-parallel over rows or heads.

#include <condition_variable>
#include <cstddef>
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
  void WorkerLoop(int index);
  void RunChunks();

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  const std::function<void(size_t, size_t)>* fn_ = nullptr;
  size_t n_ = 0;
  size_t chunk_ = 0;
  size_t next_ = 0;  // next chunk start, guarded by mu_
  int active_ = 0;   // workers still inside the current job
  uint64_t generation_ = 0;
  bool stop_ = false;
};

// Threads to use when the user does not say: the cores this process may run on.
int DefaultThreadCount();

}  // namespace dsm
