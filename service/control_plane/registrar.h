// Registration of this daemon's static identity with SNAP control planes,
// shared by every tunnel that names the same control plane: the first open
// registers (retrying with exponential backoff and jitter), opens that
// arrive meanwhile wait for that same registration, later ones find it done.
// Reference-counted: the last tunnel to go releases it. A failed first
// registration leaves nothing behind. A new SNAP token re-registers with
// every control plane in use. Also discovers a data plane's address and key.
#ifndef SNAPTUN_SERVICE_CONTROL_PLANE_REGISTRAR_H_
#define SNAPTUN_SERVICE_CONTROL_PLANE_REGISTRAR_H_

#include <atomic>
#include <functional>
#include <list>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "service/backoff.h"
#include "service/control_plane/connect_client.h"
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
  // Timeout, answer size limit and plain-http hosts of each call.
  ConnectOptions call;
};

class Registrar {
 public:
  Registrar(const crypto::PublicKey& identity, TokenFile& token,
            DataPlaneMetrics* metrics, RegistrarConfig config = {});
  // Stops, then joins what is left.
  ~Registrar();

  // Abandons calls and backoff waits under way, joins every thread and
  // runs the callbacks still waiting with CANCELLED. Later Acquire calls
  // fail at once. Call before destroying what the callbacks capture.
  void Stop();

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
  struct Job {
    std::thread thread;
    bool done = false;
  };
  template <typename Call>
  auto WithRetries(Call call) -> decltype(call());
  absl::Status RegisterWithRetries(const std::string& url);
  absl::Status RegisterOnce(const std::string& url);
  // Runs `work` on a thread of its own; threads that finished are joined
  // first, so at most one thread per registration under way is held.
  // False (and `work` not run) once stopped.
  bool Spawn(std::function<void()> work);
  void ReapFinished() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sleeps for `d` unless stopped first; false when stopped.
  bool Pause(absl::Duration d);

  const crypto::PublicKey identity_;
  TokenFile& token_;
  DataPlaneMetrics* const metrics_;
  RegistrarConfig config_;
  std::atomic<bool> cancel_{false};
  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::list<Job> jobs_ ABSL_GUARDED_BY(mu_);
  // URLs with a re-registration under way (token rotation), so a burst of
  // rotations starts one each.
  std::set<std::string> refreshing_ ABSL_GUARDED_BY(mu_);
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_CONTROL_PLANE_REGISTRAR_H_
