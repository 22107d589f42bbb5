#include "worker/comm/connect_communicator.h"

#include "worker/comm/gloo_communicator.h"
#include "worker/comm/shared_memory_communicator.h"
#ifdef DSM_HAVE_CUDA
#include "worker/cuda/nccl_communicator.h"
#endif

namespace dsm {

absl::StatusOr<std::unique_ptr<Communicator>> ConnectCommunicator(const CommSpec& spec) {
  if (spec.world_size == 1) return std::make_unique<SingleRankCommunicator>();
  if (spec.backend == "cuda") {
#ifdef DSM_HAVE_CUDA
    // GPU ranks all-reduce device buffers through NCCL; its unique id travels through
    // the rendezvous store.
    NcclOptions options;
    options.rank = spec.rank;
    options.world_size = spec.world_size;
    options.rendezvous_address = spec.rendezvous_address;
    options.group_name = spec.group_name;
    options.device = spec.cuda_device;
    // NCCL's timeout bounds its initialisation; collectives have their own deadline.
    options.timeout = spec.connect_timeout.count() > 0 ? spec.connect_timeout : spec.timeout;
    absl::StatusOr<std::unique_ptr<NcclCommunicator>> nccl = NcclCommunicator::Connect(options);
    if (!nccl.ok()) return nccl.status();
    return std::unique_ptr<Communicator>(*std::move(nccl));
#else
    return absl::FailedPreconditionError("this dsm-worker was built without the CUDA backend");
#endif
  }
  GlooOptions options;
  options.rank = spec.rank;
  options.world_size = spec.world_size;
  options.rendezvous_address = spec.rendezvous_address;
  options.group_name = spec.group_name;
  options.bind_host = spec.bind_host;
  options.timeout = spec.timeout;
  options.connect_timeout = spec.connect_timeout;
  absl::StatusOr<std::unique_ptr<GlooCommunicator>> gloo = GlooCommunicator::Connect(options);
  if (!gloo.ok()) return gloo.status();
  // Ranks on one host exchange activations through shared memory; Gloo stays for ranks
  // on different hosts and for buffers larger than a slot.
  return SharedMemoryCommunicator::Attach(std::unique_ptr<Communicator>(*std::move(gloo)),
                                          spec.timeout);
}

}  // namespace dsm
