#include "worker/comm/gloo_communicator.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "gloo/allgather.h"
#include "gloo/allreduce.h"
#include "gloo/common/error.h"
#include "gloo/math.h"
#include "gloo/rendezvous/context.h"
#include "gloo/rendezvous/prefix_store.h"
#include "gloo/rendezvous/store.h"
#include "gloo/transport/tcp/device.h"
#include "worker/comm/rendezvous_client.h"

namespace dsm {
namespace {

// gloo::rendezvous::Store over the Rendezvous service. Gloo's interface reports failure
// by exception; Connect() turns them back into a Status.
class GrpcStore : public gloo::rendezvous::Store {
 public:
  GrpcStore(const std::string& address, std::chrono::milliseconds timeout)
      : client_(address, timeout) {}

  void set(const std::string& key, const std::vector<char>& data) override {
    absl::Status status = client_.Set(key, std::string(data.begin(), data.end()));
    if (!status.ok()) throw std::runtime_error(std::string(status.message()));
  }

  std::vector<char> get(const std::string& key) override {
    std::string value = Poll(key, client_.timeout());
    return std::vector<char>(value.begin(), value.end());
  }

  void wait(const std::vector<std::string>& keys) override { wait(keys, client_.timeout()); }

  void wait(const std::vector<std::string>& keys,
            const std::chrono::milliseconds& timeout) override {
    for (const std::string& key : keys) Poll(key, timeout);
  }

 private:
  std::string Poll(const std::string& key, std::chrono::milliseconds timeout) {
    absl::StatusOr<std::string> value = client_.Get(key, timeout);
    if (!value.ok()) throw std::runtime_error(std::string(value.status().message()));
    return *std::move(value);
  }

  RendezvousClient client_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<GlooCommunicator>> GlooCommunicator::Connect(
    const GlooOptions& options) {
  if (options.world_size < 1 || options.rank < 0 || options.rank >= options.world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", options.rank, " is outside a group of ", options.world_size));
  }
  auto comm = std::unique_ptr<GlooCommunicator>(new GlooCommunicator());
  comm->rank_ = options.rank;
  comm->world_size_ = options.world_size;
  comm->timeout_ = options.timeout;
  try {
    gloo::transport::tcp::attr attr;
    attr.hostname = options.bind_host;
    std::shared_ptr<gloo::transport::Device> device = gloo::transport::tcp::CreateDevice(attr);
    const std::chrono::milliseconds connect_timeout =
        options.connect_timeout.count() > 0 ? options.connect_timeout : options.timeout;
    GrpcStore grpc_store(options.rendezvous_address, connect_timeout);
    gloo::rendezvous::PrefixStore store(options.group_name, grpc_store);
    auto context = std::make_shared<gloo::rendezvous::Context>(options.rank, options.world_size);
    context->setTimeout(connect_timeout);
    context->connectFullMesh(store, device);
    context->setTimeout(options.timeout);  // what every collective may take
    comm->context_ = std::move(context);
  } catch (const std::exception& e) {
    return absl::DeadlineExceededError(absl::StrCat("rank ", options.rank, " of ",
                                                    options.world_size,
                                                    " could not connect to its peers: ", e.what()));
  }
  return comm;
}

GlooCommunicator::~GlooCommunicator() = default;

namespace {

absl::Status CheckHostF32(const CommBuffer& buffer) {
  if (buffer.space != MemorySpace::kHost || buffer.dtype != DType::kF32) {
    return absl::InvalidArgumentError("Gloo collectives take host f32 buffers");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status GlooCommunicator::AllReduceSum(const CommBuffer& buffer) {
  if (absl::Status s = CheckHostF32(buffer); !s.ok()) return s;
  float* data = static_cast<float*>(buffer.data);
  const size_t count = buffer.count;
  try {
    gloo::AllreduceOptions opts(context_);
    opts.setOutput(data, count);
    opts.setReduceFunction(
        static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<float>));
    opts.setTag(next_tag_++);
    opts.setTimeout(timeout_);
    // BCube exchanges halves directly (fewer, larger hops than the ring): 3-4x lower
    // latency for the small per-layer reductions of decoding (docs/PERFORMANCE.md).
    // It needs a power-of-two group; others use the ring.
    if ((world_size_ & (world_size_ - 1)) == 0) {
      opts.setAlgorithm(gloo::AllreduceOptions::Algorithm::BCUBE);
    }
    gloo::allreduce(opts);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("all-reduce on rank ", rank_, " failed: ", e.what()));
  }
  return absl::OkStatus();
}

absl::Status GlooCommunicator::AllGather(const CommBuffer& in, const CommBuffer& out) {
  if (absl::Status s = CheckHostF32(in); !s.ok()) return s;
  if (absl::Status s = CheckHostF32(out); !s.ok()) return s;
  if (out.count != in.count * world_size_) {
    return absl::InvalidArgumentError("all-gather output must hold world_size inputs");
  }
  try {
    gloo::AllgatherOptions opts(context_);
    opts.setInput(static_cast<float*>(in.data), in.count);
    opts.setOutput(static_cast<float*>(out.data), out.count);
    opts.setTag(next_tag_++);
    opts.setTimeout(timeout_);
    gloo::allgather(opts);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("all-gather on rank ", rank_, " failed: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace dsm
