// Registration of this daemon's static identity with SNAP control planes,
// shared by every tunnel that names the same control plane: the first open
// registers (retrying with exponential backoff and jitter), opens that
// arrive meanwhile wait for that same registration, later ones find it done.
// Reference-counted: the last tunnel to go releases it. A failed first
// registration leaves nothing behind. Also discovers a data plane's address,
// key and snaptun control address: an open discovers first, then registers
// where discovery says (the snaptun control plane may be separate from the
// SNAP one).
//
// Registrations in use are renewed, so authorization does not lapse (the
// reference's W8): every refresh_interval, on a new SNAP token, and when a
// tunnel reconnects (Refresh). A renewal that fails is retried with backoff
// until it succeeds or the token expires; each attempt is counted.
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
  // The snaptun control plane to register with; empty when discovery named
  // none (then the SNAP control plane itself).
  std::string control_address;
};

struct RegistrarConfig {
  // First registrations and discoveries: a few quick tries, so an open
  // fails fast when the control plane is down.
  BackoffPolicy backoff{absl::Milliseconds(200), absl::Seconds(5), 2.0, 0.2};
  int attempts = 4;
  // Renewals: every refresh_interval (edge-tun's 150 s), retried with
  // renewal_backoff until they succeed or the token expires (a token
  // without `exp`: for one refresh_interval).
  absl::Duration refresh_interval = absl::Seconds(150);
  BackoffPolicy renewal_backoff{absl::Seconds(1), absl::Seconds(30), 2.0, 0.2};
  // Timeout, answer size limit and plain-http hosts of each call.
  ConnectOptions call;
};

// Where an open registered, and the data plane it discovered.
struct Registration {
  std::string url;
  DataPlaneInfo data_plane;
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
  // Discovers through `control_plane_url`, then Acquires the registration
  // at the discovered snaptun control address (or `control_plane_url`).
  // `done` runs once, on another thread; on success the caller holds the
  // registration at Registration::url.
  void DiscoverAndAcquire(
      const std::string& control_plane_url,
      std::function<void(absl::StatusOr<Registration>)> done);
  // Renews every registration in use (token changed, or the timer).
  void RegisterAll();
  // Renews the registration at `url` now, in the background (a tunnel
  // reconnected: its gateway may have lost the grant).
  void Refresh(const std::string& url);
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
  // Retries until success, a refusal that retrying cannot fix, the token's
  // expiry, or Stop.
  absl::Status Renew(const std::string& url);
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
  // Renews everything in use every refresh_interval.
  std::thread refresher_;
};

}  // namespace snaptun::service

#endif  // SNAPTUN_SERVICE_CONTROL_PLANE_REGISTRAR_H_
