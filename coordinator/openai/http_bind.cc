#include "coordinator/openai/http_bind.h"

#include <httplib.h>

#include "absl/strings/str_cat.h"

namespace dsm {

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
  return bound;
}

}  // namespace dsm
