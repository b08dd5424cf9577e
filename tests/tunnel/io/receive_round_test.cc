// A receive round's losses: kernel drops between rounds, oversized
// datagrams, and a drained socket, on a real loopback socket.
#include "tunnel/io/receive_round.h"

#include "gtest/gtest.h"
#include "tunnel/io/udp_channel.h"

namespace snaptun::io {
namespace {

const core::Endpoint kLoopback = core::Endpoint::Ipv4({127, 0, 0, 1}, 0);

TEST(ReceiveRoundTest, CountsNewKernelDropsAndOversize) {
  absl::StatusOr<std::unique_ptr<DatagramChannel>> socket =
      UdpNetwork::Get().Bind(kLoopback, {});
  ASSERT_TRUE(socket.ok()) << socket.status();
  KernelDropCounter drops;
  ReceiveStats first;
  first.datagrams = 4;
  first.reads = 4;
  first.truncated = 1;
  first.kernel_drops = 10;  // The running count the kernel reported.
  RoundLosses lost = AccountRound(first, **socket, drops);
  EXPECT_EQ(lost.oversize, 1u);
  EXPECT_FALSE(lost.drained);
  const uint64_t at_first = lost.socket_overflow;
  ReceiveStats second = first;
  second.truncated = 0;
  second.kernel_drops = 13;  // Three more since.
  lost = AccountRound(second, **socket, drops);
  EXPECT_EQ(lost.socket_overflow, 3u) << "first round counted " << at_first;
  EXPECT_EQ(lost.oversize, 0u);
}

TEST(ReceiveRoundTest, ARoundThatReadNothingFindsTheSocketDrained) {
  absl::StatusOr<std::unique_ptr<DatagramChannel>> socket =
      UdpNetwork::Get().Bind(kLoopback, {});
  ASSERT_TRUE(socket.ok()) << socket.status();
  KernelDropCounter drops;
  const RoundLosses lost = AccountRound(ReceiveStats{}, **socket, drops);
  EXPECT_TRUE(lost.drained);
  // Nothing was dropped on a socket nobody sent to.
  EXPECT_EQ(lost.socket_overflow, 0u);
  EXPECT_EQ(lost.oversize, 0u);
  ReceiveStats empty_datagram;
  empty_datagram.empty = 1;
  EXPECT_FALSE(AccountRound(empty_datagram, **socket, drops).drained);
}

}  // namespace
}  // namespace snaptun::io
