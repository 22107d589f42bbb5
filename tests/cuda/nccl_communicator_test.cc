// The NCCL communicator on real GPUs: collectives on device buffers, the unique id
// handed out through the Rendezvous store, and the bounded init that turns a peer that
// never arrives into DEADLINE_EXCEEDED instead of a hang. Two-GPU cases skip unless two
// devices are visible.

#include "worker/cuda/nccl_communicator.h"

#include <cuda_runtime.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <future>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/cuda/cuda_test_env.h"
#include "tests/integration/run_helpers.h"
#include "tests/support/golden.h"
#include "tests/support/rendezvous_server.h"

namespace dsm {
namespace {

using testing::RendezvousServer;

NcclOptions Options(int rank, int world, const std::string& address, int device,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  NcclOptions o;
  o.rank = rank;
  o.world_size = world;
  o.rendezvous_address = address;
  o.device = device;
  o.timeout = timeout;
  return o;
}

TEST(NcclCommunicatorTest, OneRankCollectivesOnDeviceBuffers) {
  DSM_REQUIRE_CUDA_DEVICES(1);
  absl::StatusOr<std::unique_ptr<NcclCommunicator>> comm =
      NcclCommunicator::Connect(Options(0, 1, "", 0));
  ASSERT_TRUE(comm.ok()) << comm.status();
  cudaStream_t stream;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  std::vector<float> host = {1, 2, 3, 4};
  float *data = nullptr, *gathered = nullptr;
  ASSERT_EQ(cudaMalloc(&data, 16), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&gathered, 16), cudaSuccess);
  cudaMemcpy(data, host.data(), 16, cudaMemcpyHostToDevice);
  EXPECT_TRUE(
      (*comm)->AllReduceSum(CommBuffer{data, 4, DType::kF32, MemorySpace::kDevice, stream}).ok());
  EXPECT_TRUE((*comm)
                  ->AllGather(CommBuffer{data, 4, DType::kF32, MemorySpace::kDevice, stream},
                              CommBuffer{gathered, 4, DType::kF32, MemorySpace::kDevice, stream})
                  .ok());
  EXPECT_TRUE((*comm)->Synchronize(stream, std::chrono::seconds(10)).ok());
  std::vector<float> back(4);
  cudaMemcpy(back.data(), gathered, 16, cudaMemcpyDeviceToHost);
  EXPECT_EQ(back, host);
  // Host memory is refused by name, not crashed on.
  absl::Status host_buffer = (*comm)->AllReduceSum(host.data(), host.size());
  EXPECT_EQ(host_buffer.code(), absl::StatusCode::kInvalidArgument);
  cudaFree(data);
  cudaFree(gathered);
  cudaStreamDestroy(stream);
}

// Rank 0 of a group of two publishes the id and waits; rank 1 never comes. The init
// must end in DEADLINE_EXCEEDED within about the timeout.
TEST(NcclCommunicatorTest, MissingPeerTimesOutInsteadOfHanging) {
  DSM_REQUIRE_CUDA_DEVICES(1);
  RendezvousServer store;
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<NcclCommunicator>> comm =
      NcclCommunicator::Connect(Options(0, 2, store.address(), 0, std::chrono::milliseconds(3000)));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(comm.ok());
  EXPECT_EQ(comm.status().code(), absl::StatusCode::kDeadlineExceeded) << comm.status();
  EXPECT_NE(comm.status().message().find("timed out"), std::string::npos) << comm.status();
  EXPECT_LT(seconds, 60.0);
}

TEST(NcclCommunicatorTest, TwoRanksAllReduce) {
  DSM_REQUIRE_CUDA_DEVICES(2);
  RendezvousServer store;
  auto rank = [&](int r) -> std::vector<float> {
    absl::StatusOr<std::unique_ptr<NcclCommunicator>> comm =
        NcclCommunicator::Connect(Options(r, 2, store.address(), r));
    EXPECT_TRUE(comm.ok()) << comm.status();
    if (!comm.ok()) return {};
    std::vector<float> host = {1.0f + r, 10.0f * (r + 1)};
    float* data = nullptr;
    cudaMalloc(&data, 8);
    cudaMemcpy(data, host.data(), 8, cudaMemcpyHostToDevice);
    EXPECT_TRUE((*comm)
                    ->AllReduceSum(CommBuffer{data, 2, DType::kF32, MemorySpace::kDevice, nullptr})
                    .ok());
    EXPECT_TRUE((*comm)->Synchronize(nullptr, std::chrono::seconds(30)).ok());
    cudaMemcpy(host.data(), data, 8, cudaMemcpyDeviceToHost);
    cudaFree(data);
    return host;
  };
  auto r1 = std::async(std::launch::async, rank, 1);
  EXPECT_EQ(rank(0), (std::vector<float>{3.0f, 30.0f}));
  EXPECT_EQ(r1.get(), (std::vector<float>{3.0f, 30.0f}));
}

// tp 2 on two GPUs through `dsm run`: fp32 mode gives tiny-deepseek's golden tokens.
TEST(NcclCommunicatorTest, DsmRunAtTp2GivesTheGoldenTokens) {
  DSM_REQUIRE_SHARED("models/tiny-deepseek/golden.json");
  DSM_REQUIRE_CUDA_DEVICES(2);
  const std::string dir = testing::SharedDir() + "/models/tiny-deepseek";
  const std::vector<testing::GoldenCase> golden = testing::LoadGoldenCases(dir + "/golden.json");
  std::vector<std::vector<int32_t>> prompts;
  for (const auto& g : golden) prompts.push_back(g.prompt);
  testing::RunOutput out =
      testing::DsmRun(dir,
                      {"--backend", "cuda", "--tp", "2", "--precision", "fp32", "--max-tokens",
                       "32", "--ignore-eos", "--gpu-memory-fraction", "0.5"},
                      testing::PromptsJsonl(prompts));
  ASSERT_EQ(out.command.exit_code, 0) << out.command.err;
  ASSERT_EQ(out.lines.size(), golden.size());
  for (size_t c = 0; c < golden.size(); ++c) {
    EXPECT_EQ(out.lines[c]["token_ids"].get<std::vector<int32_t>>(), golden[c].greedy);
  }
}

}  // namespace
}  // namespace dsm
