#include "common/sampling_params.h"

#include <cmath>

#include "gtest/gtest.h"

namespace dsm {
namespace {

TEST(SamplingParamsTest, DefaultsAreValid) { EXPECT_TRUE(SamplingParams().Validate().ok()); }

TEST(SamplingParamsTest, RejectsOutOfRangeNamingTheField) {
  auto message = [](auto mutate) {
    SamplingParams p;
    mutate(p);
    absl::Status s = p.Validate();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    return std::string(s.message());
  };
  EXPECT_EQ(message([](SamplingParams& p) { p.temperature = -1; }).rfind("temperature", 0), 0u);
  EXPECT_EQ(message([](SamplingParams& p) { p.temperature = NAN; }).rfind("temperature", 0), 0u);
  EXPECT_EQ(message([](SamplingParams& p) { p.top_p = 0; }).rfind("top_p", 0), 0u);
  EXPECT_EQ(message([](SamplingParams& p) { p.top_p = 1.5; }).rfind("top_p", 0), 0u);
  EXPECT_EQ(message([](SamplingParams& p) { p.top_k = -1; }).rfind("top_k", 0), 0u);
  EXPECT_EQ(message([](SamplingParams& p) { p.min_p = 2; }).rfind("min_p", 0), 0u);
  EXPECT_EQ(message([](SamplingParams& p) { p.repetition_penalty = 0; }).rfind("repetition", 0),
            0u);
  EXPECT_EQ(message([](SamplingParams& p) { p.presence_penalty = 3; }).rfind("presence", 0), 0u);
  EXPECT_EQ(message([](SamplingParams& p) { p.frequency_penalty = -3; }).rfind("frequency", 0), 0u);
  EXPECT_EQ(message([](SamplingParams& p) { p.logprobs = 21; }).rfind("logprobs", 0), 0u);
}

}  // namespace
}  // namespace dsm
