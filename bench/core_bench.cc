// Micro-benchmarks of the protocol core, each beside the baseline it is
// judged against in the same run (docs/PERFORMANCE.md):
//   - transport seal/open of 64-, 256-, 512- and 1420-byte payloads vs raw
//     OpenSSL EVP
//     ChaCha20-Poly1305 with a pre-keyed context (the fastest use of the
//     library; this file is the one place outside tunnel/crypto that calls
//     OpenSSL, to measure it);
//   - complete handshakes (both sides, SNAP mode) vs the X25519 operations
//     they need: ten scalar multiplications (two ephemeral key generations
//     and eight agreements);
//   - parsing a SCION/UDP packet (what --gateway_packet_policy=scion adds
//     per packet), beside the open it follows.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <vector>

#include "tests/testing/fake_random.h"
#include "tunnel/core/cookie.h"
#include "tunnel/core/keypair.h"
#include "tunnel/core/noise.h"
#include "tunnel/crypto/tai64n.h"
#include "tunnel/crypto/x25519.h"
#include "tunnel/scion/builder.h"
#include "tunnel/scion/packet.h"

namespace snaptun {
namespace {

// Payload sizes: a TCP ACK, small and medium datagrams, a full MTU.
void PayloadSizes(benchmark::internal::Benchmark* b) {
  for (int size : {64, 256, 512, 1420}) b->Arg(size);
}

crypto::SymmetricKey TestKey(uint8_t fill) {
  crypto::SymmetricKey k;
  std::fill(k.data(), k.data() + 32, fill);
  return k;
}

void BM_RawOpenSslSeal(benchmark::State& state) {
  const size_t n = state.range(0);
  const crypto::SymmetricKey key = TestKey(7);
  EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  EVP_EncryptInit_ex(ctx, cipher, nullptr, key.data(), nullptr);
  std::vector<uint8_t> in(n, 0x5a), out(n + 16);
  uint8_t nonce[12] = {};
  uint64_t counter = 0;
  for (auto _ : state) {
    ++counter;
    std::memcpy(nonce + 4, &counter, 8);
    int len = 0;
    EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce);
    EVP_EncryptUpdate(ctx, out.data(), &len, in.data(), static_cast<int>(n));
    EVP_EncryptFinal_ex(ctx, out.data() + n, &len);
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out.data() + n);
    benchmark::DoNotOptimize(out.data());
  }
  EVP_CIPHER_CTX_free(ctx);
  EVP_CIPHER_free(cipher);
  state.SetBytesProcessed(state.iterations() * n);
}
BENCHMARK(BM_RawOpenSslSeal)->Apply(PayloadSizes);

core::TransportKeys Keys() {
  core::TransportKeys keys;
  keys.send = TestKey(1);
  keys.receive = TestKey(1);
  return keys;
}

void BM_TransportSeal(benchmark::State& state) {
  const size_t n = state.range(0);
  core::Keypair keypair(Keys(), 1, 2, true, absl::UnixEpoch());
  std::vector<uint8_t> in(n, 0x5a), out(n + 32);
  for (auto _ : state) {
    benchmark::DoNotOptimize(keypair.Seal(in, out.data()));
  }
  state.SetBytesProcessed(state.iterations() * n);
}
BENCHMARK(BM_TransportSeal)->Apply(PayloadSizes);

void BM_TransportOpen(benchmark::State& state) {
  const size_t n = state.range(0);
  core::Keypair sender(Keys(), 1, 2, true, absl::UnixEpoch());
  core::Keypair receiver(Keys(), 2, 1, false, absl::UnixEpoch());
  std::vector<uint8_t> in(n, 0x5a);
  // Pre-seal a ring of packets so each open sees a fresh counter.
  constexpr size_t kRing = 4096;
  std::vector<std::vector<uint8_t>> sealed(kRing, std::vector<uint8_t>(n + 32));
  for (auto& s : sealed) sender.Seal(in, s.data());
  std::vector<uint8_t> work(n + 32);
  size_t i = 0;
  for (auto _ : state) {
    if (i == kRing) {
      state.PauseTiming();
      for (auto& s : sealed) sender.Seal(in, s.data());
      i = 0;
      state.ResumeTiming();
    }
    std::memcpy(work.data(), sealed[i++].data(), work.size());
    absl::Span<uint8_t> payload;
    benchmark::DoNotOptimize(receiver.Open(absl::MakeSpan(work), payload));
  }
  state.SetBytesProcessed(state.iterations() * n);
}
BENCHMARK(BM_TransportOpen)->Apply(PayloadSizes);

void BM_X25519Agree(benchmark::State& state) {
  testing::FakeRandom rng(1);
  const auto a = crypto::X25519KeyPair::Generate(rng);
  const auto b = crypto::X25519KeyPair::Generate(rng);
  crypto::SymmetricKey shared;
  for (auto _ : state) {
    benchmark::DoNotOptimize(a.Agree(b.public_key(), shared));
  }
}
BENCHMARK(BM_X25519Agree);

void BM_X25519Generate(benchmark::State& state) {
  testing::FakeRandom rng(1);
  for (auto _ : state) {
    auto pair = crypto::X25519KeyPair::Generate(rng);
    benchmark::DoNotOptimize(pair.public_key());
  }
}
BENCHMARK(BM_X25519Generate);

// Initiation, anonymous open, timestamp, response and response check: all
// the work of one handshake on both sides, with mac1 on both messages.
void BM_CompleteHandshake(benchmark::State& state) {
  testing::FakeRandom rng(3);
  crypto::PrivateKey ki, kr;
  rng.Fill(ki.mutable_span());
  rng.Fill(kr.mutable_span());
  const core::LocalIdentity initiator(ki), responder(kr);
  const core::RemoteIdentity to_responder(responder.public_key());
  const core::RemoteIdentity to_initiator(initiator.public_key());
  const core::Endpoint observed = core::Endpoint::Ipv4({192, 0, 2, 7}, 4000);
  std::vector<uint8_t> init(core::initiation::kSize);
  std::vector<uint8_t> resp(core::response::Size(core::Mode::kSnap));
  absl::Time now = absl::FromUnixSeconds(1767225600);
  for (auto _ : state) {
    now += absl::Seconds(1);
    auto st = core::WriteInitiation(initiator, responder.public_key(),
                                    crypto::X25519KeyPair::Generate(rng), 1,
                                    crypto::Tai64nFromTime(now), init.data());
    core::WriteMacs(absl::MakeSpan(init), to_responder.mac1_key, std::nullopt);
    core::CheckMac1(init, responder.mac1_key());
    core::InitiationContents contents;
    core::OpenInitiationStatic(responder, init, contents);
    crypto::Tai64n ts;
    core::OpenInitiationTimestamp(responder, init, contents, ts);
    core::TransportKeys rkeys, ikeys;
    core::WriteResponse(contents, core::Mode::kSnap, observed,
                        crypto::X25519KeyPair::Generate(rng), 2, resp.data(),
                        rkeys);
    core::WriteMacs(absl::MakeSpan(resp), to_initiator.mac1_key, std::nullopt);
    core::CheckMac1(resp, initiator.mac1_key());
    std::optional<core::Endpoint> seen;
    const auto f = core::OpenResponse(initiator, *st, resp, core::Mode::kSnap,
                                      ikeys, seen);
    if (f != core::HandshakeFailure::kNone) state.SkipWithError("failed");
  }
}
BENCHMARK(BM_CompleteHandshake);

// A SCION/UDP packet over a two-hop SCION path whose UDP payload makes the
// whole packet `size` bytes (at least the headers).
void BM_ScionParse(benchmark::State& state) {
  scion::BuildSpec spec;
  spec.src_ia = *scion::IsdAs::Parse("1-ff00:0:110");
  spec.dst_ia = *scion::IsdAs::Parse("2-ff00:0:220");
  spec.src = core::Endpoint::Ipv4({192, 0, 2, 1}, 40000);
  spec.dst = core::Endpoint::Ipv4({198, 51, 100, 7}, 443);
  const size_t headers = scion::BuildUdp(spec).size();
  const size_t n = state.range(0);
  spec.payload.assign(n > headers ? n - headers : 0, 0x5a);
  const std::vector<uint8_t> packet = scion::BuildUdp(spec);
  scion::PacketView view;
  for (auto _ : state) {
    benchmark::DoNotOptimize(scion::Parse(packet, view));
    benchmark::DoNotOptimize(scion::SourceEndpoint(view));
  }
}
BENCHMARK(BM_ScionParse)->Apply(PayloadSizes);

}  // namespace
}  // namespace snaptun

BENCHMARK_MAIN();
