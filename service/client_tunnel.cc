// Opening a client tunnel, waiting for it, closing it from any thread.
#include "service/client_tunnel.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "service/client_driver.h"

namespace snaptun::service {
namespace {

// How long Connect waits in real time beyond the connect timeout, which
// the worker's clock enforces first (with its own error) when it is real.
constexpr absl::Duration kConnectWaitMargin = absl::Seconds(2);

}  // namespace

const std::shared_ptr<const ClientRoleConfig>& ClientRoleConfig::Default() {
  static const auto* defaults = new std::shared_ptr<const ClientRoleConfig>(
      std::make_shared<const ClientRoleConfig>());
  return *defaults;
}

PortLimits ClientTunnelConfig::Port() const {
  PortLimits port = role->port;
  if (receive_packets != 0) port.receive_packets = receive_packets;
  return port;
}

std::shared_ptr<ClientTunnel> ClientTunnel::Open(
    Worker& worker, const core::LocalIdentity& local,
    const ClientTunnelConfig& config, EventCallback on_event,
    ConnectCallback on_connect) {
  const ResidentId id = worker.residents().NextId();
  ClientTunnelConfig own = config;
  if (own.role == nullptr) own.role = ClientRoleConfig::Default();
  std::shared_ptr<ClientTunnel> tunnel(new ClientTunnel(worker, id, own));
  tunnel->port_ = ClientDriver::MakePort(worker, id, tunnel->config_);
  // Shared only to fit a copyable task; the worker takes it over.
  auto driver = std::make_shared<std::unique_ptr<ClientDriver>>(
      std::make_unique<ClientDriver>(tunnel, local, std::move(on_event),
                                     std::move(on_connect)));
  const bool posted = worker.loop().Post([&worker, id, driver] {
    ClientDriver* started = driver->get();
    worker.residents().Add(id, std::move(*driver));
    started->Start();
  });
  if (!posted) {
    // The loop takes no more tasks (it may still be draining older ones):
    // this driver never reaches it, so it ends here, on this thread.
    (*driver)->Shutdown("the worker has stopped",
                        absl::UnavailableError("the worker has stopped"));
  }
  return tunnel;
}

absl::StatusOr<std::shared_ptr<ClientTunnel>> ClientTunnel::Connect(
    Worker& worker, const core::LocalIdentity& local,
    const ClientTunnelConfig& config, EventCallback on_event) {
  // Shared with the callback, which may run after this returns (below).
  struct Outcome {
    absl::Notification done;
    absl::Status status;
  };
  auto outcome = std::make_shared<Outcome>();
  std::shared_ptr<ClientTunnel> tunnel =
      Open(worker, local, config, std::move(on_event),
           [outcome](absl::StatusOr<core::Endpoint> result) {
             outcome->status = result.status();
             outcome->done.Notify();
           });
  // The connect timeout runs on the worker's clock. This wait is bounded in
  // real time too, so that a caller whose clock does not move (a test's
  // fake clock, when a loopback datagram is lost) fails instead of hanging.
  if (!outcome->done.WaitForNotificationWithTimeout(config.connect_timeout +
                                                    kConnectWaitMargin)) {
    tunnel->Close("the connect was not answered in real time");
    return WithReason(
        absl::DeadlineExceededError(absl::StrCat(
            "the handshake with ", config.data_plane.ToString(),
            " did not complete within ",
            absl::FormatDuration(config.connect_timeout + kConnectWaitMargin),
            " of real time")),
        reason::kHandshakeTimeout);
  }
  if (!outcome->status.ok()) return outcome->status;
  return tunnel;
}

std::optional<core::Endpoint> ClientTunnel::local_address() const {
  absl::MutexLock lock(&mu_);
  return local_address_;
}

void ClientTunnel::Close(const std::string& reason) {
  if (worker_.loop().InLoopThread()) {
    if (auto* driver = worker_.residents().Find<ClientDriver>(id_)) {
      driver->Shutdown(reason);
      return;
    }
  }
  // The driver may not have started yet: it checks this first, and closes
  // without opening a socket.
  {
    absl::MutexLock lock(&mu_);
    if (!close_requested_.has_value()) close_requested_ = reason;
  }
  worker_.RunOn<ClientDriver>(
      id_, [reason](ClientDriver& driver) { driver.Shutdown(reason); });
}

}  // namespace snaptun::service
