// Open, echo, count, summarize.
#include "cli/bench.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "cli/loss_balance.h"
#include "cli/output.h"

namespace snaptun::cli {
namespace {

using Stream = grpc::ClientReaderWriter<v1::PacketBatch, v1::PacketBatch>;

struct Attached {
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<Stream> stream;
};

Attached Attach(ApiClient& client, const std::string& id) {
  Attached a;
  a.context = client.Context(absl::ZeroDuration());
  a.stream = client.tunnels().StreamPackets(a.context.get());
  v1::PacketBatch first;
  first.set_tunnel_id(id);
  a.stream->Write(first);
  return a;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

// The packets one client stream has in flight, for --window.
class Flow {
 public:
  // Waits until `count` more fit `window` (0: no limit; a window smaller
  // than `count` lets one batch at a time), and counts them as in flight.
  // When no echo has come for 50 ms while it waits, what is in flight is
  // taken as lost (dropped somewhere), so losses cannot stall the sender.
  void Reserve(int64_t count, int64_t window) {
    absl::MutexLock lock(&mu_);
    if (window > 0) {
      auto room = [this, count, window]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return in_flight_ == 0 || in_flight_ + count <= window;
      };
      while (!mu_.AwaitWithTimeout(absl::Condition(&room), kLostAfter)) {
        if (absl::Now() - last_return_ >= kLostAfter) {
          in_flight_ = 0;
          break;
        }
      }
    }
    in_flight_ += count;
  }
  // `count` packets came back or were reported dropped.
  void Returned(int64_t count) {
    absl::MutexLock lock(&mu_);
    in_flight_ = std::max<int64_t>(0, in_flight_ - count);
    last_return_ = absl::Now();
  }

 private:
  static constexpr absl::Duration kLostAfter = absl::Milliseconds(50);

  absl::Mutex mu_;
  int64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_return_ ABSL_GUARDED_BY(mu_) = absl::Now();
};

// Writes batches of 128 payloads at the rate (or unpaced), within the
// window, until `stop`.
void SendUntilStopped(Stream& stream, Flow& flow, const BenchOptions& options,
                      const std::atomic<bool>& stop,
                      std::atomic<uint64_t>& sent) {
  const std::string payload(options.size, 'x');
  constexpr int kBatch = 128;
  const absl::Duration interval =
      options.rate > 0 ? absl::Seconds(1.0 * kBatch / options.rate)
                       : absl::ZeroDuration();
  absl::Time next_send = absl::Now();
  v1::PacketBatch batch;
  for (int k = 0; k < kBatch; ++k) batch.add_packets(payload);
  while (!stop.load()) {
    flow.Reserve(kBatch, options.window);
    if (!stream.Write(batch)) break;
    sent += kBatch;
    next_send += interval;
    if (interval > absl::ZeroDuration()) {
      absl::SleepFor(next_send - absl::Now());
    }
  }
}

}  // namespace

int RunBench(ApiClient& client, const BenchOptions& options) {
  // Progress lines rewrite themselves with \r: only for a person watching.
  const bool progress = isatty(STDERR_FILENO) == 1;
  // 1. Open tunnels, a few at a time, timing each OpenTunnel.
  std::vector<std::string> ids(options.tunnels);
  std::vector<std::string> locals(options.tunnels);
  std::vector<double> latencies_ms;
  absl::Mutex mu;
  std::atomic<int> next{0}, opened{0}, failed{0};
  const absl::Time open_start = absl::Now();
  std::vector<std::thread> openers;
  for (int t = 0; t < std::min(8, options.tunnels); ++t) {
    openers.emplace_back([&] {
      for (int i; (i = next.fetch_add(1)) < options.tunnels;) {
        v1::OpenTunnelRequest request;
        request.set_peer_public_key(options.peer_public_key);
        request.set_data_plane_address(options.data_plane);
        (*request.mutable_labels())["snaptunctl"] = "bench";
        v1::Tunnel tunnel;
        auto context = client.Context(absl::Seconds(30));
        const absl::Time start = absl::Now();
        grpc::Status status =
            client.tunnels().OpenTunnel(context.get(), request, &tunnel);
        const double ms = absl::ToDoubleMilliseconds(absl::Now() - start);
        absl::MutexLock lock(&mu);
        if (!status.ok()) {
          ++failed;
          std::cerr << "open failed: " << status.error_message() << "\n";
          continue;
        }
        ids[i] = tunnel.tunnel_id();
        locals[i] = tunnel.local_address();
        latencies_ms.push_back(ms);
        const int n = ++opened;
        if (progress && (n % 10 == 0 || n == options.tunnels)) {
          std::cerr << "\ropened " << n << "/" << options.tunnels << std::flush;
        }
      }
    });
  }
  for (auto& t : openers) t.join();
  if (progress) std::cerr << "\n";
  const double open_seconds = absl::ToDoubleSeconds(absl::Now() - open_start);

  // 2. The gateway side, when this daemon hosts it: echo everything.
  std::map<std::string, std::string> gateway_of;  // client local → gw id.
  {
    v1::ListTunnelsRequest request;
    request.set_role(v1::ROLE_GATEWAY);
    request.set_page_size(1000);
    v1::ListTunnelsResponse response;
    auto context = client.Context(absl::Seconds(10));
    if (client.tunnels().ListTunnels(context.get(), request, &response).ok()) {
      for (const v1::Tunnel& t : response.tunnels()) {
        gateway_of[t.remote_address()] = t.tunnel_id();
      }
    }
  }
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> sent{0}, echoed{0}, dropped{0};
  std::vector<Attached> echoes;
  std::vector<std::thread> threads;
  for (int i = 0; i < options.tunnels; ++i) {
    auto it = gateway_of.find(locals[i]);
    if (ids[i].empty() || it == gateway_of.end()) continue;
    echoes.push_back(Attach(client, it->second));
    Stream* stream = echoes.back().stream.get();
    threads.emplace_back([stream] {
      v1::PacketBatch batch;
      while (stream->Read(&batch)) {
        batch.clear_tunnel_id();
        if (!stream->Write(batch)) break;
      }
    });
  }
  // The balance sheet starts before the first packet is sealed.
  std::optional<Samples> before;
  if (!options.metrics_address.empty()) {
    absl::StatusOr<Samples> scraped = Scrape(options.metrics_address);
    if (!scraped.ok()) {
      std::cerr << "error: " << scraped.status().message() << "\n";
    } else {
      before = std::move(*scraped);
    }
  }
  // 3. Client streams: send at the rate, count what comes back.
  std::vector<Attached> clients;
  std::vector<std::unique_ptr<Flow>> flows;
  for (int i = 0; i < options.tunnels; ++i) {
    if (ids[i].empty()) continue;
    clients.push_back(Attach(client, ids[i]));
    flows.push_back(std::make_unique<Flow>());
    Stream* stream = clients.back().stream.get();
    Flow* flow = flows.back().get();
    threads.emplace_back([stream, flow, &echoed, &dropped] {
      v1::PacketBatch batch;
      while (stream->Read(&batch)) {
        echoed += batch.packets_size();
        dropped += batch.dropped();
        flow->Returned(batch.packets_size() + batch.dropped());
      }
    });
    threads.emplace_back([stream, flow, &options, &stop, &sent] {
      SendUntilStopped(*stream, *flow, options, stop, sent);
    });
  }
  const absl::Time start = absl::Now();
  while (absl::Now() - start < options.duration) {
    absl::SleepFor(absl::Seconds(1));
    if (progress) {
      std::cerr << "\rsent " << sent.load() << ", echoed " << echoed.load()
                << std::flush;
    }
  }
  stop = true;
  absl::SleepFor(absl::Milliseconds(500));  // Let echoes drain.
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (progress) std::cerr << "\n";
  for (auto& a : clients) a.context->TryCancel();
  for (auto& a : echoes) a.context->TryCancel();
  for (auto& t : threads) t.join();
  // Nothing is sealed any more; what is in flight lands within this.
  std::vector<LossBalance> balances;
  if (before.has_value()) {
    absl::SleepFor(absl::Milliseconds(300));
    absl::StatusOr<Samples> after = Scrape(options.metrics_address);
    if (!after.ok()) {
      std::cerr << "error: " << after.status().message() << "\n";
    } else {
      balances.push_back(Balance(*before, *after, "client", "gateway"));
      if (!echoes.empty()) {
        balances.push_back(Balance(*before, *after, "gateway", "client"));
      }
    }
  }
  for (const std::string& id : ids) {
    if (id.empty()) continue;
    v1::CloseTunnelRequest request;
    request.set_tunnel_id(id);
    v1::CloseTunnelResponse response;
    auto context = client.Context(absl::Seconds(10));
    client.tunnels().CloseTunnel(context.get(), request, &response);
  }

  const double echoed_rate = echoed.load() / seconds;
  std::vector<std::vector<std::string>> rows = {
      {"tunnels opened", absl::StrCat(opened.load(), " of ", options.tunnels)},
      {"OpenTunnel p50 / p99",
       absl::StrFormat("%.2f ms / %.2f ms", Percentile(latencies_ms, 0.5),
                       Percentile(latencies_ms, 0.99))},
      {"tunnels opened per second",
       absl::StrFormat("%.0f", opened.load() / open_seconds)},
      {"packets sent", absl::StrCat(sent.load())},
      {"packets echoed back", absl::StrCat(echoed.load())},
      {"echoed packets per second", absl::StrFormat("%.0f", echoed_rate)},
      {"echo goodput",
       absl::StrFormat("%.1f Mbit/s", echoed_rate * options.size * 8 / 1e6)},
      {"dropped (reported by the stream)", absl::StrCat(dropped.load())},
  };
  for (const LossBalance& balance : balances) {
    for (auto& row : BalanceRows(balance)) rows.push_back(std::move(row));
  }
  if (options.json) {
    std::cout << absl::StrFormat(
        "{\"tunnels_opened\":%d,\"open_p50_ms\":%.3f,\"open_p99_ms\":%.3f,"
        "\"opens_per_second\":%.1f,\"sent\":%llu,\"echoed\":%llu,"
        "\"echoed_per_second\":%.1f,\"balance\":[%s]}\n",
        opened.load(), Percentile(latencies_ms, 0.5),
        Percentile(latencies_ms, 0.99), opened.load() / open_seconds,
        static_cast<unsigned long long>(sent.load()),
        static_cast<unsigned long long>(echoed.load()), echoed_rate,
        absl::StrJoin(balances, ",",
                      [](std::string* out, const LossBalance& b) {
                        out->append(BalanceJson(b));
                      }));
  } else {
    std::cout << Table(rows);
  }
  return failed.load() == 0 ? 0 : 1;
}

}  // namespace snaptun::cli
