#include "worker/comm/rendezvous_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"

namespace dsm {

RendezvousClient::RendezvousClient(const std::string& address, std::chrono::milliseconds timeout)
    : address_(address),
      timeout_(timeout),
      stub_(v1::Rendezvous::NewStub(
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))) {}

absl::Status RendezvousClient::Set(const std::string& key, const std::string& value) {
  v1::RendezvousSetRequest request;
  request.set_key(key);
  request.set_value(value);
  v1::RendezvousSetResponse response;
  grpc::ClientContext context;
  context.set_wait_for_ready(true);
  context.set_deadline(std::chrono::system_clock::now() + timeout_);
  grpc::Status status = stub_->Set(&context, request, &response);
  if (!status.ok()) {
    return absl::UnavailableError(
        absl::StrCat("rendezvous at ", address_, " unreachable: ", status.error_message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RendezvousClient::Get(const std::string& key,
                                                  std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::system_clock::now() + timeout;
  auto backoff = std::chrono::milliseconds(2);
  for (;;) {
    v1::RendezvousGetRequest request;
    request.set_key(key);
    v1::RendezvousGetResponse response;
    grpc::ClientContext context;
    context.set_wait_for_ready(true);
    context.set_deadline(deadline);
    grpc::Status status = stub_->Get(&context, request, &response);
    if (status.ok()) return response.value();
    if (status.error_code() != grpc::StatusCode::NOT_FOUND ||
        std::chrono::system_clock::now() + backoff >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "timed out after ", timeout.count(), " ms waiting for the peers' rendezvous key ", key,
          " at ", address_, " (", status.error_message(), ")"));
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(100));
  }
}

}  // namespace dsm
