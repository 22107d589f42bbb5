#pragma once
// Tells whether the client of an HTTP request has closed its connection, so that a
// request waiting in the queue or generating without output is cancelled at once.
// cpp-httplib does not expose the connection's socket to handlers, so the socket is found
// by its addresses among this process's descriptors.

#include <string>

namespace dsm {

class PeerWatch {
 public:
  PeerWatch(const std::string& remote_addr, int remote_port, int local_port);

  // True once the peer has shut down its side (or the socket failed); false while it is
  // connected or when the socket could not be found (never a false alarm).
  bool Closed() const;

 private:
  int fd_ = -1;
};

}  // namespace dsm
