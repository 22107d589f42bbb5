#include "coordinator/openai/openai_http_server.h"

#include <httplib.h>

#include <chrono>
#include <deque>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/api_key.h"
#include "coordinator/openai/http_bind.h"
#include "coordinator/openai/openai_protocol.h"
#include "coordinator/openai/peer_watch.h"

namespace dsm {
namespace {

using nlohmann::json;

// Connections served at once. httplib gives each connection a thread, held by a running
// request and also by an idle one: up to 5 s waiting for a request's first bytes or
// for the next request on a kept-alive connection (clients' connection pools). With 256,
// 300 idle connections delayed a real request by ~5 s; 1024 leaves room for the
// coordinator's 256 running and 256 queued requests plus ~500 idle connections.
// (Threads cost address space, and memory only for the stack pages they touch.)
constexpr int kHttpThreads = 1024;

// Largest request body read: a prompt that fits any context is far smaller, and a
// larger body would only cost memory and tokenizer time before its rejection.
constexpr size_t kMaxBodyBytes = size_t{32} << 20;

void SendJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void SendError(httplib::Response& res, const absl::Status& status) {
  const openai::HttpError e = openai::ErrorFor(status);
  SendJson(res, e.http_status, e.body);
}

int64_t UnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A streamed request: the generation runs on its own thread and leaves server-sent
// events here; the HTTP thread writes them out. The HTTP status is chosen only once the
// request produced its first chunk or failed, so a full queue is a 429, not an error
// event inside a 200 stream.
struct StreamState {
  absl::Mutex mu;
  std::deque<std::string> events ABSL_GUARDED_BY(mu);
  bool started ABSL_GUARDED_BY(mu) = false;
  bool done ABSL_GUARDED_BY(mu) = false;
  absl::Status status ABSL_GUARDED_BY(mu);
  std::atomic<bool> client_gone{false};
  std::thread generation;

  ~StreamState() {
    client_gone = true;
    if (generation.joinable()) generation.join();
  }
};

// What an error that httplib raised without a body means, for the client.
std::string HttpErrorMessage(const httplib::Request& req, int status) {
  switch (status) {
    case 404:
      return absl::StrCat("no route for ", req.method, " ", req.path,
                          "; this server answers POST /v1/completions, POST /v1/chat/completions, "
                          "GET /v1/models, GET /health and GET /metrics");
    case 400:
      return "malformed HTTP request (its request line or headers, or a POST without a "
             "Content-Length or a chunked body)";
    case 413:
      return absl::StrCat("the request body is larger than ", kMaxBodyBytes >> 20, " MiB");
    case 414:
      return "the request URI is too long";
    default:
      return absl::StrCat("HTTP error ", status);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<OpenAiHttpServer>> OpenAiHttpServer::Bind(
    const std::string& host, int port, std::string model_id, std::function<std::string()> scrape,
    std::string api_key) {
  auto s = std::unique_ptr<OpenAiHttpServer>(new OpenAiHttpServer());
  s->server_ = NewHttpServer();
  s->model_id_ = std::move(model_id);
  s->api_key_ = std::move(api_key);
  s->metrics_ = std::move(scrape);
  absl::StatusOr<int> bound = BindHttpServer(*s->server_, host, port, kHttpThreads, "--http-port");
  if (!bound.ok()) return bound.status();
  s->port_ = *bound;
  s->Route();
  s->thread_ = std::thread([server = s->server_.get()] { server->listen_after_bind(); });
  return s;
}

OpenAiHttpServer::~OpenAiHttpServer() { Stop(); }

void OpenAiHttpServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

void OpenAiHttpServer::Route() {
  server_->set_payload_max_length(kMaxBodyBytes);
  if (!api_key_.empty()) {
    // The API (/v1/...) needs the key; probes and Prometheus do not.
    server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (req.path.rfind("/v1/", 0) != 0 ||
          BearerTokenMatches(req.get_header_value("Authorization"), api_key_)) {
        return httplib::Server::HandlerResponse::Unhandled;
      }
      res.set_header("WWW-Authenticate", "Bearer");
      SendJson(res, 401,
               openai::ErrorBody(req.has_header("Authorization")
                                     ? "the API key in the Authorization header is not this "
                                       "server's"
                                     : "this server needs an API key: send the header "
                                       "Authorization: Bearer <key>",
                                 "invalid_request_error", "invalid_api_key"));
      return httplib::Server::HandlerResponse::Handled;
    });
  }
  // Wrong method on a known path: 405 with Allow, as clients and proxies expect.
  const auto method_not_allowed = [](const char* allow) {
    return [allow](const httplib::Request& req, httplib::Response& res) {
      res.set_header("Allow", allow);
      SendJson(res, 405,
               openai::ErrorBody(
                   absl::StrCat(req.method, " is not allowed on ", req.path, " (use ", allow, ")"),
                   "invalid_request_error", "METHOD_NOT_ALLOWED"));
    };
  };
  for (const char* path : {"/v1/completions", "/v1/chat/completions"}) {
    server_->Get(path, method_not_allowed("POST"));
    server_->Put(path, method_not_allowed("POST"));
    server_->Patch(path, method_not_allowed("POST"));
    server_->Delete(path, method_not_allowed("POST"));
  }
  for (const char* path : {"/v1/models", "/health", "/metrics"}) {
    server_->Post(path, method_not_allowed("GET"));
    server_->Put(path, method_not_allowed("GET"));
    server_->Patch(path, method_not_allowed("GET"));
    server_->Delete(path, method_not_allowed("GET"));
  }
  // Every other error without a body of its own (an unknown path, a request httplib
  // rejects before routing) gets the API's JSON error shape, saying what went wrong.
  server_->set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        SendJson(res, res.status,
                 openai::ErrorBody(HttpErrorMessage(req, res.status), "invalid_request_error",
                                   res.status == 404 ? "NOT_FOUND" : "HTTP_ERROR"));
        return httplib::Server::HandlerResponse::Handled;
      }));

  server_->Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    Coordinator* c = coordinator_.load();
    const bool serving = c != nullptr && c->CanServe();
    res.status = serving ? 200 : 503;
    res.set_content(serving ? "" : "not serving\n", "text/plain");
  });

  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    if (!metrics_) {
      return SendJson(res, 404,
                      openai::ErrorBody("this server exports no metrics", "invalid_request_error",
                                        "NOT_FOUND"));
    }
    res.set_content(metrics_(), "text/plain; version=0.0.4");
  });

  server_->Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    json model = {{"id", model_id_},
                  {"object", "model"},
                  {"created", UnixSeconds()},
                  {"owned_by", "dsmserve"}};
    if (Coordinator* c = coordinator_.load()) {
      model["max_model_len"] = c->limits().context_length;
      model["vocab_size"] = c->limits().vocab_size;  // extension: bounds token-id prompts
    }
    SendJson(res, 200, {{"object", "list"}, {"data", json::array({model})}});
  });

  auto generate = [this](openai::Endpoint endpoint, const httplib::Request& req,
                         httplib::Response& res) {
    Coordinator* c = coordinator_.load();
    if (c == nullptr) {
      return SendError(res, absl::UnavailableError("server is starting: the model is loading"));
    }
    absl::StatusOr<openai::ParsedRequest> parsed =
        openai::ParseRequest(endpoint, req.body, model_id_);
    if (!parsed.ok()) return SendError(res, parsed.status());
    absl::StatusOr<PreparedRequest> prepared =
        endpoint == openai::Endpoint::kCompletions
            ? PrepareGenerate(parsed->generate, c->text(), c->limits())
            : PrepareChat(parsed->chat, c->text(), c->limits());
    if (!prepared.ok()) return SendError(res, prepared.status());
    openai::ResponseContext context;
    context.id = absl::StrFormat(
        "%s-%016x", endpoint == openai::Endpoint::kCompletions ? "cmpl" : "chatcmpl",
        next_id_.fetch_add(1) ^ static_cast<uint64_t>(UnixSeconds()) << 20);
    context.created = UnixSeconds();
    context.model = parsed->model;
    context.tokenizer = c->text() ? c->text()->tokenizer.get() : nullptr;
    prepared->request_id = context.id;
    auto watch = std::make_shared<PeerWatch>(req.remote_addr, req.remote_port, req.local_port);

    if (!parsed->stream) {
      absl::StatusOr<v1::GenerateResponse> result = c->Generate(
          *prepared, [&watch] { return watch->Closed(); }, nullptr);
      if (!result.ok()) return SendError(res, result.status());
      return SendJson(res, 200, openai::CompletionResponse(*parsed, context, *result));
    }

    auto state = std::make_shared<StreamState>();
    auto request = std::make_shared<openai::ParsedRequest>(*std::move(parsed));
    state->generation = std::thread(
        [state_ptr = state.get(), request, context, c, watch, prepared = *std::move(prepared)] {
          StreamState& s = *state_ptr;
          openai::StreamEncoder encoder(*request, context);
          v1::Usage usage;
          ChunkWriter writer = [&](const v1::GenerateStreamResponse& chunk) {
            if (chunk.has_usage()) usage = chunk.usage();
            std::string event = encoder.Encode(chunk);
            absl::MutexLock lock(&s.mu);
            s.started = true;
            if (!event.empty()) s.events.push_back(std::move(event));
            return !s.client_gone.load();
          };
          absl::StatusOr<v1::GenerateResponse> result = c->Generate(
              prepared, [&] { return s.client_gone.load() || watch->Closed(); }, &writer);
          absl::MutexLock lock(&s.mu);
          s.done = true;
          s.status = result.status();
          if (result.ok()) {
            s.events.push_back(encoder.Finish(usage));
          } else if (s.started) {
            // Mid-stream failure: an error event, as vLLM sends, then the end marker.
            s.events.push_back(openai::SseEvent(openai::ErrorFor(result.status()).body));
            s.events.push_back("data: [DONE]\n\n");
          }
        });
    bool failed_before_output = false;
    absl::Status failure;
    {
      absl::MutexLock lock(&state->mu);
      state->mu.Await(absl::Condition(
          +[](StreamState* s) ABSL_NO_THREAD_SAFETY_ANALYSIS { return s->started || s->done; },
          state.get()));
      failed_before_output = !state->started && !state->status.ok();
      failure = state->status;
    }
    if (failed_before_output) return SendError(res, failure);
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [state](size_t, httplib::DataSink& sink) {
          std::deque<std::string> batch;
          bool done = false;
          {
            absl::MutexLock lock(&state->mu);
            state->mu.AwaitWithTimeout(absl::Condition(
                                           +[](StreamState* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                             return !s->events.empty() || s->done;
                                           },
                                           state.get()),
                                       absl::Milliseconds(200));
            batch.swap(state->events);
            done = state->done;
          }
          for (const std::string& event : batch) {
            if (!sink.write(event.data(), event.size())) {
              state->client_gone = true;  // the generation thread cancels its sequences
              return false;
            }
          }
          if (done) {
            absl::MutexLock lock(&state->mu);
            if (state->events.empty()) sink.done();
          }
          return true;
        },
        [state](bool success) {
          if (!success) state->client_gone = true;
        });
  };
  server_->Post("/v1/completions", [generate](const httplib::Request& req, httplib::Response& res) {
    generate(openai::Endpoint::kCompletions, req, res);
  });
  server_->Post("/v1/chat/completions",
                [generate](const httplib::Request& req, httplib::Response& res) {
                  generate(openai::Endpoint::kChat, req, res);
                });
}

}  // namespace dsm
