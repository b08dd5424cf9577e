// Registration of this daemon's static identity with SNAP control planes,
// shared by every tunnel that names the same control plane: the first open
// registers (retrying with exponential backoff and jitter), opens that
// arrive meanwhile wait for that same registration, later ones find it done.
// Reference-counted: the last tunnel to go releases it. A failed first
// registration leaves nothing behind. A new SNAP token re-registers with
// every control plane in use. Also discovers a data plane's address and key.
#ifndef SNAPTUN_SERVICE_CONTROL_PLANE_REGISTRAR_H_
#define SNAPTUN_SERVICE_CONTROL_PLANE_REGISTRAR_H_

#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "service/backoff.h"
#include "service/control_plane/token_file.h"
#include "service/dataplane_metrics.h"
#include "tunnel/core/endpoint.h"
#include "tunnel/crypto/secret.h"

namespace snaptun::service {

struct DataPlaneInfo {
  core::Endpoint address;
  crypto::PublicKey public_key{};
};

struct RegistrarConfig {
  BackoffPolicy backoff{absl::Milliseconds(200), absl::Seconds(5), 2.0, 0.2};
  int attempts = 4;
  absl::Duration call_timeout = absl::Seconds(5);
};

class Registrar {
 public:
  Registrar(const crypto::PublicKey& identity, TokenFile& token,
            DataPlaneMetrics* metrics, RegistrarConfig config = {});
  ~Registrar();

  // Holds a registration with `url`; `done` runs once, on another thread
  // unless the registration already exists.
  void Acquire(const std::string& url, std::function<void(absl::Status)> done);
  void Release(const std::string& url);
  // Registers again with every control plane in use (token changed).
  void RegisterAll();
  // GetSnapDataPlaneAddress (blocking, with the same retries).
  absl::StatusOr<DataPlaneInfo> Discover(const std::string& url);
  size_t in_use() const;

 private:
  struct Entry {
    int references = 0;
    bool registered = false;
    std::vector<std::function<void(absl::Status)>> waiting;
  };
  absl::Status RegisterWithRetries(const std::string& url);
  absl::Status RegisterOnce(const std::string& url);
  void Spawn(std::function<void()> work);

  const crypto::PublicKey identity_;
  TokenFile& token_;
  DataPlaneMetrics* const metrics_;
  const RegistrarConfig config_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_CONTROL_PLANE_REGISTRAR_H_
