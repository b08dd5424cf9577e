// The HTTP side of metrics, served by civetweb on --metrics_listen:
// GET /metrics (text format 0.0.4), /healthz (the process is alive) and
// /readyz (200 once the daemon says it is listening and serving, 503 before
// and while draining).
#ifndef SNAPTUN_METRICS_EXPORTER_H_
#define SNAPTUN_METRICS_EXPORTER_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "metrics/registry.h"

struct mg_context;

namespace snaptun::metrics {

class Exporter {
 public:
  // `listen` is "host:port"; port 0 picks a free one.
  static absl::StatusOr<std::unique_ptr<Exporter>> Start(
      const std::string& listen, const Registry& registry);
  ~Exporter();
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  int port() const { return port_; }
  void SetReady(bool ready) { ready_.store(ready); }
  bool ready() const { return ready_.load(); }
  std::string Render() const;

 private:
  explicit Exporter(const Registry& registry) : registry_(registry) {}

  const Registry& registry_;
  mg_context* context_ = nullptr;
  int port_ = 0;
  std::atomic<bool> ready_{false};
};

}  // namespace snaptun::metrics

#endif  // SNAPTUN_METRICS_EXPORTER_H_
