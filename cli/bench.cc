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
#include "cli/echo_streams.h"
#include "cli/loss_balance.h"
#include "cli/output.h"

namespace snaptun::cli {
namespace {

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
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
  // Every stream runs on gRPC's callback API (cli/echo_streams.h).
  std::vector<std::unique_ptr<EchoBack>> echoes;
  for (int i = 0; i < options.tunnels; ++i) {
    auto it = gateway_of.find(locals[i]);
    if (ids[i].empty() || it == gateway_of.end()) continue;
    echoes.push_back(std::make_unique<EchoBack>(
        client.tunnels(), client.Context(absl::ZeroDuration()), it->second));
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
  EchoCounts counts;
  PacketSender::Options sender_options;
  sender_options.payload_size = options.size;
  sender_options.rate = options.rate;
  sender_options.window = options.window;
  std::vector<std::unique_ptr<PacketSender>> senders;
  for (int i = 0; i < options.tunnels; ++i) {
    if (ids[i].empty()) continue;
    senders.push_back(std::make_unique<PacketSender>(
        client.tunnels(), client.Context(absl::ZeroDuration()), ids[i],
        sender_options, counts));
  }
  std::atomic<bool> ticking{true};
  std::thread ticker([&senders, &ticking] {
    while (ticking.load()) {
      for (auto& sender : senders) sender->Tick();
      absl::SleepFor(absl::Milliseconds(1));
    }
  });
  const absl::Time start = absl::Now();
  while (absl::Now() - start < options.duration) {
    absl::SleepFor(absl::Seconds(1));
    if (progress) {
      std::cerr << "\rsent " << counts.sent.load() << ", echoed "
                << counts.echoed.load() << std::flush;
    }
  }
  ticking = false;
  ticker.join();
  for (auto& sender : senders) sender->StopWriting();
  absl::SleepFor(absl::Milliseconds(500));  // Let echoes drain.
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (progress) std::cerr << "\n";
  for (auto& sender : senders) sender->Stop();
  for (auto& echo : echoes) echo->Stop();
  const uint64_t sent = counts.sent.load();
  const uint64_t echoed = counts.echoed.load();
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

  const double echoed_rate = echoed / seconds;
  std::vector<std::vector<std::string>> rows = {
      {"tunnels opened", absl::StrCat(opened.load(), " of ", options.tunnels)},
      {"OpenTunnel p50 / p99",
       absl::StrFormat("%.2f ms / %.2f ms", Percentile(latencies_ms, 0.5),
                       Percentile(latencies_ms, 0.99))},
      {"tunnels opened per second",
       absl::StrFormat("%.0f", opened.load() / open_seconds)},
      {"packets sent", absl::StrCat(sent)},
      {"packets echoed back", absl::StrCat(echoed)},
      {"echoed packets per second", absl::StrFormat("%.0f", echoed_rate)},
      {"echo goodput",
       absl::StrFormat("%.1f Mbit/s", echoed_rate * options.size * 8 / 1e6)},
      {"dropped (reported by the stream)", absl::StrCat(counts.dropped.load())},
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
        static_cast<unsigned long long>(sent),
        static_cast<unsigned long long>(echoed), echoed_rate,
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
