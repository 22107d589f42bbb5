#pragma once
// Element-wise and per-row operations of a LLaMA layer, fp32 activations.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dsm {

// out[t] = x[t] / rms(x[t]) * weight, for n rows of `dim` values. out may alias x.
void RmsNorm(const float* x, const float* weight, size_t n, size_t dim, float eps, float* out);

// x[i] += y[i]
void AddInPlace(float* x, const float* y, size_t count);

// gate_up holds n rows of [gate (width) | up (width)]; out[t] = silu(gate) * up.
void SiluMul(const float* gate_up, size_t n, size_t width, float* out);

// cos/sin of RoPE angles for every position, HF rotate_half convention:
// angle(pos, i) = (pos / linear_factor) * theta^(-2i / head_dim), i < head_dim / 2.
class RopeTable {
 public:
  RopeTable(size_t max_positions, size_t head_dim, double theta, double linear_factor);

  // Rotates `heads` consecutive head vectors of x (each head_dim wide) for position pos.
  void Apply(float* x, size_t heads, int64_t pos) const;

 private:
  size_t half_ = 0;
  std::vector<float> cos_;  // [max_positions, half]
  std::vector<float> sin_;
};

}  // namespace dsm
