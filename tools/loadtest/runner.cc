#include "tools/loadtest/runner.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <thread>

#include "absl/synchronization/mutex.h"

namespace dsm::loadtest {
namespace {

using Clock = std::chrono::steady_clock;

// Shared state of one run: the next request index, the records, the stop rule.
class RunState {
 public:
  RunState(const RunOptions& options) : options_(options), start_(Clock::now()) {}

  Clock::time_point start() const { return start_; }

  // The index of the next request to send, or -1 when the run is over.
  int64_t Claim() {
    if (options_.duration_s > 0 && SecondsSince(start_) >= options_.duration_s) return -1;
    const int64_t index = next_.fetch_add(1);
    if (options_.requests > 0 && index >= options_.requests) return -1;
    return index;
  }

  void Record(RequestRecord record) {
    absl::MutexLock lock(&mu_);
    if (!record.ok()) ++failed_;
    tokens_ += record.output_tokens;
    records_.push_back(std::move(record));
  }

  void PrintProgress(int in_flight) {
    absl::MutexLock lock(&mu_);
    const double t = SecondsSince(start_);
    std::fprintf(stderr, "\r  %6.1f s  %6zu done  %4lld failed  %4d in flight  %8.1f tokens/s ", t,
                 records_.size(), static_cast<long long>(failed_), in_flight,
                 t > 0 ? tokens_ / t : 0.0);
    std::fflush(stderr);
  }

  std::vector<RequestRecord> TakeRecords() {
    absl::MutexLock lock(&mu_);
    return std::move(records_);
  }

 private:
  const RunOptions& options_;
  const Clock::time_point start_;
  std::atomic<int64_t> next_{0};
  absl::Mutex mu_;
  std::vector<RequestRecord> records_;
  int64_t failed_ = 0, tokens_ = 0;
};

// Arrived requests waiting for a free sender.
class ArrivalQueue {
 public:
  void Push(int64_t index) {
    absl::MutexLock lock(&mu_);
    items_.push_back(index);
  }
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  // The next arrival, or -1 once closed and drained.
  int64_t Pop() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &ArrivalQueue::Ready));
    if (items_.empty()) return -1;
    const int64_t index = items_.front();
    items_.pop_front();
    return index;
  }

 private:
  bool Ready() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !items_.empty() || closed_; }

  absl::Mutex mu_;
  std::deque<int64_t> items_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

RunResult RunLoad(const RunOptions& options, const Workload& workload,
                  const ClientFactory& make_client) {
  RunState state(options);
  std::atomic<int> in_flight{0};
  std::atomic<bool> done{false};
  std::thread progress([&] {
    while (options.progress && !done.load()) {
      state.PrintProgress(in_flight.load());
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  });
  auto send = [&](LoadClient& client, int64_t index) {
    ++in_flight;
    state.Record(client.Send(workload.Request(options.first_index + static_cast<uint64_t>(index)),
                             state.start()));
    --in_flight;
  };

  std::vector<std::thread> threads;
  if (options.rate <= 0) {
    // Closed loop: each client sends its next request as soon as the last one ends.
    for (int c = 0; c < options.concurrency; ++c) {
      threads.emplace_back([&] {
        std::unique_ptr<LoadClient> client = make_client();
        for (int64_t index; (index = state.Claim()) >= 0;) send(*client, index);
      });
    }
  } else {
    // Open loop: arrivals at gamma gaps (exponential: Poisson), handed to a pool of
    // sender threads. An arrival that finds every sender busy waits (its time to first
    // token counts from its send), which is reported as queueing by the latencies.
    ArrivalQueue queue;
    for (int c = 0; c < options.concurrency; ++c) {
      threads.emplace_back([&] {
        std::unique_ptr<LoadClient> client = make_client();
        for (int64_t index; (index = queue.Pop()) >= 0;) send(*client, index);
      });
    }
    ArrivalGaps gaps(options.rate, options.burstiness, options.seed);
    Clock::time_point next = Clock::now();
    for (int64_t index; (index = state.Claim()) >= 0;) {
      std::this_thread::sleep_until(next);
      queue.Push(index);
      next +=
          std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(gaps.Next()));
    }
    queue.Close();
  }
  for (std::thread& t : threads) t.join();
  done = true;
  progress.join();
  if (options.progress) {
    state.PrintProgress(0);
    std::fprintf(stderr, "\n");
  }
  RunResult result;
  result.duration_s = SecondsSince(state.start());
  result.records = state.TakeRecords();
  return result;
}

}  // namespace dsm::loadtest
