#include "coordinator/metrics/serving_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace dsm {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

namespace {

// vLLM's buckets, so dashboards built for it read the same.
const Histogram::BucketBoundaries kFirstTokenBuckets = {
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25, 0.5,  0.75,
    1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160., 640., 2560.};
const Histogram::BucketBoundaries kTokenGapBuckets = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,
                                                      0.3,  0.4,   0.5,  0.75,  1.0, 2.5,  5.0,
                                                      7.5,  10.0,  20.0, 40.0,  80.0};
const Histogram::BucketBoundaries kRequestBuckets = {0.3,  0.5,  0.8,   1.0,   1.5,   2.0,   2.5,
                                                     5.0,  10.0, 15.0,  20.0,  30.0,  40.0,  50.0,
                                                     60.0, 120., 240.0, 480.0, 960.0, 1920., 7680.};
const Histogram::BucketBoundaries kStepBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0};
const Histogram::BucketBoundaries kTokenCountBuckets = {1,   2,   4,   8,    16,   32,   64,
                                                        128, 256, 512, 1024, 2048, 4096, 8192};

}  // namespace

struct ServingMetrics::Families {
  Family<Gauge>& running;
  Family<Gauge>& waiting;
  Family<Gauge>& kv_usage;
  Family<Gauge>& healthy;
  Family<Counter>& prompt_tokens;
  Family<Counter>& generation_tokens;
  Family<Counter>& success;
  Family<Counter>& failure;
  Family<Counter>& preemptions;
  Family<Counter>& prefix_queries;
  Family<Counter>& prefix_hits;
  Family<Histogram>& first_token;
  Family<Histogram>& token_gap;
  Family<Histogram>& e2e;
  Family<Histogram>& queue_time;
  Family<Histogram>& step_time;
  Family<Histogram>& step_tokens;
  Family<Histogram>& rank_forward;
  Family<Histogram>& rank_allreduce;
  Family<Histogram>& rank_step;
};

ServingMetrics::ServingMetrics(std::string model_name)
    : model_name_(std::move(model_name)), registry_(std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  auto gauge = [&](const char* name, const char* help) -> Family<Gauge>& {
    return prometheus::BuildGauge().Name(name).Help(help).Register(r);
  };
  auto counter = [&](const char* name, const char* help) -> Family<Counter>& {
    return prometheus::BuildCounter().Name(name).Help(help).Register(r);
  };
  auto histogram = [&](const char* name, const char* help) -> Family<Histogram>& {
    return prometheus::BuildHistogram().Name(name).Help(help).Register(r);
  };
  f_ = std::unique_ptr<Families>(new Families{
      gauge("dsm:num_requests_running", "Sequences in the running batch, per worker group."),
      gauge("dsm:num_requests_waiting", "Sequences waiting for a running slot, per group."),
      gauge("dsm:kv_cache_usage_perc", "Fraction of the group's KV blocks in use (0..1)."),
      gauge("dsm:group_healthy", "1 while the worker group can serve, else 0."),
      counter("dsm:prompt_tokens_total", "Prompt tokens of finished requests."),
      counter("dsm:generation_tokens_total", "Generated tokens of finished requests."),
      counter("dsm:request_success_total", "Finished choices, by finish reason."),
      counter("dsm:request_failure_total", "Failed requests, by gRPC status code."),
      counter("dsm:num_preemptions_total", "Sequences preempted (recomputed later)."),
      counter("dsm:prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache."),
      counter("dsm:prefix_cache_hits_total", "Prompt tokens found in the prefix cache."),
      histogram("dsm:time_to_first_token_seconds", "From arrival to the first token."),
      histogram("dsm:inter_token_latency_seconds", "Between consecutive tokens of a choice."),
      histogram("dsm:e2e_request_latency_seconds", "From arrival to the end of the request."),
      histogram("dsm:request_queue_time_seconds", "From arrival to the first scheduled step."),
      histogram("dsm:step_duration_seconds", "A worker group's step, as its engine saw it."),
      histogram("dsm:step_batch_tokens", "Tokens fed in one step (prefill + decode)."),
      histogram("dsm:worker_forward_seconds", "A rank's forward pass in one step."),
      histogram("dsm:worker_allreduce_seconds", "A rank's time in collectives in one step."),
      histogram("dsm:worker_step_seconds",
                "A rank's whole step: checks, forward, sampling (the engine's own time)."),
  });
  // Series that exist from the start, so a scrape before any traffic shows zeros.
  const prometheus::Labels model = {{"model_name", model_name_}};
  f_->prompt_tokens.Add(model);
  f_->generation_tokens.Add(model);
  f_->prefix_queries.Add(model);
  f_->prefix_hits.Add(model);
  f_->first_token.Add(model, kFirstTokenBuckets);
  f_->token_gap.Add(model, kTokenGapBuckets);
  f_->e2e.Add(model, kRequestBuckets);
  f_->queue_time.Add(model, kRequestBuckets);
}

ServingMetrics::~ServingMetrics() = default;

void ServingMetrics::OnRequestFinished(const RequestRecord& record) {
  const prometheus::Labels model = {{"model_name", model_name_}};
  absl::MutexLock lock(&mu_);  // Family::Add is thread-safe; the lock keeps bursts orderly
  f_->prompt_tokens.Add(model).Increment(record.prompt_tokens);
  f_->generation_tokens.Add(model).Increment(record.completion_tokens);
  if (record.queue_seconds >= 0) {
    f_->prefix_queries.Add(model).Increment(record.prompt_tokens);
    f_->prefix_hits.Add(model).Increment(record.cached_tokens);
    f_->queue_time.Add(model, kRequestBuckets).Observe(record.queue_seconds);
  }
  if (record.first_token_seconds >= 0) {
    f_->first_token.Add(model, kFirstTokenBuckets).Observe(record.first_token_seconds);
  }
  f_->e2e.Add(model, kRequestBuckets).Observe(record.total_seconds);
  if (record.status.ok()) {
    for (absl::string_view reason : absl::StrSplit(record.finish_reasons, ',')) {
      f_->success.Add({{"model_name", model_name_}, {"finished_reason", std::string(reason)}})
          .Increment();
    }
  } else {
    f_->failure
        .Add(
            {{"model_name", model_name_}, {"code", absl::StatusCodeToString(record.status.code())}})
        .Increment();
  }
}

void ServingMetrics::OnTokenGap(double seconds) {
  f_->token_gap.Add({{"model_name", model_name_}}, kTokenGapBuckets).Observe(seconds);
}

void ServingMetrics::OnStep(const StepRecord& step) {
  const std::string group = absl::StrCat(step.group);
  const prometheus::Labels labels = {{"model_name", model_name_}, {"group", group}};
  absl::MutexLock lock(&mu_);
  f_->step_time.Add(labels, kStepBuckets).Observe(step.seconds);
  f_->step_tokens.Add(labels, kTokenCountBuckets).Observe(step.batch_tokens);
  if (step.preemptions > 0) f_->preemptions.Add(labels).Increment(step.preemptions);
  for (const v1::WorkerStepTiming& rank : step.ranks) {
    const prometheus::Labels rank_labels = {
        {"model_name", model_name_}, {"group", group}, {"rank", absl::StrCat(rank.rank())}};
    f_->rank_forward.Add(rank_labels, kStepBuckets).Observe(rank.forward_seconds());
    f_->rank_allreduce.Add(rank_labels, kStepBuckets).Observe(rank.allreduce_seconds());
    f_->rank_step.Add(rank_labels, kStepBuckets).Observe(rank.step_seconds());
  }
}

std::string ServingMetrics::Scrape(const Coordinator* coordinator) {
  if (coordinator != nullptr) {
    const v1::ModelInfo info = coordinator->Info();
    absl::MutexLock lock(&mu_);
    for (const v1::ModelInfo::GroupStats& g : info.groups()) {
      const prometheus::Labels labels = {{"model_name", model_name_},
                                         {"group", absl::StrCat(g.index())}};
      f_->running.Add(labels).Set(g.running());
      f_->waiting.Add(labels).Set(g.waiting());
      f_->healthy.Add(labels).Set(g.healthy() ? 1 : 0);
      f_->kv_usage.Add(labels).Set(g.kv_blocks_total() > 0
                                       ? 1.0 - static_cast<double>(g.kv_blocks_free()) /
                                                   g.kv_blocks_total()
                                       : 0.0);
      f_->preemptions.Add(labels);  // present (at 0) before the first preemption
    }
  }
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace dsm
