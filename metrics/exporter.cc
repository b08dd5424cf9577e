// civetweb request handlers for /metrics, /healthz, /readyz.
#include "metrics/exporter.h"

#include <civetweb.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "metrics/accept_nudger.h"

namespace snaptun::metrics {
namespace {

void Reply(mg_connection* connection, int status, const char* reason,
           const char* type, const std::string& body) {
  mg_printf(connection,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
            status, reason, type, body.size());
  mg_write(connection, body.data(), body.size());
}

int HandleMetrics(mg_connection* connection, void* data) {
  const auto* exporter = static_cast<const Exporter*>(data);
  Reply(connection, 200, "OK", kTextContentType, exporter->Render());
  return 200;
}

int HandleHealth(mg_connection* connection, void*) {
  Reply(connection, 200, "OK", "text/plain", "ok\n");
  return 200;
}

int HandleReady(mg_connection* connection, void* data) {
  const auto* exporter = static_cast<const Exporter*>(data);
  if (exporter->ready()) {
    Reply(connection, 200, "OK", "text/plain", "ready\n");
    return 200;
  }
  Reply(connection, 503, "Service Unavailable", "text/plain", "not ready\n");
  return 503;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Exporter>> Exporter::Start(
    const std::string& listen, const Exposition& exposition) {
  static const unsigned initialized = mg_init_library(0);
  (void)initialized;
  std::unique_ptr<Exporter> exporter(new Exporter(exposition));
  // civetweb takes "host:port"; a bracketed IPv6 host works as "[::1]:port".
  const std::string ports = listen;
  // civetweb gives each connection a thread until its request is read. A
  // handful of idle connections must not freeze the probes: enough threads
  // for several at once, and a short limit on reading a request, so a
  // connection that sends nothing gives its thread back in 2 s.
  const char* options[] = {"listening_ports",
                           ports.c_str(),
                           "num_threads",
                           "16",
                           "request_timeout_ms",
                           "2000",
                           "enable_keep_alive",
                           "no",
                           nullptr};
  mg_callbacks callbacks{};
  exporter->context_ = mg_start(&callbacks, nullptr, options);
  if (exporter->context_ == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "cannot serve metrics on ", listen,
        ": the address is malformed or in use (--metrics_listen)"));
  }
  mg_set_request_handler(exporter->context_, "/metrics$", HandleMetrics,
                         exporter.get());
  mg_set_request_handler(exporter->context_, "/healthz$", HandleHealth,
                         exporter.get());
  mg_set_request_handler(exporter->context_, "/readyz$", HandleReady,
                         exporter.get());
  mg_server_port server_ports[4] = {};
  const int n = mg_get_server_ports(exporter->context_, 4, server_ports);
  if (n > 0) exporter->port_ = server_ports[0].port;
  exporter->listen_ = listen;
  return exporter;
}

Exporter::~Exporter() {
  if (context_ == nullptr) return;
  // Without the nudges mg_stop waits out civetweb's 2 s accept poll.
  AcceptNudger nudger(listen_, port_);
  mg_stop(context_);
}

}  // namespace snaptun::metrics
