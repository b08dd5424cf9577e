// Fuzz target: arbitrary bytes through classification and every parser and
// opener of the protocol core, in both modes. Nothing may crash, read out of
// bounds or accept a message it cannot authenticate.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tunnel/core/cookie.h"
#include "tunnel/core/identity.h"
#include "tunnel/core/ip_socket_addr.h"
#include "tunnel/core/messages.h"
#include "tunnel/core/noise.h"

namespace {

const snaptun::core::LocalIdentity& Local() {
  static const auto* local = [] {
    snaptun::crypto::PrivateKey key;
    for (size_t i = 0; i < key.size(); ++i) key.data()[i] = 0x20 + i;
    return new snaptun::core::LocalIdentity(key);
  }();
  return *local;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace snaptun::core;
  const absl::Span<const uint8_t> input(data, size);
  DecodeIpSocketAddr(input);
  for (Mode mode : {Mode::kSnap, Mode::kWireGuard}) {
    const auto type = Classify(input, mode);
    if (!type.has_value()) continue;
    CheckMac1(input, Local().mac1_key());
    if (*type == MessageType::kInitiation) {
      InitiationContents contents;
      if (OpenInitiationStatic(Local(), input, contents) ==
          HandshakeFailure::kNone) {
        snaptun::crypto::Tai64n ts;
        OpenInitiationTimestamp(Local(), input, contents, ts);
      }
    }
    if (*type == MessageType::kCookieReply) {
      CookieJar jar;
      jar.ConsumeReply(input, ReadIndex(data + 4), {}, Local().cookie_key(),
                       absl::UnixEpoch());
    }
  }
  return 0;
}
