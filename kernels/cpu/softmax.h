#pragma once
// Vectorised pieces of a softmax over a vocabulary-sized row (the sampler's hot loop).

#include <cstddef>

namespace dsm {

// The largest of in[0, n); n > 0.
float MaxOf(const float* in, size_t n);

// The index of the first largest of in[0, n) (std::max_element's answer where there is
// no NaN); n > 0.
size_t FirstMaxIndex(const float* in, size_t n);

// out[i] = exp((in[i] - shift) * scale) for i in [0, n); returns their sum. The result
// depends only on the inputs (fixed lane order), never on threads or batch.
double ExpShiftedSum(const float* in, size_t n, float shift, float scale, float* out);

// log(sum_i exp(in[i])), computed stably.
double LogSumExp(const float* in, size_t n);

}  // namespace dsm
