#include "coordinator/openai/http_bind.h"

#include <httplib.h>
#include <sys/socket.h>

#include "absl/strings/str_cat.h"

namespace dsm {
namespace {

// Debian's cpp-httplib (0.11, a shared library) listens with a backlog of 5: a burst of
// new connections (64 clients arriving at once) overflowed the accept queue and the
// kernel dropped some, which clients saw as read errors before the server saw a request.
// The listening socket is only reachable from a subclass; listen() again on it widens
// the queue to the system's limit (Linux takes a new backlog on a listening socket).
class WideBacklogServer : public httplib::Server {
 public:
  bool WidenBacklog() const { return ::listen(svr_sock_, SOMAXCONN) == 0; }
};

}  // namespace

std::unique_ptr<httplib::Server> NewHttpServer() { return std::make_unique<WideBacklogServer>(); }

absl::StatusOr<int> BindHttpServer(httplib::Server& server, const std::string& host, int port,
                                   int threads, const std::string& flag) {
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  int bound = 0;
  if (port == 0) {
    bound = server.bind_to_any_port(host);
  } else if (server.bind_to_port(host, port)) {
    bound = port;
  }
  if (bound <= 0) {
    return absl::FailedPreconditionError(absl::StrCat("cannot listen on ", host, ":", port, " (",
                                                      flag,
                                                      "): the port is taken or the address is "
                                                      "not local"));
  }
  auto* wide = dynamic_cast<WideBacklogServer*>(&server);
  if (wide == nullptr || !wide->WidenBacklog()) {
    return absl::InternalError(
        absl::StrCat("cannot widen the accept queue of ", host, ":", bound, " (", flag, ")"));
  }
  return bound;
}

}  // namespace dsm
