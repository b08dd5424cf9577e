// Batched send and receive over real loopback sockets: what goes on the wire
// is what was queued, GSO sends stay within UDP's limit, and a refused send
// costs exactly its own datagrams.
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <numeric>
#include <vector>

#include "gtest/gtest.h"
#include "tunnel/io/batch_receiver.h"
#include "tunnel/io/batch_sender.h"
#include "tunnel/io/receive_control.h"
#include "tunnel/io/udp_socket.h"

namespace snaptun::io {
namespace {

const core::Endpoint kLoopback = core::Endpoint::Ipv4({127, 0, 0, 1}, 0);

struct Pair {
  UdpSocket sender;
  UdpSocket receiver;
  core::Endpoint to;
};

Pair MakePair(bool gro = true) {
  UdpSocketOptions options;
  options.gro = gro;
  Pair pair{*UdpSocket::Bind(kLoopback, options),
            *UdpSocket::Bind(kLoopback, options),
            {}};
  pair.to = *pair.receiver.LocalEndpoint();
  return pair;
}

std::vector<uint8_t> Datagram(size_t size, uint8_t tag) {
  std::vector<uint8_t> d(size);
  for (size_t i = 0; i < size; ++i) d[i] = static_cast<uint8_t>(tag + i);
  return d;
}

// Reads until `want` datagrams arrived or a quiet second passed.
std::vector<std::vector<uint8_t>> ReceiveAll(BatchReceiver& receiver, int fd,
                                             size_t want) {
  std::vector<std::vector<uint8_t>> got;
  while (got.size() < want) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0) break;
    absl::StatusOr<ReceiveStats> stats =
        receiver.Receive(fd, [&](absl::Span<uint8_t> d, const core::Endpoint&) {
          got.emplace_back(d.begin(), d.end());
        });
    EXPECT_TRUE(stats.ok());
  }
  return got;
}

TEST(BatchSenderTest, DeliversEveryDatagramInOrder) {
  Pair pair = MakePair();
  BatchSender sender(256);
  std::vector<std::vector<uint8_t>> sent;
  for (int i = 0; i < 100; ++i) {
    sent.push_back(Datagram(1400, static_cast<uint8_t>(i)));
    ASSERT_TRUE(sender.Queue(pair.to, sent.back()));
  }
  const FlushStats stats = sender.Flush(pair.sender.fd(), false);
  EXPECT_EQ(stats.sent, 100u);
  EXPECT_EQ(stats.dropped, 0u);
  EXPECT_TRUE(sender.empty());
  BatchReceiver receiver;
  EXPECT_EQ(ReceiveAll(receiver, pair.receiver.fd(), 100), sent);
}

TEST(BatchSenderTest, GsoSendStaysWithinOneUdpDatagram) {
  // 64 × 1400 bytes is 89,600: one GSO send of all of them would be refused
  // with EMSGSIZE (reference defect W5). They must all arrive.
  Pair pair = MakePair();
  BatchSender sender(256);
  ASSERT_TRUE(sender.gso());
  std::vector<std::vector<uint8_t>> sent;
  for (int i = 0; i < 64; ++i) {
    sent.push_back(Datagram(1400, static_cast<uint8_t>(i)));
    sender.Queue(pair.to, sent.back());
  }
  const FlushStats stats = sender.Flush(pair.sender.fd(), false);
  EXPECT_EQ(stats.sent, 64u);
  EXPECT_EQ(stats.dropped, 0u);
  EXPECT_EQ(stats.last_error, 0);
  BatchReceiver receiver;
  EXPECT_EQ(ReceiveAll(receiver, pair.receiver.fd(), 64), sent);
}

TEST(BatchSenderTest, ShorterLastSegmentKeepsItsSize) {
  Pair pair = MakePair();
  BatchSender sender(16);
  std::vector<std::vector<uint8_t>> sent = {
      Datagram(1000, 1), Datagram(1000, 2), Datagram(1000, 3), Datagram(300, 4),
      Datagram(1000, 5)};
  for (const auto& d : sent) sender.Queue(pair.to, d);
  EXPECT_EQ(sender.Flush(pair.sender.fd(), false).sent, sent.size());
  BatchReceiver receiver;
  EXPECT_EQ(ReceiveAll(receiver, pair.receiver.fd(), sent.size()), sent);
}

TEST(BatchSenderTest, RefusedSendDropsOnlyItsOwnDatagrams) {
  // Broadcast without SO_BROADCAST is refused with EACCES. The datagrams
  // around it still go out, and the next flush is unaffected (W4).
  Pair pair = MakePair();
  BatchSender sender(16);
  const core::Endpoint refused = core::Endpoint::Ipv4({255, 255, 255, 255}, 9);
  std::vector<std::vector<uint8_t>> good = {Datagram(100, 1), Datagram(100, 2),
                                            Datagram(100, 3)};
  sender.Queue(pair.to, good[0]);
  sender.Queue(refused, Datagram(100, 9));
  sender.Queue(refused, Datagram(100, 9));
  sender.Queue(pair.to, good[1]);
  FlushStats stats = sender.Flush(pair.sender.fd(), false);
  EXPECT_EQ(stats.sent, 2u);
  EXPECT_EQ(stats.dropped, 2u);
  EXPECT_EQ(stats.last_error, EACCES);
  EXPECT_EQ(stats.other_error, 2u);
  EXPECT_EQ(stats.buffer_full + stats.no_buffer_space, 0u);
  sender.Queue(pair.to, good[2]);
  stats = sender.Flush(pair.sender.fd(), false);
  EXPECT_EQ(stats.sent, 1u);
  EXPECT_EQ(stats.dropped, 0u);
  BatchReceiver receiver;
  EXPECT_EQ(ReceiveAll(receiver, pair.receiver.fd(), 3), good);
}

TEST(BatchSenderTest, OversizeDatagramIsDroppedAlone) {
  Pair pair = MakePair();
  BatchSender sender(16);
  const std::vector<uint8_t> small = Datagram(64, 7);
  sender.Queue(pair.to, Datagram(65508, 1));
  sender.Queue(pair.to, small);
  const FlushStats stats = sender.Flush(pair.sender.fd(), false);
  EXPECT_EQ(stats.sent, 1u);
  EXPECT_EQ(stats.dropped, 1u);
  EXPECT_EQ(stats.last_error, EMSGSIZE);
  BatchReceiver receiver;
  EXPECT_EQ(ReceiveAll(receiver, pair.receiver.fd(), 1),
            std::vector<std::vector<uint8_t>>{small});
}

TEST(BatchSenderTest, AFullSendBufferIsCountedAsBufferFull) {
  // A datagram socket pair whose reader never reads: once its queue is
  // full, sends fail with EAGAIN. The flush waits once, then drops the rest
  // of the batch as buffer_full, by cause, without blocking.
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, fds), 0);
  const std::vector<uint8_t> filler(1000, 1);
  while (send(fds[0], filler.data(), filler.size(), 0) > 0) {
  }
  ASSERT_EQ(errno, EAGAIN);
  BatchSender sender(8, /*gso=*/false);
  const core::Endpoint unused = core::Endpoint::Ipv4({127, 0, 0, 1}, 9);
  for (int i = 0; i < 5; ++i) sender.Queue(unused, filler);
  const FlushStats stats = sender.Flush(fds[0], /*connected=*/true);
  EXPECT_EQ(stats.sent, 0u);
  EXPECT_EQ(stats.dropped, 5u);
  EXPECT_EQ(stats.buffer_full, 5u);
  EXPECT_EQ(stats.no_buffer_space + stats.other_error, 0u);
  std::vector<std::pair<core::DropReason, size_t>> causes;
  stats.ForEachDrop([&](core::DropReason reason, size_t count) {
    causes.emplace_back(reason, count);
  });
  EXPECT_EQ(causes, (std::vector<std::pair<core::DropReason, size_t>>{
                        {core::DropReason::kSendBufferFull, 5}}));
  close(fds[0]);
  close(fds[1]);
}

TEST(UdpSocketTest, ReportsTheBufferSizesTheKernelGranted) {
  // Asking for less than any kernel limit is granted as asked (root or
  // not); the sizes are reported in the terms they were asked in.
  UdpSocketOptions options;
  options.receive_buffer_bytes = 96 << 10;
  options.send_buffer_bytes = 80 << 10;
  absl::StatusOr<UdpSocket> socket = UdpSocket::Bind(kLoopback, options);
  ASSERT_TRUE(socket.ok());
  EXPECT_EQ(socket->receive_buffer_bytes(), 96 << 10);
  EXPECT_EQ(socket->send_buffer_bytes(), 80 << 10);
}

TEST(KernelDropCounterTest, WeighsDropsByTheDatagramsPerRead) {
  KernelDropCounter counter;
  // No GRO: one datagram per read, the kernel's count is the count.
  EXPECT_EQ(counter.Update(std::nullopt, 8, 8), 0u);
  EXPECT_EQ(counter.Update(5, 8, 8), 5u);
  EXPECT_EQ(counter.Update(5, 8, 8), 0u);
  // GRO reads of 10 datagrams each: after a few batches, each dropped
  // buffer weighs about 10 datagrams, and rounding does not drift.
  KernelDropCounter gro;
  for (int i = 0; i < 40; ++i) gro.Update(std::nullopt, 4, 40);
  uint64_t total = 0;
  for (uint32_t k = 1; k <= 100; ++k) total += gro.Update(k * 3, 4, 40);
  EXPECT_EQ(total, 3000u);
  EXPECT_EQ(gro.buffers_dropped(), 300u);
  // The 32-bit running total wraps.
  KernelDropCounter wrap;
  wrap.Update(0x70000000u, 1, 1);
  wrap.Update(0xE0000000u, 1, 1);
  wrap.Update(0xFFFFFFF0u, 1, 1);
  EXPECT_EQ(wrap.Update(0x10u, 1, 1), 0x20u);
  // A stamp older than a total already read (SO_RXQ_OVFL on a datagram
  // queued before SO_MEMINFO was read) moves nothing.
  KernelDropCounter stale;
  EXPECT_EQ(stale.Update(100u, 1, 1), 100u);
  EXPECT_EQ(stale.Update(99u, 1, 1), 0u);
  EXPECT_EQ(stale.Update(101u, 1, 1), 1u);
}

TEST(BatchReceiverTest, AFailedReadReportsItsErrno) {
  // Not a socket at all: recvmmsg fails with ENOTSOCK, and the receiver
  // says which errno, so the caller can count and report it (W28).
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  BatchReceiver receiver(4);
  auto ignore = [](absl::Span<uint8_t>, const core::Endpoint&) {};
  EXPECT_FALSE(receiver.Receive(fds[0], ignore).ok());
  EXPECT_EQ(receiver.error(), ENOTSOCK);
  Pair pair = MakePair();
  EXPECT_TRUE(receiver.Receive(pair.receiver.fd(), ignore).ok());
  EXPECT_EQ(receiver.error(), 0);
  close(fds[0]);
  close(fds[1]);
}

TEST(BatchSenderTest, FullQueueRefusesMore) {
  BatchSender sender(2);
  const core::Endpoint to = core::Endpoint::Ipv4({127, 0, 0, 1}, 9);
  EXPECT_TRUE(sender.Queue(to, Datagram(10, 0)));
  EXPECT_TRUE(sender.Queue(to, Datagram(10, 0)));
  EXPECT_TRUE(sender.full());
  EXPECT_FALSE(sender.Queue(to, Datagram(10, 0)));
  EXPECT_TRUE(sender.Reserve(to, 10).empty());
}

TEST(BatchReceiverTest, SplitsGroCoalescedReadsAndSkipsEmptyDatagrams) {
  Pair pair = MakePair(/*gro=*/true);
  BatchSender sender(64);
  std::vector<std::vector<uint8_t>> sent;
  for (int i = 0; i < 40; ++i) {
    sent.push_back(Datagram(1200, static_cast<uint8_t>(i)));
    sender.Queue(pair.to, sent.back());
  }
  sender.Queue(pair.to, {});
  ASSERT_EQ(sender.Flush(pair.sender.fd(), false).sent, 41u);
  BatchReceiver receiver(8);
  std::vector<std::vector<uint8_t>> got;
  size_t empty = 0;
  while (got.size() < 40 || empty == 0) {
    pollfd p{pair.receiver.fd(), POLLIN, 0};
    ASSERT_GT(poll(&p, 1, 1000), 0);
    absl::StatusOr<ReceiveStats> stats = receiver.Receive(
        pair.receiver.fd(),
        [&](absl::Span<uint8_t> d, const core::Endpoint& from) {
          EXPECT_EQ(from, *pair.sender.LocalEndpoint());
          got.emplace_back(d.begin(), d.end());
        });
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->truncated, 0u);
    empty += stats->empty;
  }
  EXPECT_EQ(got, sent);
  EXPECT_EQ(empty, 1u);
}

TEST(UdpSocketTest, ReusePortSharesOnePort) {
  UdpSocketOptions options;
  options.reuse_port = true;
  absl::StatusOr<UdpSocket> first = UdpSocket::Bind(kLoopback, options);
  ASSERT_TRUE(first.ok());
  const core::Endpoint bound = *first->LocalEndpoint();
  absl::StatusOr<UdpSocket> second = UdpSocket::Bind(bound, options);
  EXPECT_TRUE(second.ok()) << second.status();
  absl::StatusOr<UdpSocket> plain = UdpSocket::Bind(bound, UdpSocketOptions{});
  EXPECT_EQ(plain.status().code(), absl::StatusCode::kAlreadyExists);
}

TEST(UdpSocketTest, ConnectedSocketReportsItsPeer) {
  Pair pair = MakePair();
  absl::StatusOr<UdpSocket> client = UdpSocket::Connect(pair.to, {});
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE(client->connected());
  BatchSender sender(4);
  sender.Queue(pair.to, Datagram(10, 1));
  EXPECT_EQ(sender.Flush(client->fd(), true).sent, 1u);
  BatchReceiver receiver(4);
  EXPECT_EQ(ReceiveAll(receiver, pair.receiver.fd(), 1).size(), 1u);
}

}  // namespace
}  // namespace snaptun::io
