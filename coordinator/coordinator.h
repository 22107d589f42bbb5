#pragma once
// The serving core behind the public API: the model's text files, one GroupEngine per
// replica (tensor-parallel group), and the per-request work around generation —
// routing to the least-loaded healthy group, the queue limit, n choices, incremental
// detokenization, stop strings, cancellation and timing.

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/model_config.h"
#include "coordinator/group_engine.h"
#include "coordinator/request_log.h"
#include "coordinator/request_validation.h"
#include "coordinator/tokenizer/tokenizer_files.h"
#include "dsm/v1/inference.pb.h"

namespace dsm {

struct CoordinatorOptions {
  std::string model_dir;
  int tp = 1;
  int replicas = 1;
  WorkerGroupOptions workers;  // model_dir and tp are filled in from above
  int max_batch_tokens = 512;
  int max_running = 256;          // sequences decoding together per group
  int max_queued_requests = 256;  // waiting sequences beyond this get RESOURCE_EXHAUSTED
  // The longest prompt + output served (vLLM's --max-model-len); 0 = the model's
  // max_position_embeddings, which it may not exceed.
  int64_t max_model_len = 0;
  std::string backend = "cpu";
  LogFormat log_format = LogFormat::kText;  // the one-line-per-request log on stderr
  // Starts each group's workers (LocalRegisteredLauncher for `dsm serve`); required.
  WorkerGroupLauncher launcher;
  // Told of every finished request, token gap and step (metrics); may be null.
  ServingObserver* observer = nullptr;
};

// Streams chunks to the client; returns false once the client is gone.
using ChunkWriter = std::function<bool(const v1::GenerateStreamResponse&)>;
// True once the client cancelled or its deadline passed.
using CancelCheck = std::function<bool()>;

class Coordinator {
 public:
  static absl::StatusOr<std::unique_ptr<Coordinator>> Start(const CoordinatorOptions& options);

  // Runs a prepared request to the end. With `stream`, chunks are written as tokens
  // arrive and the final chunk carries usage and timing.
  absl::StatusOr<v1::GenerateResponse> Generate(const PreparedRequest& request,
                                                const CancelCheck& cancelled,
                                                const ChunkWriter* stream);

  // True while some group can serve and the server is not draining: what the health
  // service reports.
  bool CanServe() const;
  // From now on new requests get UNAVAILABLE "server is draining"; running ones go on.
  void StartDrain() { draining_ = true; }
  // Requests inside Generate.
  int InFlight() const { return in_flight_.load(); }
  // Ends every running request with `status` (their KV blocks are freed).
  void AbortInFlight(const absl::Status& status);
  // Shutdown, after the drain: the engines end and failed groups are not relaunched.
  void StopEngines();

  const TokenizerFiles* text() const { return text_.get(); }
  const ServingLimits& limits() const { return limits_; }
  v1::ModelInfo Info() const;
  GroupEngine& group(int index) { return *engines_[index]; }

 private:
  Coordinator() = default;
  // Routes `sequences` new sequences to the least-loaded healthy group and reserves them
  // there; RESOURCE_EXHAUSTED when more than --max-queue sequences would have to wait
  // for a running slot (all groups counted, every choice of every request included).
  absl::StatusOr<GroupEngine*> PickGroup(int sequences);
  // Generate without the request log; fills `record` as it goes.
  absl::StatusOr<v1::GenerateResponse> Run(const PreparedRequest& request,
                                           const CancelCheck& cancelled, const ChunkWriter* stream,
                                           RequestRecord* record);

  CoordinatorOptions options_;
  ModelConfig config_;
  std::unique_ptr<TokenizerFiles> text_;
  ServingLimits limits_;
  std::vector<std::unique_ptr<GroupEngine>> engines_;
  std::atomic<uint64_t> next_sequence_id_{1};
  std::atomic<bool> draining_{false};
  std::atomic<uint64_t> next_log_id_{1};
  absl::Mutex active_mu_;
  absl::flat_hash_set<SequenceStream*> active_ ABSL_GUARDED_BY(active_mu_);  // Run's streams
  absl::Mutex pick_mu_;  // the queue check and the reservation are one step
  std::atomic<int> in_flight_{0};
};

}  // namespace dsm
