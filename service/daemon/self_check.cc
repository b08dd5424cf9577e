// The self-check: start, authorize, open, send, receive, drain.
#include "service/daemon/self_check.h"

#include <unistd.h>

#include <iostream>
#include <string>

#include "absl/synchronization/notification.h"
#include "service/daemon/daemon.h"

namespace snaptun::service {

int SelfCheck() {
  DaemonConfig config;
  config.grpc_listen = "127.0.0.1:0";
  config.metrics_listen = "127.0.0.1:0";
  config.gateway_listen = "127.0.0.1:0";
  config.private_key_file =
      "/tmp/snaptund-self-check-" + std::to_string(getpid()) + ".key";
  absl::StatusOr<std::unique_ptr<Daemon>> daemon = Daemon::Start(config);
  unlink(config.private_key_file.c_str());
  if (!daemon.ok()) {
    std::cerr << "self-check: start: " << daemon.status() << "\n";
    return 1;
  }
  SessionManager& sessions = (*daemon)->sessions();
  if (absl::StatusOr<IdentityRecord> granted = sessions.GrantIdentity(
          (*daemon)->public_key(), absl::Now(), absl::Now() + absl::Minutes(1));
      !granted.ok()) {
    std::cerr << "self-check: grant: " << granted.status() << "\n";
    return 1;
  }
  OpenParams params;
  params.tunnel_id = "self-check";
  params.peer_public_key = (*daemon)->public_key();
  params.data_plane = *(*daemon)->gateway_address();
  params.connect_timeout = absl::Seconds(5);
  absl::Notification opened;
  absl::Status open_status;
  sessions.Open(params, [&](absl::StatusOr<TunnelSnapshot> result) {
    open_status = result.status();
    opened.Notify();
  });
  opened.WaitForNotification();
  int status = 1;
  if (!open_status.ok()) {
    std::cerr << "self-check: open: " << open_status << "\n";
  } else {
    absl::StatusOr<SessionManager::StreamAttachment> client =
        sessions.AttachStream("self-check");
    const Packet payload = {'s', 'e', 'l', 'f'};
    if (client.ok()) client->port->Send(payload);
    ListFilter gateways;
    gateways.role = Role::kGateway;
    absl::StatusOr<ListPage> page = sessions.List(gateways, 10, "");
    std::vector<Packet> got;
    if (page.ok() && page->tunnels.size() == 1) {
      absl::StatusOr<SessionManager::StreamAttachment> gateway =
          sessions.AttachStream(page->tunnels[0].tunnel_id);
      if (gateway.ok()) gateway->port->Receive(got, 1, absl::Seconds(5));
    }
    if (got.size() == 1 && got[0] == payload) {
      std::cout << "self-check ok: a packet crossed a tunnel to this "
                   "daemon's own gateway\n";
      status = 0;
    } else {
      std::cerr << "self-check: the packet did not arrive\n";
    }
  }
  (*daemon)->Drain();
  return status;
}

}  // namespace snaptun::service
