#include "common/rendezvous_service.h"

namespace dsm {

grpc::Status RendezvousService::Set(grpc::ServerContext*, const v1::RendezvousSetRequest* request,
                                    v1::RendezvousSetResponse*) {
  absl::MutexLock lock(&mu_);
  values_[request->key()] = request->value();
  return grpc::Status::OK;
}

grpc::Status RendezvousService::Get(grpc::ServerContext*, const v1::RendezvousGetRequest* request,
                                    v1::RendezvousGetResponse* response) {
  absl::MutexLock lock(&mu_);
  auto it = values_.find(request->key());
  if (it == values_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, request->key());
  response->set_value(it->second);
  return grpc::Status::OK;
}

}  // namespace dsm
