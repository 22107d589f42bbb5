#include "coordinator/metrics/metrics_http_server.h"

#include <httplib.h>

#include "coordinator/openai/http_bind.h"

namespace dsm {

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& host, int port, std::function<std::string()> scrape) {
  auto s = std::unique_ptr<MetricsHttpServer>(new MetricsHttpServer());
  s->server_ = NewHttpServer();
  absl::StatusOr<int> bound = BindHttpServer(*s->server_, host, port, 4, "--metrics-port");
  if (!bound.ok()) return bound.status();
  s->port_ = *bound;
  s->server_->Get("/metrics", [scrape](const httplib::Request&, httplib::Response& res) {
    res.set_content(scrape(), "text/plain; version=0.0.4");
  });
  s->thread_ = std::thread([server = s->server_.get()] { server->listen_after_bind(); });
  return s;
}

MetricsHttpServer::~MetricsHttpServer() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace dsm
