#include "worker/coordinator_link.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"

namespace dsm {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

CoordinatorLink::CoordinatorLink(CoordinatorLinkOptions options, Reform reform)
    : options_(std::move(options)), reform_(std::move(reform)) {
  incarnation_ = std::random_device()() * 0x100000000ull + std::random_device()();
  grpc::ChannelArguments args;
  // A coordinator on a lost host is noticed without waiting for TCP's own timeouts.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  stub_ = v1::WorkerRegistry::NewStub(grpc::CreateCustomChannel(
      options_.coordinator_address, grpc::InsecureChannelCredentials(), args));
}

CoordinatorLink::~CoordinatorLink() {
  stop_ = true;
  {
    absl::MutexLock lock(&mu_);
    if (active_ != nullptr) active_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

void CoordinatorLink::Start() {
  thread_ = std::thread([this] { Run(); });
}

void CoordinatorLink::Run() {
  auto backoff = std::chrono::milliseconds(200);
  while (!stop_) {
    const auto started = std::chrono::steady_clock::now();
    absl::Status s = JoinOnce();
    if (stop_) break;
    std::fprintf(stderr, "dsm-worker group %d rank %d: not registered with %s (%s); retrying\n",
                 options_.group, options_.rank, options_.coordinator_address.c_str(),
                 s.ToString().c_str());
    // A stream that lived a while was a working registration: retry quickly.
    if (std::chrono::steady_clock::now() - started > std::chrono::seconds(10)) {
      backoff = std::chrono::milliseconds(200);
    }
    for (auto slept = std::chrono::milliseconds(0); slept < backoff && !stop_;
         slept += std::chrono::milliseconds(50)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

absl::Status CoordinatorLink::JoinOnce() {
  grpc::ClientContext context;
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return absl::OkStatus();
    active_ = &context;
  }
  v1::JoinRequest request;
  request.set_group(options_.group);
  request.set_rank(options_.rank);
  request.set_tp(options_.tp);
  request.set_worker_address(options_.worker_address);
  *request.mutable_info() = options_.info;
  request.set_incarnation(incarnation_);
  std::unique_ptr<grpc::ClientReader<v1::RegistryEvent>> reader = stub_->Join(&context, request);
  // The coordinator sends a heartbeat every 2 s: after 15 s of silence it is hung or cut
  // off, so leave and join again (the watchdog cancels the stream).
  std::atomic<int64_t> last_event_ms{NowMs()};
  std::atomic<bool> done{false};
  std::atomic<bool> forming{false};  // events wait unread while the collectives form
  std::thread watchdog([&] {
    while (!done.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      if (!forming.load() && NowMs() - last_event_ms.load() > 15000) {
        std::fprintf(stderr,
                     "dsm-worker group %d rank %d: no heartbeat from the coordinator "
                     "for 15 s; joining again\n",
                     options_.group, options_.rank);
        context.TryCancel();
        break;
      }
    }
  });
  v1::RegistryEvent event;
  while (reader->Read(&event)) {
    last_event_ms = NowMs();
    if (!event.has_form()) continue;
    const v1::FormGroup& form = event.form();
    std::printf("DSM_WORKER_FORMING epoch %llu\n", static_cast<unsigned long long>(form.epoch()));
    std::fflush(stdout);
    forming = true;
    CommSpec spec = options_.comm;
    // No address: the store is the coordinator itself.
    spec.rendezvous_address = form.rendezvous_address().empty() ? options_.coordinator_address
                                                                : form.rendezvous_address();
    spec.group_name = form.group_name();
    // Every peer had loaded and registered before the coordinator sent this: one that
    // does not show up within 20 s is gone (a newer formation will follow), and this
    // rank must be free to take part in it.
    spec.connect_timeout = std::min(spec.timeout, std::chrono::milliseconds(20000));
    absl::StatusOr<std::unique_ptr<Communicator>> comm = ConnectCommunicator(spec);
    v1::FormedRequest formed;
    formed.set_group(options_.group);
    formed.set_rank(options_.rank);
    formed.set_epoch(form.epoch());
    formed.set_incarnation(incarnation_);
    if (comm.ok()) {
      reform_(*std::move(comm));
      std::printf("DSM_WORKER_FORMED epoch %llu\n", static_cast<unsigned long long>(form.epoch()));
      std::fflush(stdout);
    } else {
      formed.set_error(std::string(comm.status().message()));
      std::fprintf(stderr, "dsm-worker group %d rank %d: forming epoch %llu failed: %s\n",
                   options_.group, options_.rank, static_cast<unsigned long long>(form.epoch()),
                   comm.status().ToString().c_str());
    }
    last_event_ms = NowMs();
    forming = false;
    grpc::ClientContext formed_context;
    formed_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::FormedResponse ignored;
    stub_->Formed(&formed_context, formed, &ignored);
  }
  done = true;
  watchdog.join();
  grpc::Status status = reader->Finish();
  absl::MutexLock lock(&mu_);
  active_ = nullptr;
  return status.ok() ? absl::UnavailableError("the coordinator closed the registration")
                     : FromGrpcStatus(status);
}

}  // namespace dsm
