// The load generator's arithmetic and inputs: arrival gaps (rate and burstiness),
// length distributions, deterministic synthetic prompts, prompt files (JSONL and
// ShareGPT) and per-request records.

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tools/loadtest/runner.h"
#include "tools/loadtest/stats.h"
#include "tools/loadtest/workload.h"

namespace dsm::loadtest {
namespace {

struct Moments {
  double mean = 0, cv = 0;  // coefficient of variation: stddev / mean
};

Moments GapMoments(double rate, double burstiness) {
  ArrivalGaps gaps(rate, burstiness, /*seed=*/7);
  std::vector<double> v(40000);
  for (double& g : v) g = gaps.Next();
  Moments m;
  for (double g : v) m.mean += g / v.size();
  double var = 0;
  for (double g : v) var += (g - m.mean) * (g - m.mean) / v.size();
  m.cv = std::sqrt(var) / m.mean;
  return m;
}

// Gamma gaps of shape b have mean 1 / rate whatever b, and a coefficient of variation
// of 1 / sqrt(b): 1 for Poisson arrivals, 2 at b = 0.25, 0.5 at b = 4. (A fixed seed:
// the draws, and so these sample moments, are the same every run.)
TEST(ArrivalGapsTest, MeanFollowsTheRateAndSpreadTheBurstiness) {
  for (const double burstiness : {0.25, 1.0, 4.0}) {
    const Moments m = GapMoments(/*rate=*/20, burstiness);
    EXPECT_NEAR(m.mean, 0.05, 0.05 * 0.05) << "burstiness " << burstiness;
    EXPECT_NEAR(m.cv, 1 / std::sqrt(burstiness), 0.05 / std::sqrt(burstiness))
        << "burstiness " << burstiness;
  }
}

TEST(LengthDistributionTest, ParsesEachFormAndRejectsOthers) {
  absl::StatusOr<LengthDistribution> fixed = LengthDistribution::Parse("fixed:12");
  ASSERT_TRUE(fixed.ok());
  std::mt19937_64 rng(1);
  EXPECT_EQ(fixed->Draw(rng), 12);
  absl::StatusOr<LengthDistribution> normal = LengthDistribution::Parse("normal:50:30:40:60");
  ASSERT_TRUE(normal.ok());
  for (int i = 0; i < 200; ++i) {
    const int v = normal->Draw(rng);
    EXPECT_GE(v, 40);
    EXPECT_LE(v, 60);
  }
  for (const char* bad : {"fixed:0", "uniform:5:2", "normal:10", "gaussian:3", "fixed:x"}) {
    EXPECT_FALSE(LengthDistribution::Parse(bad).ok()) << bad;
  }
}

TEST(WorkloadTest, SyntheticRequestsDependOnlyOnSeedAndIndex) {
  const LengthDistribution prompt = *LengthDistribution::Parse("uniform:4:9");
  const LengthDistribution output = *LengthDistribution::Parse("fixed:3");
  const Workload a = Workload::Synthetic(prompt, output, /*vocab=*/100, /*seed=*/5);
  const Workload b = Workload::Synthetic(prompt, output, /*vocab=*/100, /*seed=*/5);
  for (uint64_t i : {uint64_t{0}, uint64_t{17}, uint64_t{1} << 40}) {
    const RequestSpec x = a.Request(i), y = b.Request(i);
    EXPECT_EQ(x.token_ids, y.token_ids);
    EXPECT_GE(x.token_ids.size(), 4u);
    EXPECT_LE(x.token_ids.size(), 9u);
    EXPECT_EQ(x.max_tokens, 3);
    for (int32_t id : x.token_ids) {
      EXPECT_GE(id, 3);
      EXPECT_LT(id, 100);
    }
  }
  // The warm-up's indices (from 2^40) draw other prompts than a run's first ones.
  EXPECT_NE(a.Request(0).token_ids, a.Request(uint64_t{1} << 40).token_ids);
}

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(WorkloadTest, ShareGptFilesGiveEachConversationsFirstHumanTurn) {
  const std::string path = WriteFile("sharegpt.json", R"([
    {"conversations": [{"from": "human", "value": "first"}, {"from": "gpt", "value": "r"}]},
    {"conversations": [{"from": "gpt", "value": "no human turn: skipped"}]},
    {"id": "x"},
    {"conversations": [{"from": "system", "value": "s"}, {"from": "user", "value": "second"}]}
  ])");
  absl::StatusOr<Workload> w =
      Workload::FromFile(path, *LengthDistribution::Parse("fixed:7"), /*seed=*/1);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->Request(0).text, "first");
  EXPECT_EQ(w->Request(1).text, "second");
  EXPECT_EQ(w->Request(2).text, "first");  // the file repeats in order
  EXPECT_EQ(w->Request(1).max_tokens, 7);
  EXPECT_FALSE(w->has_messages());
  EXPECT_FALSE(Workload::FromFile(WriteFile("none.json", R"([{"id": 1}])"),
                                  *LengthDistribution::Parse("fixed:7"), 1)
                   .ok());
}

TEST(WorkloadTest, JsonlLinesCarryTextTokenIdsOrMessages) {
  const std::string path =
      WriteFile("prompts.jsonl",
                "{\"prompt\": \"a\", \"max_tokens\": 3}\n"
                "\n"
                "{\"prompt_token_ids\": [5, 6]}\n"
                "{\"messages\": [{\"role\": \"user\", \"content\": \"b\"}]}\n");
  absl::StatusOr<Workload> w =
      Workload::FromFile(path, *LengthDistribution::Parse("fixed:9"), /*seed=*/1);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->Request(0).text, "a");
  EXPECT_EQ(w->Request(0).max_tokens, 3);
  EXPECT_EQ(w->Request(1).token_ids, (std::vector<int32_t>{5, 6}));
  EXPECT_EQ(w->Request(1).max_tokens, 9);
  ASSERT_EQ(w->Request(2).messages.size(), 1u);
  EXPECT_EQ(w->Request(2).messages[0].content, "b");
  EXPECT_TRUE(w->has_messages());
  EXPECT_TRUE(w->has_token_ids());
  // Errors name the file and line.
  absl::StatusOr<Workload> bad =
      Workload::FromFile(WriteFile("bad.jsonl", "{\"prompt\": \"a\"}\n{\"messages\": [{}]}\n"),
                         *LengthDistribution::Parse("fixed:9"), 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad.jsonl:2:"), std::string::npos) << bad.status();
}

TEST(RequestRecordTest, JsonHasNullsWhereNothingStreamed) {
  RequestRecord streamed;
  streamed.ttft_s = 0.5;
  streamed.e2e_s = 1.5;
  streamed.output_tokens = 3;
  streamed.token_gaps_s = {0.25, 0.75};
  const nlohmann::json a = ToJson(streamed);
  EXPECT_EQ(a["status"], "OK");
  EXPECT_DOUBLE_EQ(a["ttft_s"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(a["itl_s"].get<double>(), 0.5);
  EXPECT_EQ(a["output_tokens"], 3);
  RequestRecord refused;
  refused.status = "INVALID_ARGUMENT";
  refused.error = "prompt too long";
  const nlohmann::json b = ToJson(refused);
  EXPECT_TRUE(b["ttft_s"].is_null());
  EXPECT_TRUE(b["itl_s"].is_null());
  EXPECT_EQ(b["error"], "prompt too long");
}

}  // namespace
}  // namespace dsm::loadtest
