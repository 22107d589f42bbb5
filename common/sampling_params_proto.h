#pragma once
// SamplingParams <-> its wire form in the internal worker proto.

#include "common/sampling_params.h"
#include "dsm/v1/worker.pb.h"

namespace dsm {

SamplingParams FromProto(const v1::SamplingParams& proto);
void ToProto(const SamplingParams& params, v1::SamplingParams* proto);

}  // namespace dsm
