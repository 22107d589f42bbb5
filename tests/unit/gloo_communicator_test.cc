#include "worker/comm/gloo_communicator.h"

#include <grpcpp/grpcpp.h>

#include <future>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/rendezvous_server.h"

namespace dsm {
namespace {

using testing::RendezvousServer;

GlooOptions Options(int rank, int world, const std::string& address, int timeout_ms = 20000) {
  GlooOptions o;
  o.rank = rank;
  o.world_size = world;
  o.rendezvous_address = address;
  o.timeout = std::chrono::milliseconds(timeout_ms);
  return o;
}

TEST(GlooCommunicatorTest, AllReduceAndAllGatherAcrossTwoRanks) {
  RendezvousServer store;
  auto run_rank = [&](int rank) -> std::pair<std::vector<float>, std::vector<float>> {
    absl::StatusOr<std::unique_ptr<GlooCommunicator>> comm =
        GlooCommunicator::Connect(Options(rank, 2, store.address()));
    EXPECT_TRUE(comm.ok()) << comm.status();
    if (!comm.ok()) return {};
    std::vector<float> data(4096);
    for (size_t i = 0; i < data.size(); ++i) data[i] = float(i) * (rank + 1);
    EXPECT_TRUE((*comm)->AllReduceSum(data.data(), data.size()).ok());
    std::vector<float> mine = {float(rank), float(rank) + 0.5f};
    std::vector<float> all(4);
    EXPECT_TRUE((*comm)->AllGather(mine.data(), 2, all.data()).ok());
    return {data, all};
  };
  auto rank1 = std::async(std::launch::async, run_rank, 1);
  auto [data0, all0] = run_rank(0);
  auto [data1, all1] = rank1.get();
  ASSERT_EQ(data0.size(), 4096u);
  for (size_t i = 0; i < data0.size(); ++i) ASSERT_EQ(data0[i], float(i) * 3) << i;
  EXPECT_EQ(data0, data1);  // every rank holds the identical sum
  EXPECT_EQ(all0, (std::vector<float>{0, 0.5, 1, 1.5}));
  EXPECT_EQ(all0, all1);
}

TEST(GlooCommunicatorTest, MissingPeerTimesOutInsteadOfHanging) {
  RendezvousServer store;
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<GlooCommunicator>> comm =
      GlooCommunicator::Connect(Options(0, 2, store.address(), 1500));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(comm.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(comm.status().message().find("could not connect to its peers"), std::string::npos)
      << comm.status();
  EXPECT_LT(seconds, 10.0);
}

TEST(GlooCommunicatorTest, UnreachableRendezvousTimesOut) {
  // Nothing listens on this port (the server is gone).
  std::string address;
  { address = RendezvousServer().address(); }
  absl::StatusOr<std::unique_ptr<GlooCommunicator>> comm =
      GlooCommunicator::Connect(Options(1, 2, address, 1000));
  EXPECT_EQ(comm.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(comm.status().message().find(address), std::string::npos) << comm.status();
}

TEST(GlooCommunicatorTest, RejectsRankOutsideGroup) {
  EXPECT_EQ(GlooCommunicator::Connect(Options(2, 2, "127.0.0.1:1")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dsm
