// Shared, reference-counted registrations with retries.
#include "service/control_plane/registrar.h"

#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "proto/anapaya/snap/v1/control_service.pb.h"
#include "service/control_plane/connect_client.h"
#include "service/control_plane/token_expiry.h"
#include "service/error_reason.h"
#include "tunnel/crypto/random.h"

namespace snaptun::service {
namespace {

constexpr char kRegister[] =
    "/anapaya.snap.v1.SnapControl/RegisterSnapTunIdentity";
constexpr char kDiscover[] =
    "/anapaya.snap.v1.SnapControl/GetSnapDataPlaneAddress";

const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

bool Retryable(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable ||
         status.code() == absl::StatusCode::kDeadlineExceeded ||
         status.code() == absl::StatusCode::kResourceExhausted ||
         status.code() == absl::StatusCode::kUnknown ||
         status.code() == absl::StatusCode::kInternal;
}

}  // namespace

template <typename Call>
auto Registrar::WithRetries(Call call) -> decltype(call()) {
  Backoff backoff(config_.backoff);
  crypto::SystemRandom rng;
  for (int attempt = 1;; ++attempt) {
    auto result = call();
    if (result.ok() || !Retryable(StatusOf(result)) ||
        attempt >= config_.attempts) {
      return result;
    }
    if (!Pause(backoff.Next(rng))) return result;
  }
}

Registrar::Registrar(const crypto::PublicKey& identity, TokenFile& token,
                     DataPlaneMetrics* metrics, RegistrarConfig config)
    : identity_(identity), token_(token), metrics_(metrics), config_(config) {
  config_.call.cancel = &cancel_;
  refresher_ = std::thread([this] {
    while (Pause(config_.refresh_interval)) RegisterAll();
  });
}

Registrar::~Registrar() { Stop(); }

void Registrar::Stop() {
  std::list<Job> jobs;
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    cancel_.store(true, std::memory_order_relaxed);
    jobs.swap(jobs_);
  }
  if (refresher_.joinable()) refresher_.join();
  for (Job& job : jobs) job.thread.join();
  jobs.clear();
  {
    // A renewal the refresher started while stopping.
    absl::MutexLock lock(&mu_);
    jobs.swap(jobs_);
  }
  for (Job& job : jobs) job.thread.join();
  std::vector<std::function<void(absl::Status)>> waiting;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [url, entry] : entries_) {
      for (auto& callback : entry.waiting)
        waiting.push_back(std::move(callback));
      entry.waiting.clear();
    }
  }
  for (auto& callback : waiting) {
    callback(absl::CancelledError("the daemon is shutting down"));
  }
}

bool Registrar::Pause(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopped_), d);
  return !stopped_;
}

void Registrar::ReapFinished() {
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (it->done) {
      it->thread.join();
      it = jobs_.erase(it);
    } else {
      ++it;
    }
  }
}

bool Registrar::Spawn(std::function<void()> work) {
  absl::MutexLock lock(&mu_);
  if (stopped_) return false;
  ReapFinished();
  Job& job = jobs_.emplace_back();
  // The job marks itself done as its last step; the list node is stable.
  job.thread = std::thread([this, &job, work = std::move(work)] {
    work();
    absl::MutexLock done_lock(&mu_);
    job.done = true;
  });
  return true;
}

void Registrar::Acquire(const std::string& url,
                        std::function<void(absl::Status)> done) {
  bool registered = false;
  bool start = false;
  {
    absl::MutexLock lock(&mu_);
    Entry& entry = entries_[url];
    ++entry.references;
    registered = entry.registered;
    if (!registered) {
      entry.waiting.push_back(std::move(done));
      start = entry.waiting.size() == 1;  // Else one is under way.
    }
  }
  if (registered) {
    done(absl::OkStatus());
    return;
  }
  if (!start) return;
  const bool spawned = Spawn([this, url] {
    const absl::Status status = RegisterWithRetries(url);
    std::vector<std::function<void(absl::Status)>> waiting;
    {
      absl::MutexLock lock(&mu_);
      auto it = entries_.find(url);
      if (it == entries_.end()) return;
      waiting.swap(it->second.waiting);
      if (status.ok()) {
        it->second.registered = true;
      } else {
        entries_.erase(it);  // Nothing remains of a failed registration.
      }
    }
    for (auto& callback : waiting) callback(status);
  });
  if (!spawned) {
    std::vector<std::function<void(absl::Status)>> waiting;
    {
      absl::MutexLock lock(&mu_);
      auto it = entries_.find(url);
      if (it != entries_.end()) {
        waiting.swap(it->second.waiting);
        entries_.erase(it);
      }
    }
    for (auto& callback : waiting) {
      callback(absl::CancelledError("the daemon is shutting down"));
    }
  }
}

void Registrar::Release(const std::string& url) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(url);
  if (it != entries_.end() && --it->second.references <= 0 &&
      it->second.waiting.empty()) {
    entries_.erase(it);
  }
}

void Registrar::DiscoverAndAcquire(
    const std::string& control_plane_url,
    std::function<void(absl::StatusOr<Registration>)> done) {
  auto shared =
      std::make_shared<std::function<void(absl::StatusOr<Registration>)>>(
          std::move(done));
  const bool spawned = Spawn([this, control_plane_url, shared] {
    absl::StatusOr<DataPlaneInfo> info = Discover(control_plane_url);
    if (!info.ok()) {
      (*shared)(info.status());
      return;
    }
    Registration registration;
    registration.url = info->control_address.empty() ? control_plane_url
                                                     : info->control_address;
    registration.data_plane = *info;
    Acquire(registration.url, [shared, registration](absl::Status status) {
      if (!status.ok()) {
        (*shared)(status);
      } else {
        (*shared)(registration);
      }
    });
  });
  if (!spawned) (*shared)(absl::CancelledError("the daemon is shutting down"));
}

void Registrar::RegisterAll() {
  std::vector<std::string> urls;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [url, entry] : entries_) {
      if (entry.registered) urls.push_back(url);
    }
  }
  for (const std::string& url : urls) Refresh(url);
}

void Registrar::Refresh(const std::string& url) {
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(url);
    if (it == entries_.end() || !it->second.registered) return;
    if (!refreshing_.insert(url).second) return;  // One is under way.
  }
  const bool spawned = Spawn([this, url] {
    // Every attempt is counted in the registrations metric.
    const absl::Status status = Renew(url);
    if (!status.ok() && !absl::IsCancelled(status)) {
      std::cerr << "snaptund: renewing the registration with " << url
                << " failed: " << status.message() << "\n";
    }
    absl::MutexLock lock(&mu_);
    refreshing_.erase(url);
  });
  if (!spawned) {
    absl::MutexLock lock(&mu_);
    refreshing_.erase(url);
  }
}

absl::Status Registrar::Renew(const std::string& url) {
  Backoff backoff(config_.renewal_backoff);
  crypto::SystemRandom rng;
  std::string token = token_.Current();
  const absl::Time until =
      TokenExpiry(token).value_or(absl::Now() + config_.refresh_interval);
  crypto::SecureZero(token.data(), token.size());
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto it = entries_.find(url);
      if (it == entries_.end() || !it->second.registered) {
        return absl::OkStatus();  // Released meanwhile: nothing to renew.
      }
    }
    const absl::Status status = RegisterOnce(url);
    if (status.ok() || !Retryable(status)) return status;
    const absl::Duration delay = backoff.Next(rng);
    if (absl::Now() + delay >= until) {
      return absl::DeadlineExceededError(absl::StrCat(
          "gave up when the SNAP token expired: ", status.message()));
    }
    if (!Pause(delay)) return absl::CancelledError("stopped");
  }
}

size_t Registrar::in_use() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

absl::Status Registrar::RegisterOnce(const std::string& url) {
  anapaya::snap::v1::RegisterSnapTunIdentityRequest request;
  request.set_initiator_static_x25519(identity_.data(), identity_.size());
  request.set_psk_share(std::string(32, '\0'));
  std::string token = token_.Current();
  absl::StatusOr<std::string> body = ConnectUnary(
      url, kRegister, request.SerializeAsString(), token, config_.call);
  crypto::SecureZero(token.data(), token.size());
  absl::Status status = body.status();
  anapaya::snap::v1::RegisterSnapTunIdentityResponse response;
  if (status.ok() && !response.ParseFromString(*body)) {
    // Not retried: the same server would send the same answer.
    status = absl::DataLossError("the control plane's answer does not parse");
  }
  if (metrics_ != nullptr) {
    metrics_->registrations(status.ok()).Increment();
  }
  return status;
}

absl::Status Registrar::RegisterWithRetries(const std::string& url) {
  absl::Status status = WithRetries([&] { return RegisterOnce(url); });
  if (!status.ok() && Retryable(status)) {
    return WithReason(absl::UnavailableError(absl::StrCat(
                          "could not register with the control plane after ",
                          config_.attempts, " attempts: ", status.message())),
                      reason::kControlPlaneUnavailable);
  }
  return status;
}

absl::StatusOr<DataPlaneInfo> Registrar::Discover(const std::string& url) {
  auto once = [&]() -> absl::StatusOr<DataPlaneInfo> {
    std::string token = token_.Current();
    absl::StatusOr<std::string> body = ConnectUnary(
        url, kDiscover,
        anapaya::snap::v1::GetSnapDataPlaneAddressRequest().SerializeAsString(),
        token, config_.call);
    crypto::SecureZero(token.data(), token.size());
    if (!body.ok()) return body.status();
    anapaya::snap::v1::GetSnapDataPlaneAddressResponse response;
    if (!response.ParseFromString(*body)) {
      return absl::DataLossError("the control plane's answer does not parse");
    }
    DataPlaneInfo info;
    const std::optional<core::Endpoint> address =
        core::Endpoint::Parse(response.address());
    if (!address.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the control plane gave a data plane address that is not ip:port: ",
          response.address()));
    }
    info.address = *address;
    if (response.has_snap_tun_control_address()) {
      info.control_address = response.snap_tun_control_address();
    }
    if (response.snap_static_x25519().size() != 32) {
      return absl::InvalidArgumentError(
          "the control plane gave no 32-byte data plane key");
    }
    std::copy(response.snap_static_x25519().begin(),
              response.snap_static_x25519().end(), info.public_key.begin());
    return info;
  };
  absl::StatusOr<DataPlaneInfo> info = WithRetries(once);
  if (!info.ok() && Retryable(info.status())) {
    return WithReason(
        absl::UnavailableError(absl::StrCat(
            "could not discover the data plane after ", config_.attempts,
            " attempts: ", info.status().message())),
        reason::kControlPlaneUnavailable);
  }
  return info;
}

}  // namespace snaptun::service
