#include "worker/comm/shared_memory_communicator.h"

#include <future>
#include <thread>

#include "gtest/gtest.h"
#include "tests/support/rendezvous_server.h"
#include "worker/comm/gloo_communicator.h"

namespace dsm {
namespace {

using testing::RendezvousServer;

std::unique_ptr<Communicator> Connect(int rank, int world, const std::string& address,
                                      int timeout_ms = 20000) {
  GlooOptions o;
  o.rank = rank;
  o.world_size = world;
  o.rendezvous_address = address;
  o.timeout = std::chrono::milliseconds(timeout_ms);
  absl::StatusOr<std::unique_ptr<GlooCommunicator>> gloo = GlooCommunicator::Connect(o);
  EXPECT_TRUE(gloo.ok()) << gloo.status();
  if (!gloo.ok()) return nullptr;
  absl::StatusOr<std::unique_ptr<Communicator>> comm = SharedMemoryCommunicator::Attach(
      std::unique_ptr<Communicator>(*std::move(gloo)), std::chrono::milliseconds(timeout_ms));
  EXPECT_TRUE(comm.ok()) << comm.status();
  return comm.ok() ? *std::move(comm) : nullptr;
}

struct RankResult {
  std::string name;
  std::vector<float> small, large, gathered;
};

// Three ranks on this host: small buffers go through the segment, one larger than a
// slot through Gloo; every rank holds bitwise the same sums.
TEST(SharedMemoryCommunicatorTest, ThreeRanksReduceAndGatherIdentically) {
  RendezvousServer store;
  constexpr int kWorld = 3;
  auto run_rank = [&](int rank) {
    RankResult out;
    std::unique_ptr<Communicator> comm = Connect(rank, kWorld, store.address());
    if (comm == nullptr) return out;
    out.name = comm->name();
    // Many collectives of alternating sizes in a row: both halves of the double buffer,
    // with ranks running ahead of each other by one collective.
    for (int round = 0; round < 200; ++round) {
      out.small.assign(3000, 0.0f);
      for (size_t i = 0; i < out.small.size(); ++i) out.small[i] = 0.1f * i * (rank + 1) + 4;
      absl::Status s = comm->AllReduceSum(out.small.data(), out.small.size());
      EXPECT_TRUE(s.ok()) << s;
      std::vector<float> tiny(7, float(rank));
      s = comm->AllReduceSum(tiny.data(), tiny.size());
      EXPECT_TRUE(s.ok()) << s;
      EXPECT_EQ(tiny, std::vector<float>(7, 3.0f));
      if (!s.ok()) break;
    }
    out.large.assign(SharedMemoryCommunicator::kSlotFloats + 5, float(rank + 1));
    EXPECT_TRUE(comm->AllReduceSum(out.large.data(), out.large.size()).ok());
    std::vector<float> mine = {float(rank), float(rank) + 0.5f};
    out.gathered.resize(2 * kWorld);
    EXPECT_TRUE(comm->AllGather(mine.data(), 2, out.gathered.data()).ok());
    return out;
  };
  auto rank1 = std::async(std::launch::async, run_rank, 1);
  auto rank2 = std::async(std::launch::async, run_rank, 2);
  RankResult r0 = run_rank(0);
  RankResult r1 = rank1.get(), r2 = rank2.get();
  EXPECT_EQ(r0.name, "shm");
  ASSERT_EQ(r0.small.size(), 3000u);
  for (size_t i = 0; i < r0.small.size(); ++i) {
    // Summed in rank order: ((x0 + x1) + x2).
    const float expected = ((0.1f * i * 1 + 4) + (0.1f * i * 2 + 4)) + (0.1f * i * 3 + 4);
    ASSERT_EQ(r0.small[i], expected) << i;
  }
  EXPECT_EQ(r0.small, r1.small);
  EXPECT_EQ(r0.small, r2.small);
  EXPECT_EQ(r0.large, std::vector<float>(SharedMemoryCommunicator::kSlotFloats + 5, 6.0f));
  EXPECT_EQ(r0.large, r2.large);
  EXPECT_EQ(r0.gathered, (std::vector<float>{0, 0.5, 1, 1.5, 2, 2.5}));
  EXPECT_EQ(r0.gathered, r1.gathered);
}

TEST(SharedMemoryCommunicatorTest, EnvironmentKeepsGloo) {
  setenv("DSM_SHARED_MEMORY_COMM", "0", 1);
  RendezvousServer store;
  auto rank1 = std::async(std::launch::async, [&] { return Connect(1, 2, store.address()); });
  std::unique_ptr<Communicator> comm0 = Connect(0, 2, store.address());
  std::unique_ptr<Communicator> comm1 = rank1.get();
  unsetenv("DSM_SHARED_MEMORY_COMM");
  ASSERT_NE(comm0, nullptr);
  EXPECT_STREQ(comm0->name(), "gloo");
}

// A peer that stops taking part (hung, not dead) fails the collective with
// DEADLINE_EXCEEDED after the timeout instead of blocking for ever.
TEST(SharedMemoryCommunicatorTest, PeerThatNeverArrivesTimesOut) {
  RendezvousServer store;
  std::promise<void> done;
  auto rank1 = std::async(std::launch::async, [&] {
    std::unique_ptr<Communicator> comm = Connect(1, 2, store.address(), 1000);
    done.get_future().wait();  // attached, then never joins a collective
  });
  std::unique_ptr<Communicator> comm0 = Connect(0, 2, store.address(), 1000);
  ASSERT_NE(comm0, nullptr);
  ASSERT_STREQ(comm0->name(), "shm");
  std::vector<float> data(16, 1.0f);
  const absl::Status s = comm0->AllReduceSum(data.data(), data.size());
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_NE(s.message().find("rank 1 did not reach collective 1"), std::string::npos) << s;
  done.set_value();
  rank1.get();
}

}  // namespace
}  // namespace dsm
