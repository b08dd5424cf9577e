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

struct Opened {
  std::vector<std::string> ids;     // Empty where the open failed.
  std::vector<std::string> locals;  // Each tunnel's local address.
  std::vector<double> latencies_ms;
  int opened = 0;
  int failed = 0;
  double seconds = 0;
};

struct Pumped {
  uint64_t sent = 0;
  uint64_t echoed = 0;
  uint64_t dropped = 0;
  uint64_t written_off = 0;
  double seconds = 0;
};

// Opens the tunnels, eight at a time, timing each OpenTunnel.
Opened OpenTunnels(ApiClient& client, const BenchOptions& options,
                   bool progress) {
  Opened result;
  result.ids.resize(options.tunnels);
  result.locals.resize(options.tunnels);
  absl::Mutex mu;
  std::atomic<int> next{0};
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
          ++result.failed;
          std::cerr << "open failed: " << status.error_message() << "\n";
          continue;
        }
        result.ids[i] = tunnel.tunnel_id();
        result.locals[i] = tunnel.local_address();
        result.latencies_ms.push_back(ms);
        const int n = ++result.opened;
        if (progress && (n % 10 == 0 || n == options.tunnels)) {
          std::cerr << "\ropened " << n << "/" << options.tunnels << std::flush;
        }
      }
    });
  }
  for (auto& t : openers) t.join();
  if (progress) std::cerr << "\n";
  result.seconds = absl::ToDoubleSeconds(absl::Now() - open_start);
  return result;
}

// The gateway side, when this daemon hosts it: an echo on each.
std::vector<std::unique_ptr<EchoBack>> EchoGatewaySides(ApiClient& client,
                                                        const Opened& opened) {
  std::map<std::string, std::string> gateway_of;  // client local → gw id.
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
  std::vector<std::unique_ptr<EchoBack>> echoes;
  for (size_t i = 0; i < opened.ids.size(); ++i) {
    auto it = gateway_of.find(opened.locals[i]);
    if (opened.ids[i].empty() || it == gateway_of.end()) continue;
    echoes.push_back(std::make_unique<EchoBack>(
        client.tunnels(), client.Context(absl::ZeroDuration()), it->second));
  }
  return echoes;
}

std::optional<Samples> ScrapeOrWarn(const std::string& address) {
  absl::StatusOr<Samples> scraped = Scrape(address);
  if (!scraped.ok()) {
    std::cerr << "error: " << scraped.status().message() << "\n";
    return std::nullopt;
  }
  return std::move(*scraped);
}

// The client streams send at the rate for the duration, paced by one
// ticker; then the echoes drain and every stream stops.
Pumped PumpPackets(ApiClient& client, const BenchOptions& options,
                   const Opened& opened,
                   std::vector<std::unique_ptr<EchoBack>>& echoes,
                   bool progress) {
  EchoCounts counts;
  PacketSender::Options sender_options;
  sender_options.payload_size = options.size;
  sender_options.rate = options.rate;
  sender_options.window = options.window;
  std::vector<std::unique_ptr<PacketSender>> senders;
  for (const std::string& id : opened.ids) {
    if (id.empty()) continue;
    senders.push_back(std::make_unique<PacketSender>(
        client.tunnels(), client.Context(absl::ZeroDuration()), id,
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
  Pumped pumped;
  pumped.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (progress) std::cerr << "\n";
  for (auto& sender : senders) sender->Stop();
  for (auto& echo : echoes) echo->Stop();
  pumped.sent = counts.sent.load();
  pumped.echoed = counts.echoed.load();
  pumped.dropped = counts.dropped.load();
  pumped.written_off = counts.written_off.load();
  return pumped;
}

void CloseTunnels(ApiClient& client, const std::vector<std::string>& ids) {
  for (const std::string& id : ids) {
    if (id.empty()) continue;
    v1::CloseTunnelRequest request;
    request.set_tunnel_id(id);
    v1::CloseTunnelResponse response;
    auto context = client.Context(absl::Seconds(10));
    client.tunnels().CloseTunnel(context.get(), request, &response);
  }
}

void Report(const BenchOptions& options, const Opened& opened,
            const Pumped& pumped, const std::vector<LossBalance>& balances) {
  const double echoed_rate = pumped.echoed / pumped.seconds;
  const double p50 = Percentile(opened.latencies_ms, 0.5);
  const double p99 = Percentile(opened.latencies_ms, 0.99);
  if (options.json) {
    std::cout << absl::StrFormat(
        "{\"tunnels_opened\":%d,\"open_p50_ms\":%.3f,\"open_p99_ms\":%.3f,"
        "\"opens_per_second\":%.1f,\"sent\":%llu,\"echoed\":%llu,"
        "\"dropped\":%llu,\"written_off\":%llu,"
        "\"echoed_per_second\":%.1f,\"balance\":[%s]}\n",
        opened.opened, p50, p99, opened.opened / opened.seconds,
        static_cast<unsigned long long>(pumped.sent),
        static_cast<unsigned long long>(pumped.echoed),
        static_cast<unsigned long long>(pumped.dropped),
        static_cast<unsigned long long>(pumped.written_off), echoed_rate,
        absl::StrJoin(balances, ",",
                      [](std::string* out, const LossBalance& b) {
                        out->append(BalanceJson(b));
                      }));
    return;
  }
  std::vector<std::vector<std::string>> rows = {
      {"tunnels opened", absl::StrCat(opened.opened, " of ", options.tunnels)},
      {"OpenTunnel p50 / p99", absl::StrFormat("%.2f ms / %.2f ms", p50, p99)},
      {"tunnels opened per second",
       absl::StrFormat("%.0f", opened.opened / opened.seconds)},
      {"packets sent", absl::StrCat(pumped.sent)},
      {"packets echoed back", absl::StrCat(pumped.echoed)},
      {"echoed packets per second", absl::StrFormat("%.0f", echoed_rate)},
      {"echo goodput",
       absl::StrFormat("%.1f Mbit/s", echoed_rate * options.size * 8 / 1e6)},
      {"dropped (reported by the stream)", absl::StrCat(pumped.dropped)},
      {"taken as lost by the window (no echo in 50 ms)",
       absl::StrCat(pumped.written_off)},
  };
  for (const LossBalance& balance : balances) {
    for (auto& row : BalanceRows(balance)) rows.push_back(std::move(row));
  }
  std::cout << Table(rows);
}

}  // namespace

int RunBench(ApiClient& client, const BenchOptions& options) {
  // Progress lines rewrite themselves with \r: only for a person watching.
  const bool progress = isatty(STDERR_FILENO) == 1;
  const Opened opened = OpenTunnels(client, options, progress);
  std::vector<std::unique_ptr<EchoBack>> echoes =
      EchoGatewaySides(client, opened);
  // The balance sheet starts before the first packet is sealed.
  std::optional<Samples> before;
  if (!options.metrics_address.empty()) {
    before = ScrapeOrWarn(options.metrics_address);
  }
  const Pumped pumped = PumpPackets(client, options, opened, echoes, progress);
  // Nothing is sealed any more; what is in flight lands within this.
  std::vector<LossBalance> balances;
  if (before.has_value()) {
    absl::SleepFor(absl::Milliseconds(300));
    if (std::optional<Samples> after = ScrapeOrWarn(options.metrics_address)) {
      balances.push_back(Balance(*before, *after, "client", "gateway"));
      if (!echoes.empty()) {
        balances.push_back(Balance(*before, *after, "gateway", "client"));
      }
    }
  }
  CloseTunnels(client, opened.ids);
  Report(options, opened, pumped, balances);
  return opened.failed == 0 ? 0 : 1;
}

}  // namespace snaptun::cli
