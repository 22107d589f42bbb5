#pragma once
// Binds a cpp-httplib server to host:port (0 = a free port) with its own thread pool:
// the port is held exclusively (httplib sets SO_REUSEADDR, never SO_REUSEPORT), and a
// taken port is an error naming the flag.

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace httplib {
class Server;
}

namespace dsm {

// A server for BindHttpServer (it must come from here: binding widens its accept queue).
std::unique_ptr<httplib::Server> NewHttpServer();

// The bound port, or FAILED_PRECONDITION naming `flag`. `server` is from NewHttpServer.
absl::StatusOr<int> BindHttpServer(httplib::Server& server, const std::string& host, int port,
                                   int threads, const std::string& flag);

}  // namespace dsm
