// The per-request log line, in both formats.

#include "coordinator/request_log.h"

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace dsm {
namespace {

RequestRecord Sample() {
  RequestRecord r;
  r.request_id = "req-7";
  r.group = 1;
  r.choices = 2;
  r.prompt_tokens = 12;
  r.completion_tokens = 40;
  r.cached_tokens = 8;
  r.queue_seconds = 0.25;
  r.first_token_seconds = 0.5;
  r.total_seconds = 2.0;
  r.finish_reasons = "length,stop";
  return r;
}

TEST(RequestLogTest, TextLineHasEveryField) {
  const std::string line = FormatRequestRecord(Sample(), LogFormat::kText);
  for (const char* field :
       {"id=req-7", "group=1", "choices=2", "prompt_tokens=12", "completion_tokens=40",
        "cached_tokens=8", "queue_s=0.2500", "first_token_s=0.5000", "total_s=2.0000",
        "finish=length,stop", "status=OK"}) {
    EXPECT_NE(line.find(field), std::string::npos) << field << " in " << line;
  }
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(RequestLogTest, JsonLineIsOneObjectWithTheError) {
  RequestRecord r = Sample();
  r.status = absl::UnavailableError("server is draining");
  const nlohmann::json j = nlohmann::json::parse(FormatRequestRecord(r, LogFormat::kJson));
  EXPECT_EQ(j["request_id"], "req-7");
  EXPECT_EQ(j["group"], 1);
  EXPECT_EQ(j["completion_tokens"], 40);
  EXPECT_EQ(j["status"], "UNAVAILABLE");
  EXPECT_EQ(j["error"], "server is draining");
  EXPECT_DOUBLE_EQ(j["first_token_seconds"].get<double>(), 0.5);
}

TEST(RequestLogTest, FormatNames) {
  LogFormat f;
  EXPECT_TRUE(ParseLogFormat("json", &f).ok());
  EXPECT_EQ(f, LogFormat::kJson);
  EXPECT_EQ(ParseLogFormat("xml", &f).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dsm
