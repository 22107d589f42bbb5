#pragma once
// Binds a cpp-httplib server to host:port (0 = a free port) with its own thread pool:
// the port is held exclusively (httplib sets SO_REUSEADDR, never SO_REUSEPORT), and a
// taken port is an error naming the flag.

#include <string>

#include "absl/status/statusor.h"

namespace httplib {
class Server;
}

namespace dsm {

// The bound port, or FAILED_PRECONDITION naming `flag`.
absl::StatusOr<int> BindHttpServer(httplib::Server& server, const std::string& host, int port,
                                   int threads, const std::string& flag);

}  // namespace dsm
