#include "coordinator/worker_group.h"

#include "absl/strings/str_cat.h"

namespace dsm {

absl::Status ValidateWorkerGroupOptions(const WorkerGroupOptions& o) {
  auto bad = [](const std::string& flag, const std::string& rule, const std::string& got) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " must be ", rule, ", got ", got));
  };
  if (o.tp < 1) return bad("--tp", ">= 1", absl::StrCat(o.tp));
  if (o.threads_per_rank < 0)
    return bad("--threads", ">= 0 (0 = automatic)", absl::StrCat(o.threads_per_rank));
  if (o.kv_cache_mib <= 0) return bad("--kv-cache-mib", "> 0", absl::StrCat(o.kv_cache_mib));
  if (o.kv_block_size <= 0) return bad("--kv-block-size", "> 0", absl::StrCat(o.kv_block_size));
  if (o.comm_timeout_s < 1) return bad("--comm-timeout-s", ">= 1", absl::StrCat(o.comm_timeout_s));
  if (o.backend != "cpu" && o.backend != "cuda") return bad("--backend", "cpu or cuda", o.backend);
  if (o.precision != "bf16" && o.precision != "fp32") {
    return bad("--precision", "bf16 or fp32", o.precision);
  }
  if (o.kv_cache_dtype != "f32" && o.kv_cache_dtype != "bf16") {
    return bad("--kv-cache-dtype", "f32 or bf16", o.kv_cache_dtype);
  }
  if (o.activation_dtype != "f32" && o.activation_dtype != "bf16") {
    return bad("--activation-dtype", "f32 or bf16", o.activation_dtype);
  }
  if (!(o.gpu_memory_fraction > 0 && o.gpu_memory_fraction <= 1)) {
    return bad("--gpu-memory-fraction", "in (0, 1]", absl::StrCat(o.gpu_memory_fraction));
  }
  if (!(o.step_timeout_s > 0))
    return bad("--step-timeout-s", "> 0", absl::StrCat(o.step_timeout_s));
  if (!(o.step_timeout_per_token_s >= 0)) {
    return bad("--step-timeout-per-token-s", ">= 0", absl::StrCat(o.step_timeout_per_token_s));
  }
  if (o.max_sequences < 1) return bad("--max-running", ">= 1", absl::StrCat(o.max_sequences));
  return absl::OkStatus();
}

}  // namespace dsm
