#include "worker/model/llama_weights.h"

#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/huge_pages.h"

namespace dsm {

namespace {

// A slice of a 2-D tensor: rows [row_begin, row_begin + row_count) and columns
// [col_begin, col_begin + col_count).
struct Slice {
  std::string name;
  int64_t rows = 0;  // full shape expected by config.json
  int64_t cols = 0;
  int64_t row_begin = 0;
  int64_t row_count = 0;
  int64_t col_begin = 0;
  int64_t col_count = 0;
};

class ShardLoader {
 public:
  ShardLoader(const Checkpoint& checkpoint, const LoadProgress& progress, size_t total)
      : checkpoint_(checkpoint), progress_(progress), total_(total) {}

  // Copies the slices one under another into a single matrix (fusing q/k/v or gate/up).
  absl::StatusOr<OwnedMatrix> LoadStacked(const std::vector<Slice>& slices,
                                          WeightLayout layout = WeightLayout::kRowMajor) {
    std::vector<const TensorView*> views;
    size_t rows = 0;
    for (const Slice& s : slices) {
      absl::StatusOr<const TensorView*> view = Checked(s);
      if (!view.ok()) return view.status();
      if (!views.empty() && (*view)->dtype != views[0]->dtype) {
        return absl::InvalidArgumentError(absl::StrCat(
            "tensor ", s.name, " is ", DTypeName((*view)->dtype), " but ", views[0]->name, " is ",
            DTypeName(views[0]->dtype), "; fused tensors must share a dtype"));
      }
      views.push_back(*view);
      rows += s.row_count;
    }
    if (layout == WeightLayout::kPairPanels && views[0]->dtype != DType::kBF16) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--activation-dtype bf16 multiplies bf16 weights, but ", slices[0].name, " is ",
          DTypeName(views[0]->dtype), " (use --activation-dtype f32 for this checkpoint)"));
    }
    OwnedMatrix m;
    m.dtype = views[0]->dtype;
    m.rows = rows;
    m.cols = slices[0].col_count;
    m.layout = layout;
    const size_t elem = DTypeSize(m.dtype);
    m.bytes = hwy::AllocateAligned<uint8_t>(std::max<size_t>(1, m.num_bytes()));
    if (m.bytes == nullptr) {
      return absl::ResourceExhaustedError(
          absl::StrCat("out of memory: ", m.num_bytes(), " bytes for ", slices[0].name));
    }
    AdviseHugePages(m.bytes.get(), m.num_bytes());  // decode streams it every step
    uint8_t* dst = m.bytes.get();
    std::vector<const void*> row_sources;  // panel layout: packed once all are known
    size_t row = 0;
    for (size_t i = 0; i < slices.size(); ++i) {
      const Slice& s = slices[i];
      for (int64_t r = 0; r < s.row_count; ++r, ++row) {
        const uint8_t* src = views[i]->data + ((s.row_begin + r) * s.cols + s.col_begin) * elem;
        if (layout != WeightLayout::kRowMajor) {
          row_sources.push_back(src);
        } else {
          std::memcpy(dst + row * m.cols * elem, src, s.col_count * elem);
        }
      }
      if (layout == WeightLayout::kRowMajor) {
        checkpoint_.Release(*views[i]);
        Advance(s.row_count * s.col_count * elem);
      }
    }
    if (layout == WeightLayout::kPairPanels) {
      PackPairRows(row_sources, m.cols, dst);
    } else if (layout == WeightLayout::kPanels) {
      PackRows(row_sources, m.dtype, m.cols, dst);
    }
    if (layout != WeightLayout::kRowMajor) {
      for (const TensorView* view : views) checkpoint_.Release(*view);
      Advance(m.rows * m.cols * elem);
    }
    return m;
  }

  // A replicated 1-D tensor (norm weights), converted to f32.
  absl::StatusOr<std::vector<float>> LoadVector(const std::string& name, int64_t size) {
    absl::StatusOr<const TensorView*> view = checkpoint_.Find(name);
    if (!view.ok()) return view.status();
    if ((*view)->shape != std::vector<int64_t>{size}) {
      return ShapeError(**view, absl::StrCat("[", size, "]"));
    }
    std::vector<float> out(size);
    for (int64_t i = 0; i < size; ++i) out[i] = LoadAsFloat((*view)->data, (*view)->dtype, i);
    Advance(size * DTypeSize((*view)->dtype));
    return out;
  }

 private:
  absl::StatusOr<const TensorView*> Checked(const Slice& s) {
    absl::StatusOr<const TensorView*> view = checkpoint_.Find(s.name);
    if (!view.ok()) return view.status();
    if ((*view)->shape != std::vector<int64_t>{s.rows, s.cols}) {
      return ShapeError(**view, absl::StrCat("[", s.rows, ", ", s.cols, "]"));
    }
    return view;
  }

  static absl::Status ShapeError(const TensorView& view, const std::string& expected) {
    return absl::InvalidArgumentError(absl::StrCat(view.file, ": tensor ", view.name, " has shape ",
                                                   view.ShapeString(), " but config.json implies ",
                                                   expected));
  }

  void Advance(size_t bytes) {
    loaded_ += bytes;
    if (progress_) progress_(loaded_, total_);
  }

  const Checkpoint& checkpoint_;
  const LoadProgress& progress_;
  size_t total_;
  size_t loaded_ = 0;
};

}  // namespace

size_t LlamaWeights::num_bytes() const {
  size_t n = embedding.num_bytes() + lm_head.num_bytes() + final_norm.size() * 4;
  for (const LlamaLayerWeights& l : layers) {
    n += l.qkv.num_bytes() + l.o.num_bytes() + l.gate_up.num_bytes() + l.down.num_bytes() +
         (l.input_norm.size() + l.post_attention_norm.size()) * 4;
  }
  return n;
}

absl::StatusOr<LlamaWeights> LoadLlamaWeights(const Checkpoint& checkpoint, const ShardSpec& shard,
                                              const LoadProgress& progress, WeightLayout layout) {
  const ModelConfig& c = checkpoint.config();
  if (absl::Status s = ValidateShardable(c, shard.world_size); !s.ok()) return s;
  const ShardDims local = LocalDims(c, shard.world_size);
  const int64_t r = shard.rank;
  const int64_t hidden = c.hidden_size;
  const int64_t d = c.head_dim;
  const bool tied = c.tie_word_embeddings || !checkpoint.Contains("lm_head.weight");
  const bool output_copy = !tied || layout != WeightLayout::kRowMajor;

  // Bytes this rank copies, for progress reporting (weights in the config's dtype).
  const size_t elem = DTypeSize(c.torch_dtype);
  const size_t per_layer = (local.heads + 2 * local.kv_heads) * d * hidden +
                           hidden * local.heads * d + 3 * local.intermediate * hidden + 2 * hidden;
  const size_t total = elem * (per_layer * c.num_hidden_layers +
                               (output_copy ? 2 : 1) * local.vocab * hidden + hidden);
  ShardLoader loader(checkpoint, progress, total);

  auto column_parallel = [&](const std::string& name, int64_t rows, int64_t local_rows) {
    return Slice{name, rows, hidden, r * local_rows, local_rows, 0, hidden};
  };
  auto row_parallel = [&](const std::string& name, int64_t cols, int64_t local_cols) {
    return Slice{name, hidden, cols, 0, hidden, r * local_cols, local_cols};
  };

  LlamaWeights w;
  absl::StatusOr<OwnedMatrix> embedding =
      loader.LoadStacked({column_parallel("model.embed_tokens.weight", c.vocab_size, local.vocab)});
  if (!embedding.ok()) return embedding.status();
  w.embedding = *std::move(embedding);
  if (output_copy) {
    absl::StatusOr<OwnedMatrix> lm_head =
        loader.LoadStacked({column_parallel(tied ? "model.embed_tokens.weight" : "lm_head.weight",
                                            c.vocab_size, local.vocab)},
                           layout);
    if (!lm_head.ok()) return lm_head.status();
    w.lm_head = *std::move(lm_head);
  }
  absl::StatusOr<std::vector<float>> final_norm = loader.LoadVector("model.norm.weight", hidden);
  if (!final_norm.ok()) return final_norm.status();
  w.final_norm = *std::move(final_norm);

  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = absl::StrCat("model.layers.", i, ".");
    LlamaLayerWeights layer;
    absl::StatusOr<OwnedMatrix> qkv = loader.LoadStacked(
        {
            column_parallel(p + "self_attn.q_proj.weight", c.q_size(), local.heads * d),
            column_parallel(p + "self_attn.k_proj.weight", c.kv_size(), local.kv_heads * d),
            column_parallel(p + "self_attn.v_proj.weight", c.kv_size(), local.kv_heads * d),
        },
        layout);
    if (!qkv.ok()) return qkv.status();
    layer.qkv = *std::move(qkv);
    absl::StatusOr<OwnedMatrix> o = loader.LoadStacked(
        {row_parallel(p + "self_attn.o_proj.weight", c.q_size(), local.heads * d)}, layout);
    if (!o.ok()) return o.status();
    layer.o = *std::move(o);
    absl::StatusOr<OwnedMatrix> gate_up = loader.LoadStacked(
        {
            column_parallel(p + "mlp.gate_proj.weight", c.intermediate_size, local.intermediate),
            column_parallel(p + "mlp.up_proj.weight", c.intermediate_size, local.intermediate),
        },
        layout);
    if (!gate_up.ok()) return gate_up.status();
    layer.gate_up = *std::move(gate_up);
    absl::StatusOr<OwnedMatrix> down = loader.LoadStacked(
        {row_parallel(p + "mlp.down_proj.weight", c.intermediate_size, local.intermediate)},
        layout);
    if (!down.ok()) return down.status();
    layer.down = *std::move(down);
    absl::StatusOr<std::vector<float>> in_norm =
        loader.LoadVector(p + "input_layernorm.weight", hidden);
    if (!in_norm.ok()) return in_norm.status();
    layer.input_norm = *std::move(in_norm);
    absl::StatusOr<std::vector<float>> post_norm =
        loader.LoadVector(p + "post_attention_layernorm.weight", hidden);
    if (!post_norm.ok()) return post_norm.status();
    layer.post_attention_norm = *std::move(post_norm);
    w.layers.push_back(std::move(layer));
  }
  return w;
}

}  // namespace dsm
