#pragma once
// A worker started on its own (a pod) registers with the coordinator and stays
// registered: it holds a WorkerRegistry.Join stream open, forms its group's collectives
// whenever the coordinator says so, and joins again (keeping its weights) when the
// stream breaks because the coordinator restarted or the network failed.

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "dsm/v1/worker.grpc.pb.h"
#include "worker/comm/communicator.h"
#include "worker/comm/connect_communicator.h"

namespace grpc {
class ClientContext;
}

namespace dsm {

struct CoordinatorLinkOptions {
  std::string coordinator_address;  // host:port
  int group = 0;
  int rank = 0;
  int tp = 1;
  std::string worker_address;  // advertised address of this worker's Worker service
  v1::WorkerInfo info;
  CommSpec comm;  // rank, size, backend, bind host; rendezvous filled in per formation
};

class CoordinatorLink {
 public:
  // `reform` installs each new formation's communicator into the worker.
  using Reform = std::function<void(std::unique_ptr<Communicator>)>;
  CoordinatorLink(CoordinatorLinkOptions options, Reform reform);
  ~CoordinatorLink();  // leaves the registry

  void Start();

 private:
  void Run();
  // One Join stream, until it breaks; OK if it ended because of Stop.
  absl::Status JoinOnce();

  CoordinatorLinkOptions options_;
  Reform reform_;
  uint64_t incarnation_ = 0;
  std::unique_ptr<v1::WorkerRegistry::Stub> stub_;
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  grpc::ClientContext* active_ ABSL_GUARDED_BY(mu_) = nullptr;  // the open Join, to cancel
  std::thread thread_;
};

}  // namespace dsm
