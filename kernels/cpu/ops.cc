#include "kernels/cpu/ops.h"

#include <cmath>

namespace dsm {

void RmsNorm(const float* x, const float* weight, size_t n, size_t dim, float eps, float* out) {
  for (size_t t = 0; t < n; ++t) {
    const float* row = x + t * dim;
    double sum_sq = 0.0;
    for (size_t i = 0; i < dim; ++i) sum_sq += static_cast<double>(row[i]) * row[i];
    const float scale = static_cast<float>(1.0 / std::sqrt(sum_sq / dim + eps));
    float* dst = out + t * dim;
    for (size_t i = 0; i < dim; ++i) dst[i] = row[i] * scale * weight[i];
  }
}

void AddInPlace(float* x, const float* y, size_t count) {
  for (size_t i = 0; i < count; ++i) x[i] += y[i];
}

RopeTable::RopeTable(size_t max_positions, size_t head_dim, double theta, double linear_factor)
    : half_(head_dim / 2), cos_(max_positions * half_), sin_(max_positions * half_) {
  for (size_t pos = 0; pos < max_positions; ++pos) {
    for (size_t i = 0; i < half_; ++i) {
      const double inv_freq = std::pow(theta, -2.0 * static_cast<double>(i) / head_dim);
      const double angle = static_cast<double>(pos) / linear_factor * inv_freq;
      cos_[pos * half_ + i] = static_cast<float>(std::cos(angle));
      sin_[pos * half_ + i] = static_cast<float>(std::sin(angle));
    }
  }
}

void RopeTable::Apply(float* x, size_t heads, int64_t pos) const {
  const float* c = cos_.data() + pos * half_;
  const float* s = sin_.data() + pos * half_;
  for (size_t h = 0; h < heads; ++h) {
    float* v = x + h * 2 * half_;
    for (size_t i = 0; i < half_; ++i) {
      const float a = v[i];
      const float b = v[i + half_];
      v[i] = a * c[i] - b * s[i];
      v[i + half_] = b * c[i] + a * s[i];
    }
  }
}

}  // namespace dsm
