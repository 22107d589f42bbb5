#include "worker/cuda/cuda_executor.h"

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/shard_spec.h"
#include "kernels/cuda/cublaslt_gemm.h"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/kernel_math.h"
#include "kernels/cuda/llama_kernels.h"
#include "kernels/cuda/logits_summary.h"
#include "worker/cuda/device_buffer.h"
#include "worker/model/llama_weights.h"

namespace dsm {
namespace {

using cuda::CudaStatus;
using cuda::DeviceBuffer;
using cuda::PinnedBuffer;

#define DSM_RETURN_IF_ERROR(expr)                      \
  do {                                                 \
    if (absl::Status _s = (expr); !_s.ok()) return _s; \
  } while (0)

template <typename T>
constexpr cuda::GemmType kGemmType =
    std::is_same_v<T, float> ? cuda::GemmType::kF32 : cuda::GemmType::kBF16;

template <typename T>
constexpr DType kDType = std::is_same_v<T, float> ? DType::kF32 : DType::kBF16;

// Decode steps are padded up to one of these batch sizes so a captured graph fits them.
constexpr int kGraphBuckets[] = {1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512};

size_t AlignUp(size_t v, size_t a) { return (v + a - 1) / a * a; }

struct DeviceMatrix {
  DeviceBuffer buffer;
  size_t rows = 0, cols = 0;
};

struct DeviceLayer {
  DeviceMatrix qkv, o, gate_up, down;
  DeviceBuffer input_norm, post_norm;  // f32
};

// Picks and activates the rank's device; FAILED_PRECONDITION when there is none.
absl::StatusOr<int> SelectDevice(const ExecutorOptions& options, int rank, cudaDeviceProp* prop) {
  int count = 0;
  if (cudaError_t err = cudaGetDeviceCount(&count); err != cudaSuccess || count == 0) {
    cudaGetLastError();
    return absl::FailedPreconditionError(
        absl::StrCat("--backend cuda: no usable CUDA device (",
                     err == cudaSuccess ? "none visible" : cudaGetErrorString(err), ")"));
  }
  const int device = options.cuda_device >= 0 ? options.cuda_device : rank;
  if (device >= count) {
    return absl::FailedPreconditionError(
        absl::StrCat("--backend cuda: rank ", rank, " needs CUDA device ", device, " but only ",
                     count, " device", count == 1 ? " is" : "s are",
                     " visible on this node (one GPU per rank; check CUDA_VISIBLE_DEVICES)"));
  }
  DSM_RETURN_IF_ERROR(CudaStatus(cudaSetDevice(device), "cudaSetDevice"));
  DSM_RETURN_IF_ERROR(CudaStatus(cudaGetDeviceProperties(prop, device), "device properties"));
  return device;
}

template <typename T>
class CudaExecutorImpl : public ModelExecutor {
 public:
  CudaExecutorImpl(ModelConfig config, ShardSpec shard, Communicator* comm, ExecutorOptions options,
                   int device, const cudaDeviceProp& prop, bool tied_embeddings)
      : tied_(tied_embeddings),
        config_(std::move(config)),
        shard_(shard),
        local_(LocalDims(config_, shard.world_size)),
        comm_(comm),
        options_(std::move(options)),
        device_(device),
        prop_(prop) {}

  ~CudaExecutorImpl() override {
    for (auto& [bucket, exec] : graphs_) cudaGraphExecDestroy(exec);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  absl::Status Init() {
    if (config_.head_dim > 256 || config_.head_dim % 8 != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("the CUDA backend supports head_dim a multiple of 8 up to 256, the "
                       "model has ",
                       config_.head_dim));
    }
    if (options_.kv_block_size <= 0) {
      return absl::InvalidArgumentError("--kv-block-size must be > 0");
    }
    if (options_.max_step_tokens <= 0) {
      return absl::InvalidArgumentError("--max-step-tokens must be > 0");
    }
    if (!cuda::ParseGemvKernel(options_.gemv_kernel, &gemv_kernel_)) {
      return absl::InvalidArgumentError(absl::StrCat("unknown GEMV kernel '", options_.gemv_kernel,
                                                     "' (warp, rows1, rows2, rows4, rows8, "
                                                     "optionally with -cs and -pdl)"));
    }
    // Programmatic dependent launch needs Hopper or later.
    gemv_kernel_.overlap_previous = gemv_kernel_.overlap_previous && prop_.major >= 9;
    if (!(options_.gpu_memory_fraction > 0.0 && options_.gpu_memory_fraction <= 1.0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--gpu-memory-fraction must be in (0, 1], got ", options_.gpu_memory_fraction));
    }
    DSM_RETURN_IF_ERROR(CudaStatus(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking),
                                   "creating the compute stream"));
    return gemm_.Init();
  }

  // Allocates every weight tensor after checking that they fit in the free memory.
  absl::Status AllocateWeights() {
    const size_t h = config_.hidden_size, d = config_.head_dim;
    const size_t qkv_rows = (local_.heads + 2 * local_.kv_heads) * d;
    size_t elements = 2 * local_.vocab * h;  // embedding + lm_head (tied: counted once below)
    if (Tied()) elements -= local_.vocab * h;
    elements += config_.num_hidden_layers *
                (qkv_rows * h + h * local_.heads * d + 3 * local_.intermediate * h);
    const size_t bytes = elements * sizeof(T) + (2 * config_.num_hidden_layers + 1) * h * 4;
    size_t free = 0, total = 0;
    DSM_RETURN_IF_ERROR(CudaStatus(cudaMemGetInfo(&free, &total), "cudaMemGetInfo"));
    if (bytes > free) {
      return absl::ResourceExhaustedError(
          absl::StrCat("out of device memory loading weights: rank ", shard_.rank, " needs ",
                       bytes >> 20, " MiB but only ", free >> 20, " MiB of ", total >> 20,
                       " MiB are free on CUDA device ", device_, " (", prop_.name, ")"));
    }
    auto matrix = [&](DeviceMatrix& m, size_t rows, size_t cols, const std::string& what) {
      m.rows = rows;
      m.cols = cols;
      return m.buffer.Allocate(rows * cols * sizeof(T), what);
    };
    DSM_RETURN_IF_ERROR(matrix(embedding_, local_.vocab, h, "the embedding"));
    if (!Tied()) DSM_RETURN_IF_ERROR(matrix(lm_head_, local_.vocab, h, "the lm_head"));
    DSM_RETURN_IF_ERROR(final_norm_.Allocate(h * 4, "the final norm"));
    layers_.resize(config_.num_hidden_layers);
    for (DeviceLayer& l : layers_) {
      DSM_RETURN_IF_ERROR(matrix(l.qkv, qkv_rows, h, "q/k/v weights"));
      DSM_RETURN_IF_ERROR(matrix(l.o, h, local_.heads * d, "o_proj weights"));
      DSM_RETURN_IF_ERROR(matrix(l.gate_up, 2 * local_.intermediate, h, "gate/up weights"));
      DSM_RETURN_IF_ERROR(matrix(l.down, h, local_.intermediate, "down_proj weights"));
      DSM_RETURN_IF_ERROR(l.input_norm.Allocate(h * 4, "norm weights"));
      DSM_RETURN_IF_ERROR(l.post_norm.Allocate(h * 4, "norm weights"));
    }
    weight_bytes_ = bytes;
    return absl::OkStatus();
  }

  // Copies host weights (any checkpoint dtype) through two pinned staging buffers, so
  // converting one chunk overlaps copying the previous one.
  absl::Status UploadWeights(const LlamaWeights& host) {
    constexpr size_t kStagingBytes = 32 << 20;
    for (int i = 0; i < 2; ++i) {
      DSM_RETURN_IF_ERROR(staging_[i].Allocate(kStagingBytes, "weight staging"));
      DSM_RETURN_IF_ERROR(CudaStatus(cudaEventCreateWithFlags(&staged_[i], cudaEventDisableTiming),
                                     "staging event"));
    }
    auto upload = [&](const OwnedMatrix& src, DeviceMatrix& dst) -> absl::Status {
      if (src.rows != dst.rows || src.cols != dst.cols) {
        return absl::InternalError("host and device weight shapes differ");
      }
      const size_t count = src.rows * src.cols;
      const size_t chunk = kStagingBytes / sizeof(T);
      for (size_t begin = 0; begin < count; begin += chunk) {
        const size_t len = std::min(chunk, count - begin);
        const int buf = next_staging_;
        next_staging_ ^= 1;
        DSM_RETURN_IF_ERROR(CudaStatus(cudaEventSynchronize(staged_[buf]), "weight upload"));
        T* out = staging_[buf].template get<T>();
        if (src.dtype == kDType<T>) {
          std::memcpy(out, src.bytes.get() + begin * sizeof(T), len * sizeof(T));
        } else {
          for (size_t i = 0; i < len; ++i) {
            const float v = LoadAsFloat(src.bytes.get(), src.dtype, begin + i);
            if constexpr (std::is_same_v<T, float>) {
              out[i] = v;
            } else {
              out[i] = __float2bfloat16_rn(v);
            }
          }
        }
        DSM_RETURN_IF_ERROR(
            CudaStatus(cudaMemcpyAsync(dst.buffer.template get<T>() + begin, out, len * sizeof(T),
                                       cudaMemcpyHostToDevice, stream_),
                       "weight upload"));
        DSM_RETURN_IF_ERROR(CudaStatus(cudaEventRecord(staged_[buf], stream_), "weight upload"));
      }
      return absl::OkStatus();
    };
    auto vector = [&](const std::vector<float>& src, DeviceBuffer& dst) {
      return CudaStatus(cudaMemcpy(dst.get(), src.data(), src.size() * 4, cudaMemcpyHostToDevice),
                        "norm upload");
    };
    DSM_RETURN_IF_ERROR(upload(host.embedding, embedding_));
    if (!Tied()) DSM_RETURN_IF_ERROR(upload(host.lm_head, lm_head_));
    DSM_RETURN_IF_ERROR(vector(host.final_norm, final_norm_));
    for (size_t i = 0; i < layers_.size(); ++i) {
      const LlamaLayerWeights& src = host.layers[i];
      DeviceLayer& dst = layers_[i];
      DSM_RETURN_IF_ERROR(upload(src.qkv, dst.qkv));
      DSM_RETURN_IF_ERROR(upload(src.o, dst.o));
      DSM_RETURN_IF_ERROR(upload(src.gate_up, dst.gate_up));
      DSM_RETURN_IF_ERROR(upload(src.down, dst.down));
      DSM_RETURN_IF_ERROR(vector(src.input_norm, dst.input_norm));
      DSM_RETURN_IF_ERROR(vector(src.post_attention_norm, dst.post_norm));
    }
    DSM_RETURN_IF_ERROR(CudaStatus(cudaStreamSynchronize(stream_), "weight upload"));
    for (int i = 0; i < 2; ++i) {
      cudaEventDestroy(staged_[i]);
      staging_[i].Reset();
    }
    return absl::OkStatus();
  }

  // Uniform weights with variance 1/cols (activations keep their scale through the
  // layers) and unit norms.
  absl::Status RandomWeights(uint64_t seed) {
    auto fill = [&](DeviceMatrix& m) {
      cuda::FillUniform<T>(m.buffer.template get<T>(), m.rows * m.cols, seed++,
                           std::sqrt(3.0f / static_cast<float>(m.cols)), stream_);
    };
    std::vector<float> ones(config_.hidden_size, 1.0f);
    auto unit = [&](DeviceBuffer& b) {
      return CudaStatus(cudaMemcpy(b.get(), ones.data(), ones.size() * 4, cudaMemcpyHostToDevice),
                        "norm init");
    };
    fill(embedding_);
    if (!Tied()) fill(lm_head_);
    DSM_RETURN_IF_ERROR(unit(final_norm_));
    for (DeviceLayer& l : layers_) {
      fill(l.qkv);
      fill(l.o);
      fill(l.gate_up);
      fill(l.down);
      DSM_RETURN_IF_ERROR(unit(l.input_norm));
      DSM_RETURN_IF_ERROR(unit(l.post_norm));
    }
    return CudaStatus(cudaStreamSynchronize(stream_), "random weights");
  }

  // Activation buffers, step metadata, RoPE tables, then the KV pool from what is left.
  absl::Status AllocateRuntime() {
    const size_t n = options_.max_step_tokens, h = config_.hidden_size, d = config_.head_dim;
    max_seqs_ = std::max(1, options_.max_sequences);
    blocks_per_seq_ =
        (config_.max_position_embeddings + options_.kv_block_size - 1) / options_.kv_block_size;
    const size_t q_width = local_.heads * d, kv_width = local_.kv_heads * d;
    const size_t inter = local_.intermediate, world = shard_.world_size;
    auto act = [&](DeviceBuffer& b, size_t elements, const char* what) {
      return b.Allocate(elements * sizeof(T), what);
    };
    DSM_RETURN_IF_ERROR(hidden_.Allocate(n * h * sizeof(float), "the residual stream"));
    DSM_RETURN_IF_ERROR(act(normed_, n * h, "activations"));
    DSM_RETURN_IF_ERROR(act(proj_, n * h, "activations"));
    DSM_RETURN_IF_ERROR(act(qkv_, n * (q_width + 2 * kv_width), "activations"));
    DSM_RETURN_IF_ERROR(act(q_, n * q_width, "activations"));
    DSM_RETURN_IF_ERROR(act(attn_, n * q_width, "activations"));
    DSM_RETURN_IF_ERROR(act(gate_up_, n * 2 * inter, "activations"));
    DSM_RETURN_IF_ERROR(act(act_, n * inter, "activations"));
    DSM_RETURN_IF_ERROR(act(rows_normed_, max_seqs_ * h, "activations"));
    const size_t logits = max_seqs_ * local_.vocab;
    DSM_RETURN_IF_ERROR(logits_.Allocate(logits * 4, "logits"));
    if (world > 1) DSM_RETURN_IF_ERROR(gathered_.Allocate(world * logits * 4, "gathered logits"));
    DSM_RETURN_IF_ERROR(host_logits_.Allocate(world * logits * 4, "logits"));
    DSM_RETURN_IF_ERROR(greedy_.Allocate(max_seqs_ * 8, "greedy tokens"));
    DSM_RETURN_IF_ERROR(host_greedy_.Allocate(max_seqs_ * 8, "greedy tokens"));
    const size_t summary_bytes = max_seqs_ * sizeof(cuda::LogitsSummaryRecord);
    DSM_RETURN_IF_ERROR(summaries_.Allocate(summary_bytes, "logits summaries"));
    DSM_RETURN_IF_ERROR(host_summaries_.Allocate(summary_bytes, "logits summaries"));
    // Split attention fills about two waves: enough for long contexts, few partials to
    // merge for short ones.
    target_ctas_ = 2 * prop_.multiProcessorCount;
    DSM_RETURN_IF_ERROR(partials_.Allocate(2 * target_ctas_ * (d + 2) * 4, "attention partials"));
    DSM_RETURN_IF_ERROR(split_counters_.Allocate(target_ctas_ * 4, "attention counters"));
    DSM_RETURN_IF_ERROR(CudaStatus(cudaMemset(split_counters_.get(), 0, split_counters_.bytes()),
                                   "attention counters"));
    // Step metadata: ids, positions, token_seq (int32 per token), logit rows (int32 per
    // sequence), slots (int64 per token), block tables (int32 per sequence and block),
    // the summaries' uniforms (double) and temperatures (float) per sequence.
    metadata_bytes_ =
        AlignUp(AlignUp(3 * n * 4 + max_seqs_ * 4, 8) + n * 8 + max_seqs_ * blocks_per_seq_ * 4,
                8) +
        max_seqs_ * 12;
    DSM_RETURN_IF_ERROR(host_metadata_.Allocate(metadata_bytes_, "step metadata"));
    DSM_RETURN_IF_ERROR(device_metadata_.Allocate(metadata_bytes_, "step metadata"));

    const size_t half = d / 2, positions = config_.max_position_embeddings;
    std::vector<float> cos(positions * half), sin(positions * half);
    for (size_t p = 0; p < positions; ++p) {
      for (size_t i = 0; i < half; ++i) {
        const double angle =
            cuda_math::RopeAngle(p, i, d, config_.rope_theta, config_.rope_linear_factor);
        cos[p * half + i] = static_cast<float>(std::cos(angle));
        sin[p * half + i] = static_cast<float>(std::sin(angle));
      }
    }
    DSM_RETURN_IF_ERROR(rope_cos_.Allocate(cos.size() * 4, "RoPE tables"));
    DSM_RETURN_IF_ERROR(rope_sin_.Allocate(sin.size() * 4, "RoPE tables"));
    DSM_RETURN_IF_ERROR(CudaStatus(
        cudaMemcpy(rope_cos_.get(), cos.data(), cos.size() * 4, cudaMemcpyHostToDevice), "RoPE"));
    DSM_RETURN_IF_ERROR(CudaStatus(
        cudaMemcpy(rope_sin_.get(), sin.data(), sin.size() * 4, cudaMemcpyHostToDevice), "RoPE"));

    // KV pool: what the memory fraction leaves, capped at a full context per sequence.
    size_t free = 0, total = 0;
    DSM_RETURN_IF_ERROR(CudaStatus(cudaMemGetInfo(&free, &total), "cudaMemGetInfo"));
    const double reserved = (1.0 - options_.gpu_memory_fraction) * static_cast<double>(total);
    const size_t budget = free > reserved ? static_cast<size_t>(free - reserved) : 0;
    block_elements_ = options_.kv_block_size * kv_width;
    const size_t block_bytes = 2 * config_.num_hidden_layers * block_elements_ * sizeof(T);
    const size_t cap = blocks_per_seq_ * static_cast<size_t>(max_seqs_);
    num_blocks_ = std::min(budget / block_bytes, cap + 1);
    if (num_blocks_ < 2) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "no room for the KV cache on CUDA device ", device_, ": one block needs ", block_bytes,
          " bytes, ", budget >> 20, " MiB are left of --gpu-memory-fraction ",
          options_.gpu_memory_fraction, " (", free >> 20, " of ", total >> 20, " MiB free)"));
    }
    --num_blocks_;  // the last block absorbs the padding tokens of graph-replayed steps
    const size_t layer_elements = (num_blocks_ + 1) * block_elements_;
    DSM_RETURN_IF_ERROR(
        keys_.Allocate(config_.num_hidden_layers * layer_elements * sizeof(T), "the KV cache"));
    DSM_RETURN_IF_ERROR(
        values_.Allocate(config_.num_hidden_layers * layer_elements * sizeof(T), "the KV cache"));
    kv_bytes_ = keys_.bytes() + values_.bytes();
    return absl::OkStatus();
  }

  absl::StatusOr<StepOutput> Forward(std::span<const SequenceInput> batch) override {
    const int num_seqs = static_cast<int>(batch.size());
    int n = 0, rows = 0;
    bool decode = options_.cuda_graphs, full = false, greedy = false, summary = false;
    for (const SequenceInput& seq : batch) {
      n += static_cast<int>(seq.token_ids.size());
      rows += seq.want_logits ? 1 : 0;
      decode = decode && seq.token_ids.size() == 1 && seq.want_logits;
      // Rows that asked for a summary get one unless --device_sampling=false.
      const bool summarised = seq.summary && options_.device_sampling;
      full = full || (seq.want_logits && !seq.greedy_only && !summarised);
      greedy = greedy || (seq.want_logits && seq.greedy_only);
      summary = summary || (seq.want_logits && !seq.greedy_only && summarised);
    }
    // Only rank 0 samples, so only it brings rows (summaries, argmaxes) back to the host.
    if (shard_.rank != 0) full = greedy = summary = false;
    if (n > options_.max_step_tokens) {
      return absl::InvalidArgumentError(absl::StrCat("a step of ", n, " tokens exceeds the ",
                                                     options_.max_step_tokens,
                                                     " the CUDA buffers hold (--max-step-tokens)"));
    }
    if (num_seqs > max_seqs_) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a step of ", num_seqs, " sequences exceeds the ", max_seqs_, " the CUDA buffers hold"));
    }
    // Decode steps are padded to a graph bucket (when one fits the buffers).
    int padded_seqs = num_seqs;
    if (decode) {
      decode = false;
      for (int b : kGraphBuckets) {
        if (b >= num_seqs && b <= max_seqs_ && b <= options_.max_step_tokens) {
          padded_seqs = b;
          decode = true;
          break;
        }
      }
    }
    const int padded_n = decode ? padded_seqs : n;
    const int padded_rows = decode ? padded_seqs : rows;
    FillMetadata(batch, padded_seqs, padded_n, padded_rows);
    const int splits = Splits(padded_n);
    const Outputs outputs{full, greedy, summary};
    last_rows_ = padded_rows;

    const int graph_key = padded_seqs * 8 + (summary ? 4 : 0) + (full ? 2 : 0) + (greedy ? 1 : 0);
    if (decode && graphs_.contains(graph_key)) {
      DSM_RETURN_IF_ERROR(CudaStatus(cudaGraphLaunch(graphs_[graph_key], stream_), "graph launch"));
    } else if (decode && warmed_.contains(graph_key)) {
      DSM_RETURN_IF_ERROR(Capture(graph_key, padded_seqs, padded_n, padded_rows, splits, outputs));
    } else {
      DSM_RETURN_IF_ERROR(Enqueue(padded_seqs, padded_n, padded_rows, splits, outputs));
      if (decode) warmed_.insert(graph_key);
    }
    DSM_RETURN_IF_ERROR(Synchronize());

    StepOutput output;
    if (greedy) {
      const int32_t* ids = host_greedy_.template get<int32_t>();
      const float* logprobs = reinterpret_cast<const float*>(ids + max_seqs_);
      output.greedy_ids.assign(ids, ids + rows);
      output.greedy_logprobs.assign(logprobs, logprobs + rows);
    }
    if (summary) {
      const auto* records = host_summaries_.template get<cuda::LogitsSummaryRecord>();
      output.summaries.resize(rows);
      int r = 0;
      for (const SequenceInput& seq : batch) {
        if (!seq.want_logits) continue;
        const cuda::LogitsSummaryRecord& record = records[r];
        if (seq.summary && !seq.greedy_only) {
          LogitsSummary& s = output.summaries[r];
          s.max_logit = record.max_logit;
          s.log_z = record.log_z;
          s.mass = record.mass;
          s.drawn_id = record.drawn_id;
          s.drawn_logit = record.drawn_logit;
          s.ids.assign(record.ids, record.ids + record.count);
          s.logits.assign(record.logits, record.logits + record.count);
        }
        ++r;
      }
    }
    if (full) {
      const size_t vl = local_.vocab, world = shard_.world_size, vocab = config_.vocab_size;
      output.logits.resize(rows * vocab);
      const float* host = host_logits_.template get<float>();
      for (int r = 0; r < rows; ++r) {
        for (size_t w = 0; w < world; ++w) {
          std::memcpy(output.logits.data() + r * vocab + w * vl, host + (w * padded_rows + r) * vl,
                      vl * sizeof(float));
        }
      }
    }
    return output;
  }

  absl::StatusOr<std::vector<float>> LastStepLogits(size_t row) override {
    if (shard_.rank != 0 || static_cast<int>(row) >= last_rows_) {
      return absl::InvalidArgumentError(
          absl::StrCat("no logits row ", row, " in the last step on this rank"));
    }
    const size_t vl = local_.vocab, world = shard_.world_size;
    const float* result = static_cast<const float*>(world > 1 ? gathered_.get() : logits_.get());
    std::vector<float> logits(config_.vocab_size);
    for (size_t w = 0; w < world; ++w) {
      DSM_RETURN_IF_ERROR(
          CudaStatus(cudaMemcpyAsync(logits.data() + w * vl, result + (w * last_rows_ + row) * vl,
                                     vl * sizeof(float), cudaMemcpyDeviceToHost, stream_),
                     "logits row download"));
    }
    DSM_RETURN_IF_ERROR(CudaStatus(cudaStreamSynchronize(stream_), "logits row download"));
    return logits;
  }

  ExecutorInfo Info() const override {
    ExecutorInfo info;
    info.backend = "cuda";
    info.device = absl::StrCat(prop_.name, " (device ", device_, ", sm_", prop_.major, prop_.minor,
                               "), ", std::is_same_v<T, float> ? "fp32" : "bf16");
    info.threads = 1;
    info.weight_bytes = weight_bytes_;
    info.kv_cache_bytes = kv_bytes_;
    info.kv_block_size = options_.kv_block_size;
    info.kv_num_blocks = num_blocks_;
    return info;
  }

  const ModelConfig& config() const override { return config_; }

 private:
  bool Tied() const { return tied_; }

  // Attention splits for n query tokens: enough thread blocks to fill the GPU when few
  // queries decode over long contexts; 1 when the queries alone fill it.
  int Splits(int n) const {
    const int items = n * static_cast<int>(local_.heads);
    if (items >= target_ctas_) return 1;
    return std::min(16, (target_ctas_ + items - 1) / items);  // the kernel's maximum
  }

  // Metadata layout in the arenas (see AllocateRuntime), for n tokens and s sequences.
  struct Layout {
    size_t ids, positions, token_seq, logit_rows, slots, tables, uniforms, temperatures, end;
  };
  Layout LayoutFor(int n, int s) const {
    Layout l;
    l.ids = 0;
    l.positions = l.ids + n * 4;
    l.token_seq = l.positions + n * 4;
    l.logit_rows = l.token_seq + n * 4;
    l.slots = AlignUp(l.logit_rows + s * 4, 8);
    l.tables = l.slots + n * 8;
    l.uniforms = AlignUp(l.tables + static_cast<size_t>(s) * blocks_per_seq_ * 4, 8);
    l.temperatures = l.uniforms + s * 8;
    l.end = l.temperatures + s * 4;
    return l;
  }

  // Writes the step's metadata into the pinned arena. Sequences past the batch (graph
  // padding) feed token 0 at position 0 into the scratch block.
  void FillMetadata(std::span<const SequenceInput> batch, int padded_seqs, int padded_n,
                    int padded_rows) {
    const Layout l = LayoutFor(padded_n, padded_seqs);
    uint8_t* base = host_metadata_.template get<uint8_t>();
    auto* ids = reinterpret_cast<int32_t*>(base + l.ids);
    auto* positions = reinterpret_cast<int32_t*>(base + l.positions);
    auto* token_seq = reinterpret_cast<int32_t*>(base + l.token_seq);
    auto* logit_rows = reinterpret_cast<int32_t*>(base + l.logit_rows);
    auto* slots = reinterpret_cast<int64_t*>(base + l.slots);
    auto* tables = reinterpret_cast<int32_t*>(base + l.tables);
    auto* uniforms = reinterpret_cast<double*>(base + l.uniforms);
    auto* temperatures = reinterpret_cast<float*>(base + l.temperatures);
    const int bs = options_.kv_block_size;
    int t = 0, r = 0;
    for (int s = 0; s < padded_seqs; ++s) {
      int32_t* table = tables + static_cast<size_t>(s) * blocks_per_seq_;
      if (s < static_cast<int>(batch.size())) {
        const SequenceInput& seq = batch[s];
        const size_t blocks = std::min<size_t>(seq.block_table.size(), blocks_per_seq_);
        std::memcpy(table, seq.block_table.data(), blocks * 4);
        for (size_t i = 0; i < seq.token_ids.size(); ++i, ++t) {
          const int64_t pos = seq.start_position + static_cast<int64_t>(i);
          ids[t] = seq.token_ids[i];
          positions[t] = static_cast<int32_t>(pos);
          token_seq[t] = s;
          slots[t] = cuda_math::KvSlot(table, pos, bs);
        }
        if (seq.want_logits) {
          uniforms[r] = seq.uniform;
          temperatures[r] = seq.summary ? seq.temperature : 0.0f;
          logit_rows[r++] = t - 1;
        }
      } else {
        table[0] = static_cast<int32_t>(num_blocks_);  // the scratch block
        ids[t] = 0;
        positions[t] = 0;
        token_seq[t] = s;
        slots[t] = static_cast<int64_t>(num_blocks_) * bs;
        uniforms[r] = 0.0;
        temperatures[r] = 0.0f;
        logit_rows[r++] = t;
        ++t;
      }
    }
    (void)padded_rows;
  }

  T* Buf(const DeviceBuffer& b) const { return b.template get<T>(); }
  T* KeyCache(size_t layer) const {
    return keys_.template get<T>() + layer * (num_blocks_ + 1) * block_elements_;
  }
  T* ValueCache(size_t layer) const {
    return values_.template get<T>() + layer * (num_blocks_ + 1) * block_elements_;
  }

  absl::Status AllReduce(const DeviceBuffer& b, size_t count) {
    if (shard_.world_size == 1) return absl::OkStatus();
    return comm_->AllReduceSum(
        CommBuffer{b.get(), count, kDType<T>, MemorySpace::kDevice, stream_});
  }

  // Batch-1 bf16 products (decode) go to the bandwidth-bound GEMV kernel, the rest to
  // cuBLASLt: measured on an H100 (7B decode step), the GEMV beats cuBLASLt at 1 token
  // (5.4 vs 5.9 ms) and loses at 8 (9.2 vs 6.4 ms); a variant that also formed
  // silu(gate) * up inside the down-projection GEMV ran slower at 1 token (6.5 ms), so
  // SiLU stays a kernel of its own. fp32 mode always uses cuBLASLt.
  static constexpr int kGemvMaxTokens = 1;
  absl::Status Gemm(const void* x, int n, const DeviceMatrix& w, void* y, bool y_f32 = false) {
    if constexpr (!std::is_same_v<T, float>) {
      if (options_.custom_gemv && n <= kGemvMaxTokens &&
          cuda::GemvBf16(static_cast<const T*>(x), n, w.buffer.template get<T>(), w.rows, w.cols, y,
                         y_f32, stream_, gemv_kernel_)) {
        return absl::OkStatus();
      }
    }
    return gemm_.Run(x, n, w.buffer.get(), w.rows, w.cols, kGemmType<T>, y,
                     y_f32 ? cuda::GemmType::kF32 : kGemmType<T>, stream_);
  }
  absl::Status Gemm(const DeviceBuffer& x, int n, const DeviceMatrix& w, const DeviceBuffer& y) {
    return Gemm(x.get(), n, w, y.get());
  }

  // Decode steps of one token: the q/k/v GEMV rotates and stores q, k and v itself and the
  // gate/up GEMV stores silu(gate) * up, the same bits as the kernels they replace, two
  // launches fewer per layer (60 of ~270 on the 7B); false where that does not apply
  // (fp32, more tokens, cuBLASLt or the warp GEMV, or switched off).
  bool Fusing(int n) const {
    return options_.custom_gemv && options_.fuse_decode_epilogues && n <= kGemvMaxTokens;
  }
  bool QkvRopeFused(int n, const DeviceMatrix& qkv, const int32_t* positions, const int64_t* slots,
                    size_t layer) {
    if constexpr (std::is_same_v<T, float>) {
      return false;
    } else {
      cuda::QkvRopeOutputs out;
      out.positions = positions;
      out.slots = slots;
      out.cos = rope_cos_.template get<float>();
      out.sin = rope_sin_.template get<float>();
      out.heads = static_cast<int>(local_.heads);
      out.kv_heads = static_cast<int>(local_.kv_heads);
      out.head_dim = static_cast<int>(config_.head_dim);
      out.q = q_.template get<T>();
      out.k_cache = KeyCache(layer);
      out.v_cache = ValueCache(layer);
      return Fusing(n) &&
             cuda::GemvBf16QkvRope(normed_.template get<T>(), n, qkv.buffer.template get<T>(),
                                   static_cast<int>(qkv.cols), out, stream_, gemv_kernel_);
    }
  }
  bool GateUpSiluFused(int n, const DeviceMatrix& gate_up) {
    if constexpr (std::is_same_v<T, float>) {
      return false;
    } else {
      return Fusing(n) && cuda::GemvBf16SiluMul(
                              normed_.template get<T>(), n, gate_up.buffer.template get<T>(),
                              static_cast<int>(local_.intermediate), static_cast<int>(gate_up.cols),
                              act_.template get<T>(), stream_, gemv_kernel_);
    }
  }

  // What rank 0 brings back to the host: full logits rows, device argmaxes, or both.
  struct Outputs {
    bool full = false;
    bool greedy = false;
    bool summary = false;
  };

  // Enqueues the whole step on the stream: metadata upload, forward, outputs download.
  absl::Status Enqueue(int num_seqs, int n, int rows, int splits, Outputs outputs) {
    const Layout l = LayoutFor(n, num_seqs);
    DSM_RETURN_IF_ERROR(CudaStatus(cudaMemcpyAsync(device_metadata_.get(), host_metadata_.get(),
                                                   l.end, cudaMemcpyHostToDevice, stream_),
                                   "step metadata upload"));
    uint8_t* dev = device_metadata_.template get<uint8_t>();
    const auto* ids = reinterpret_cast<const int32_t*>(dev + l.ids);
    const auto* positions = reinterpret_cast<const int32_t*>(dev + l.positions);
    const auto* token_seq = reinterpret_cast<const int32_t*>(dev + l.token_seq);
    const auto* logit_rows = reinterpret_cast<const int32_t*>(dev + l.logit_rows);
    const auto* slots = reinterpret_cast<const int64_t*>(dev + l.slots);
    const auto* tables = reinterpret_cast<const int32_t*>(dev + l.tables);
    const auto* uniforms = reinterpret_cast<const double*>(dev + l.uniforms);
    const auto* temperatures = reinterpret_cast<const float*>(dev + l.temperatures);

    const int h = config_.hidden_size, d = config_.head_dim;
    const float eps = static_cast<float>(config_.rms_norm_eps);
    cuda::EmbeddingGather<T>(ids, n, Buf(embedding_.buffer), shard_.rank * local_.vocab,
                             local_.vocab, h, Buf(proj_), stream_);
    DSM_RETURN_IF_ERROR(AllReduce(proj_, static_cast<size_t>(n) * h));
    float* residual = hidden_.template get<float>();
    cuda::AttentionShape shape;
    shape.heads = local_.heads;
    shape.kv_heads = local_.kv_heads;
    shape.head_dim = d;
    shape.block_size = options_.kv_block_size;
    shape.max_blocks_per_seq = blocks_per_seq_;
    shape.scale = 1.0f / std::sqrt(static_cast<float>(d));
    for (size_t i = 0; i < layers_.size(); ++i) {
      const DeviceLayer& w = layers_[i];
      // Layer 0 starts the residual stream from the embedding (in proj_).
      cuda::AddRmsNorm<T>(residual, Buf(proj_), /*accumulate=*/i > 0,
                          w.input_norm.template get<float>(), n, h, eps, Buf(normed_), stream_);
      if (!QkvRopeFused(n, w.qkv, positions, slots, i)) {
        DSM_RETURN_IF_ERROR(Gemm(normed_, n, w.qkv, qkv_));
        cuda::RopeStoreKv<T>(Buf(qkv_), n, positions, slots, rope_cos_.template get<float>(),
                             rope_sin_.template get<float>(), local_.heads, local_.kv_heads, d,
                             Buf(q_), KeyCache(i), ValueCache(i), stream_);
      }
      cuda::PagedAttention<T>(Buf(q_), n, positions, token_seq, tables, KeyCache(i), ValueCache(i),
                              shape, splits, partials_.template get<float>(),
                              split_counters_.template get<int>(), Buf(attn_), stream_);
      DSM_RETURN_IF_ERROR(Gemm(attn_, n, w.o, proj_));
      DSM_RETURN_IF_ERROR(AllReduce(proj_, static_cast<size_t>(n) * h));
      cuda::AddRmsNorm<T>(residual, Buf(proj_), /*accumulate=*/true,
                          w.post_norm.template get<float>(), n, h, eps, Buf(normed_), stream_);
      if (!GateUpSiluFused(n, w.gate_up)) {
        DSM_RETURN_IF_ERROR(Gemm(normed_, n, w.gate_up, gate_up_));
        cuda::SiluMul<T>(Buf(gate_up_), n, local_.intermediate, Buf(act_), stream_);
      }
      DSM_RETURN_IF_ERROR(Gemm(act_, n, w.down, proj_));
      DSM_RETURN_IF_ERROR(AllReduce(proj_, static_cast<size_t>(n) * h));
    }
    cuda::AddRmsNorm<T>(residual, Buf(proj_), /*accumulate=*/true,
                        final_norm_.template get<float>(), n, h, eps, Buf(normed_), stream_);
    if (rows == 0) return CudaStatus(cudaGetLastError(), "forward kernels");
    cuda::GatherRows<T>(Buf(normed_), logit_rows, rows, h, Buf(rows_normed_), stream_);
    const DeviceMatrix& out = Tied() ? embedding_ : lm_head_;
    const size_t vl = local_.vocab;
    DSM_RETURN_IF_ERROR(Gemm(rows_normed_.get(), rows, out, logits_.get(), /*y_f32=*/true));
    const void* result = logits_.get();
    const size_t count = static_cast<size_t>(rows) * vl;
    if (shard_.world_size > 1) {
      DSM_RETURN_IF_ERROR(comm_->AllGather(
          CommBuffer{logits_.get(), count, DType::kF32, MemorySpace::kDevice, stream_},
          CommBuffer{gathered_.get(), count * shard_.world_size, DType::kF32, MemorySpace::kDevice,
                     stream_}));
      result = gathered_.get();
    }
    if (outputs.greedy) {
      int32_t* ids = greedy_.template get<int32_t>();
      cuda::ArgmaxLogprob(static_cast<const float*>(result), rows, shard_.world_size, vl, ids,
                          reinterpret_cast<float*>(ids + max_seqs_), stream_);
      DSM_RETURN_IF_ERROR(
          CudaStatus(cudaMemcpyAsync(host_greedy_.get(), greedy_.get(), greedy_.bytes(),
                                     cudaMemcpyDeviceToHost, stream_),
                     "greedy tokens download"));
    }
    if (outputs.summary) {
      auto* records = summaries_.template get<cuda::LogitsSummaryRecord>();
      cuda::SummarizeLogits(static_cast<const float*>(result), rows, shard_.world_size, vl,
                            temperatures, uniforms, records, stream_);
      DSM_RETURN_IF_ERROR(CudaStatus(
          cudaMemcpyAsync(host_summaries_.get(), records, rows * sizeof(cuda::LogitsSummaryRecord),
                          cudaMemcpyDeviceToHost, stream_),
          "logits summaries download"));
    }
    if (outputs.full) {
      DSM_RETURN_IF_ERROR(CudaStatus(
          cudaMemcpyAsync(host_logits_.get(), result, count * shard_.world_size * sizeof(float),
                          cudaMemcpyDeviceToHost, stream_),
          "logits download"));
    }
    return CudaStatus(cudaGetLastError(), "forward kernels");
  }

  absl::Status Capture(int key, int num_seqs, int n, int rows, int splits, Outputs outputs) {
    DSM_RETURN_IF_ERROR(CudaStatus(
        cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "graph capture"));
    absl::Status enqueued = Enqueue(num_seqs, n, rows, splits, outputs);
    cudaGraph_t graph = nullptr;
    const cudaError_t ended = cudaStreamEndCapture(stream_, &graph);
    if (!enqueued.ok()) return enqueued;
    DSM_RETURN_IF_ERROR(CudaStatus(ended, "graph capture"));
    cudaGraphExec_t exec = nullptr;
    const cudaError_t made = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    DSM_RETURN_IF_ERROR(CudaStatus(made, "graph instantiation"));
    graphs_[key] = exec;
    return CudaStatus(cudaGraphLaunch(exec, stream_), "graph launch");
  }

  absl::Status Synchronize() {
    if (shard_.world_size > 1) {
      const auto timeout = std::chrono::milliseconds(int64_t{1000} * 600);
      DSM_RETURN_IF_ERROR(comm_->Synchronize(stream_, timeout));
    }
    return CudaStatus(cudaStreamSynchronize(stream_), "step");
  }

  bool tied_;  // the lm_head is the embedding
  ModelConfig config_;
  ShardSpec shard_;
  ShardDims local_;
  Communicator* comm_;
  ExecutorOptions options_;
  int device_;
  cudaDeviceProp prop_;
  cudaStream_t stream_ = nullptr;
  cuda::CublasLtGemm gemm_;

  DeviceMatrix embedding_, lm_head_;
  DeviceBuffer final_norm_;
  std::vector<DeviceLayer> layers_;
  size_t weight_bytes_ = 0;
  PinnedBuffer staging_[2];
  cudaEvent_t staged_[2] = {nullptr, nullptr};
  int next_staging_ = 0;

  int max_seqs_ = 0;
  size_t blocks_per_seq_ = 0;
  int target_ctas_ = 0;
  DeviceBuffer hidden_, normed_, proj_, qkv_, q_, attn_, gate_up_, act_, rows_normed_;
  DeviceBuffer logits_, gathered_, partials_, split_counters_, rope_cos_, rope_sin_;
  DeviceBuffer device_metadata_;
  PinnedBuffer host_logits_, host_metadata_;
  DeviceBuffer greedy_;  // ids [max_seqs_] then logprobs [max_seqs_]
  PinnedBuffer host_greedy_;
  DeviceBuffer summaries_;  // LogitsSummaryRecord per row
  PinnedBuffer host_summaries_;
  int last_rows_ = 0;  // rows (padded) of the last step's logits
  cuda::GemvKernel gemv_kernel_;
  size_t metadata_bytes_ = 0;

  size_t block_elements_ = 0;  // one block of K (or V) in one layer
  size_t num_blocks_ = 0;      // usable blocks; block num_blocks_ is the scratch block
  DeviceBuffer keys_, values_;
  size_t kv_bytes_ = 0;

  std::set<int> warmed_;
  std::map<int, cudaGraphExec_t> graphs_;
};

template <typename T>
absl::StatusOr<std::unique_ptr<ModelExecutor>> Build(const ModelConfig& config,
                                                     const ExecutorOptions& options,
                                                     Communicator* comm,
                                                     const Checkpoint* checkpoint, uint64_t seed) {
  const ShardSpec shard{comm->rank(), comm->world_size()};
  if (absl::Status s = ValidateShardable(config, shard.world_size); !s.ok()) return s;
  cudaDeviceProp prop;
  absl::StatusOr<int> device = SelectDevice(options, shard.rank, &prop);
  if (!device.ok()) return device.status();
  const bool tied = config.tie_word_embeddings ||
                    (checkpoint != nullptr && !checkpoint->Contains("lm_head.weight"));
  auto impl =
      std::make_unique<CudaExecutorImpl<T>>(config, shard, comm, options, *device, prop, tied);
  if (absl::Status s = impl->Init(); !s.ok()) return s;
  if (absl::Status s = impl->AllocateWeights(); !s.ok()) return s;
  if (checkpoint != nullptr) {
    absl::StatusOr<LlamaWeights> host = LoadLlamaWeights(*checkpoint, shard, options.progress);
    if (!host.ok()) return host.status();
    if (absl::Status s = impl->UploadWeights(*host); !s.ok()) return s;
  } else if (absl::Status s = impl->RandomWeights(seed); !s.ok()) {
    return s;
  }
  if (absl::Status s = impl->AllocateRuntime(); !s.ok()) return s;
  return std::unique_ptr<ModelExecutor>(std::move(impl));
}

absl::StatusOr<std::unique_ptr<ModelExecutor>> BuildForPrecision(const ModelConfig& config,
                                                                 const ExecutorOptions& options,
                                                                 Communicator* comm,
                                                                 const Checkpoint* checkpoint,
                                                                 uint64_t seed) {
  if (options.cuda_precision == "bf16") {
    return Build<__nv_bfloat16>(config, options, comm, checkpoint, seed);
  }
  if (options.cuda_precision == "fp32")
    return Build<float>(config, options, comm, checkpoint, seed);
  return absl::InvalidArgumentError(
      absl::StrCat("--precision must be bf16 or fp32, got \"", options.cuda_precision, "\""));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ModelExecutor>> CreateCudaExecutor(const ExecutorOptions& options,
                                                                  const Checkpoint& checkpoint,
                                                                  Communicator* comm) {
  return BuildForPrecision(checkpoint.config(), options, comm, &checkpoint, 0);
}

absl::StatusOr<std::unique_ptr<ModelExecutor>> CreateCudaExecutorWithRandomWeights(
    const ModelConfig& config, const ExecutorOptions& options, Communicator* comm, uint64_t seed) {
  return BuildForPrecision(config, options, comm, nullptr, seed);
}

}  // namespace dsm
