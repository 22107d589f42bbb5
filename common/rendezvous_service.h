#pragma once
// The key-value store Gloo's rendezvous needs, served over gRPC (Gloo's own TCP store
// is not in the packaged version). Hosted by rank 0 of a local group, or by the coordinator
// (`dsm coordinator`) for workers that register with it.

#include <map>
#include <string>

#include "absl/synchronization/mutex.h"
#include "dsm/v1/worker.grpc.pb.h"

namespace dsm {

class RendezvousService final : public v1::Rendezvous::Service {
 public:
  grpc::Status Set(grpc::ServerContext*, const v1::RendezvousSetRequest* request,
                   v1::RendezvousSetResponse*) override;
  grpc::Status Get(grpc::ServerContext*, const v1::RendezvousGetRequest* request,
                   v1::RendezvousGetResponse* response) override;

 private:
  absl::Mutex mu_;
  std::map<std::string, std::string> values_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dsm
