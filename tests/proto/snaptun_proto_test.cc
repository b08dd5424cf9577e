// Round trips of snaptun.v1 messages through the protobuf wire format. The
// field numbers are the API's contract with clients generated elsewhere, so a
// few raw encodings are pinned too.
#include <gtest/gtest.h>

#include <string>

#include "snaptun/v1/snaptun.pb.h"

namespace snaptun {
namespace {

TEST(SnaptunProtoTest, OpenTunnelRequestRoundTrip) {
  v1::OpenTunnelRequest req;
  req.set_tunnel_id("t-1");
  req.set_peer_public_key(std::string(32, '\x07'));
  req.set_data_plane_address("127.0.0.1:51820");
  req.set_mode(v1::MODE_WIREGUARD);
  req.mutable_connect_timeout()->set_seconds(3);
  req.set_persistent_keepalive_seconds(0);
  (*req.mutable_labels())["team"] = "edge";

  std::string wire;
  ASSERT_TRUE(req.SerializeToString(&wire));
  v1::OpenTunnelRequest back;
  ASSERT_TRUE(back.ParseFromString(wire));
  EXPECT_EQ(back.tunnel_id(), "t-1");
  EXPECT_EQ(back.peer_public_key().size(), 32u);
  EXPECT_EQ(back.mode(), v1::MODE_WIREGUARD);
  EXPECT_EQ(back.connect_timeout().seconds(), 3);
  // Explicit presence: "0 = off" must survive the wire, unlike "unset".
  EXPECT_TRUE(back.has_persistent_keepalive_seconds());
  EXPECT_EQ(back.persistent_keepalive_seconds(), 0u);
  EXPECT_EQ(back.labels().at("team"), "edge");
}

TEST(SnaptunProtoTest, PacketBatchWireBytesArePinned) {
  v1::PacketBatch batch;
  batch.set_tunnel_id("a");
  batch.add_packets("xy");
  std::string wire;
  ASSERT_TRUE(batch.SerializeToString(&wire));
  // field 1 (tunnel_id), length 1, 'a'; field 2 (packets), length 2, "xy".
  EXPECT_EQ(wire, std::string("\x0a\x01"
                              "a"
                              "\x12\x02"
                              "xy",
                              7));
}

TEST(SnaptunProtoTest, RejectsTruncatedInput) {
  v1::Tunnel tunnel;
  tunnel.set_tunnel_id("abcdef");
  std::string wire;
  ASSERT_TRUE(tunnel.SerializeToString(&wire));
  v1::Tunnel back;
  EXPECT_FALSE(back.ParseFromString(wire.substr(0, wire.size() - 2)));
}

TEST(SnaptunProtoTest, ServicesDeclareTheContractRpcs) {
  const auto* file = v1::OpenTunnelRequest::descriptor()->file();
  const auto* tunnel = file->FindServiceByName("TunnelService");
  ASSERT_NE(tunnel, nullptr);
  for (const char* rpc : {"OpenTunnel", "CloseTunnel", "GetTunnel",
                          "ListTunnels", "StreamPackets", "WatchTunnels"}) {
    EXPECT_NE(tunnel->FindMethodByName(rpc), nullptr) << rpc;
  }
  const auto* stream = tunnel->FindMethodByName("StreamPackets");
  EXPECT_TRUE(stream->client_streaming());
  EXPECT_TRUE(stream->server_streaming());
  const auto* gateway = file->FindServiceByName("GatewayService");
  ASSERT_NE(gateway, nullptr);
  for (const char* rpc : {"AuthorizeIdentity", "RevokeIdentity",
                          "ListIdentities", "GetGatewayInfo"}) {
    EXPECT_NE(gateway->FindMethodByName(rpc), nullptr) << rpc;
  }
}

}  // namespace
}  // namespace snaptun
