// Many SNAP clients from one process, for tests and benchmarks of the
// gateway at scale: each client is a core::Peer with its own identity and
// its own source address. Every 127.x.y.z is local, and one socket sends
// from any of them with IP_PKTINFO, so N tunnels need neither N sockets nor
// N ports; client i sends from LoadSourceAddress(i) and the socket's port.
#ifndef SNAPTUN_TESTS_TESTING_LOAD_CLIENTS_H_
#define SNAPTUN_TESTS_TESTING_LOAD_CLIENTS_H_

#include <netinet/in.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "tunnel/core/endpoint.h"
#include "tunnel/core/identity.h"
#include "tunnel/core/peer.h"
#include "tunnel/crypto/random.h"

namespace snaptun::testing {

// Client i's source IP: 127.(1 + (i+1) >> 16).((i+1) >> 8).(i+1).
std::array<uint8_t, 4> LoadSourceAddress(size_t i);
size_t LoadSourceIndex(const in_addr& address);

// One UDP socket that sends from any 127.x.y.z and tells which one a reply
// was addressed to.
class MultiSourceSocket {
 public:
  MultiSourceSocket();
  ~MultiSourceSocket();
  MultiSourceSocket(const MultiSourceSocket&) = delete;
  MultiSourceSocket& operator=(const MultiSourceSocket&) = delete;
  uint16_t port() const { return port_; }
  int fd() const { return fd_; }
  // Client `source`'s address as a gateway sees it.
  core::Endpoint EndpointOf(size_t source) const {
    return core::Endpoint::Ipv4(LoadSourceAddress(source), port_);
  }

  void Send(size_t source, const core::Endpoint& to,
            absl::Span<const uint8_t> datagram);

  // Calls handler(index, datagram) for each datagram waiting; returns count.
  template <typename Handler>
  size_t Receive(Handler&& handler) {
    size_t count = 0;
    size_t index = 0;
    absl::Span<uint8_t> datagram;
    while (ReceiveOne(index, datagram)) {
      handler(index, datagram);
      ++count;
    }
    return count;
  }
  // One datagram if any waits (false otherwise), with its client's index.
  bool ReceiveOne(size_t& index, absl::Span<uint8_t>& datagram);

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  uint8_t buffer_[65536];
};

struct LoadClient {
  std::unique_ptr<core::LocalIdentity> identity;
  std::unique_ptr<core::Peer> peer;
  std::vector<uint8_t> initiation;
  bool answered = false;
};

// A fixed private key per index (distinct, valid after clamping).
crypto::PrivateKey LoadClientKey(size_t i);

// Creates `count` clients with initiations ready to send.
std::vector<LoadClient> MakeLoadClients(size_t count,
                                        const crypto::PublicKey& gateway_key,
                                        crypto::RandomSource& rng);

// Sends every initiation with at most `window` unanswered; with `complete`
// the responses are processed and the confirming keepalive sent back.
// Returns the time from the first send to the last answer. With `socket`,
// that socket is used (and stays open for the clients' data); otherwise a
// socket of its own.
absl::Duration RunLoadHandshakes(std::vector<LoadClient>& clients,
                                 const core::Endpoint& gateway, bool complete,
                                 size_t& answered,
                                 MultiSourceSocket* socket = nullptr);

}  // namespace snaptun::testing

#endif  // SNAPTUN_TESTS_TESTING_LOAD_CLIENTS_H_
