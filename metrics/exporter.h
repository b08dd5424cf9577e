// The HTTP side of metrics, served by civetweb on --metrics_listen:
// GET /metrics (text format 0.0.4, serialized by prometheus-cpp), /healthz
// (the process is alive) and /readyz (200 once the daemon says it is
// listening and serving, 503 before and while draining). prometheus-cpp's
// Exposer would serve /metrics alone: it has no way to add the probes on the
// same port, and its civetweb settings are not ours to bound (slow clients,
// idle connections), so this stays a thin civetweb server.
#ifndef SNAPTUN_METRICS_EXPORTER_H_
#define SNAPTUN_METRICS_EXPORTER_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "metrics/exposition.h"

struct mg_context;

namespace snaptun::metrics {

class Exporter {
 public:
  // `listen` is "host:port"; port 0 picks a free one.
  static absl::StatusOr<std::unique_ptr<Exporter>> Start(
      const std::string& listen, const Exposition& exposition);
  ~Exporter();
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  int port() const { return port_; }
  void SetReady(bool ready) { ready_.store(ready); }
  bool ready() const { return ready_.load(); }
  std::string Render() const { return exposition_.Render(); }

 private:
  explicit Exporter(const Exposition& exposition) : exposition_(exposition) {}

  const Exposition& exposition_;
  mg_context* context_ = nullptr;
  std::string listen_;
  int port_ = 0;
  std::atomic<bool> ready_{false};
};

}  // namespace snaptun::metrics

#endif  // SNAPTUN_METRICS_EXPORTER_H_
