#pragma once
// Executes scheduler steps on one rank: validates, runs the backend's executor, and on
// rank 0 samples. Every rank keeps the per-sequence state (params, token history)
// between steps, so every rank judges a step the same way: a step one rank rejects is
// rejected by all before any collective, and no rank is left waiting for its peers.
// The driver owns everything else (which blocks, which tokens, when to stop).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/sampling_params.h"
#include "dsm/v1/worker.pb.h"
#include "worker/comm/communicator.h"
#include "worker/comm/timed_communicator.h"
#include "worker/executor/model_executor.h"

namespace dsm {

struct RunnerOptions {
  std::string model_dir;
  ExecutorOptions executor;  // backend, KV pool, threads / device
};

class StepRunner {
 public:
  // Loads this rank's shard; `comm` decides rank and group size.
  static absl::StatusOr<std::unique_ptr<StepRunner>> Create(const RunnerOptions& options,
                                                            std::unique_ptr<Communicator> comm);

  absl::StatusOr<v1::StepResponse> Step(const v1::StepRequest& request);
  v1::WorkerInfo Info() const;

  // The group formed anew (a peer or the coordinator restarted): collectives go through
  // `comm` from now on, and every sequence is forgotten (the coordinator's new scheduler
  // starts empty). The weights stay loaded.
  void Reform(std::unique_ptr<Communicator> comm);

 private:
  struct SequenceState {
    SamplingParams params;
    int32_t prompt_length = 0;
    std::vector<int32_t> tokens;  // every token fed so far, by position
  };

  StepRunner() = default;

  std::unique_ptr<TimedCommunicator> comm_;  // times the step's collectives
  std::unique_ptr<ModelExecutor> executor_;
  ExecutorInfo info_;
  absl::flat_hash_map<uint64_t, SequenceState> sequences_;
};

}  // namespace dsm
