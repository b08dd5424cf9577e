// Scraping, parsing and the arithmetic of the balance sheet.
#include "cli/loss_balance.h"

#include <curl/curl.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace snaptun::cli {
namespace {

constexpr size_t kMaxExposition = size_t{16} << 20;

// `name{...}` with its labels sorted, from one exposition line's key.
std::string CanonicalKey(absl::string_view key) {
  const size_t brace = key.find('{');
  if (brace == absl::string_view::npos || key.back() != '}') {
    return std::string(key);
  }
  std::vector<std::string> labels;
  absl::string_view body = key.substr(brace + 1, key.size() - brace - 2);
  // Label values here never hold commas or quotes (snaptun's are fixed).
  for (absl::string_view label : absl::StrSplit(body, ',', absl::SkipEmpty())) {
    labels.emplace_back(absl::StripAsciiWhitespace(label));
  }
  std::sort(labels.begin(), labels.end());
  return absl::StrCat(key.substr(0, brace), "{", absl::StrJoin(labels, ","),
                      "}");
}

size_t Append(char* data, size_t size, size_t count, void* out) {
  auto* body = static_cast<std::string*>(out);
  if (body->size() + size * count > kMaxExposition) return 0;
  body->append(data, size * count);
  return size * count;
}

double Delta(const Samples& before, const Samples& after,
             const std::string& key) {
  auto value = [&key](const Samples& s) {
    auto it = s.find(key);
    return it == s.end() ? 0.0 : it->second;
  };
  return value(after) - value(before);
}

double Drops(const Samples& before, const Samples& after,
             const std::string& role,
             std::initializer_list<const char*> reasons) {
  double sum = 0;
  for (const char* reason : reasons) {
    sum += Delta(before, after,
                 absl::StrCat("snaptun_packets_dropped_total{reason=\"", reason,
                              "\",role=\"", role, "\"}"));
  }
  return sum;
}

std::string Count(double v) { return absl::StrFormat("%.0f", v); }

}  // namespace

Samples ParseSamples(const std::string& text) {
  Samples samples;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    const size_t end_of_key = line.find('}') != absl::string_view::npos
                                  ? line.find('}') + 1
                                  : line.find(' ');
    if (end_of_key == absl::string_view::npos) continue;
    std::vector<absl::string_view> rest =
        absl::StrSplit(absl::StripAsciiWhitespace(line.substr(end_of_key)), ' ',
                       absl::SkipEmpty());
    double value = 0;
    if (rest.empty() || !absl::SimpleAtod(rest[0], &value)) continue;
    samples[CanonicalKey(line.substr(0, end_of_key))] = value;
  }
  return samples;
}

absl::StatusOr<Samples> Scrape(const std::string& address) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  const std::string url = absl::StrCat("http://", address, "/metrics");
  std::string body;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http");
  const CURLcode result = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  if (result != CURLE_OK || status != 200) {
    return absl::UnavailableError(
        absl::StrCat("cannot read ", url, ": ",
                     result != CURLE_OK ? curl_easy_strerror(result)
                                        : absl::StrCat("HTTP ", status)));
  }
  return ParseSamples(body);
}

double LossBalance::unaccounted_fraction() const {
  return sealed > 0 ? std::abs(unaccounted()) / sealed : 0;
}

LossBalance Balance(const Samples& before, const Samples& after,
                    const std::string& from, const std::string& to) {
  auto packets = [&](const std::string& role, const char* direction) {
    return Delta(before, after,
                 absl::StrCat("snaptun_packets_total{direction=\"", direction,
                              "\",role=\"", role, "\"}"));
  };
  LossBalance b;
  b.from = from;
  b.to = to;
  b.sealed = packets(from, "tx");
  b.refused_by_sender_kernel =
      Drops(before, after, from,
            {"send_buffer_full", "send_no_buffer_space", "send_error"});
  b.dropped_by_receiver_kernel = Drops(before, after, to, {"socket_overflow"});
  b.refused_by_receiver = Drops(before, after, to,
                                {"invalid_packet", "decrypt_failed", "replay",
                                 "no_tunnel", "unauthorized", "oversize"});
  // Received: queued for the reader (rx) or refused by a full queue.
  b.dropped_after_receipt = Drops(before, after, to, {"receive_queue_full"});
  b.received = packets(to, "rx") + b.dropped_after_receipt;
  return b;
}

std::vector<std::vector<std::string>> BalanceRows(const LossBalance& b) {
  const std::string way = absl::StrCat(b.from, " → ", b.to);
  return {
      {absl::StrCat(way, ": sealed and sent"), Count(b.sealed)},
      {"  refused by the sender's kernel (send_*)",
       Count(b.refused_by_sender_kernel)},
      {"  dropped by the receiver's kernel (socket_overflow)",
       Count(b.dropped_by_receiver_kernel)},
      {"  refused by the receiver before decryption",
       Count(b.refused_by_receiver)},
      {"  received", Count(b.received)},
      {"    of which dropped on a full receive queue",
       Count(b.dropped_after_receipt)},
      {"  unaccounted", absl::StrFormat("%.0f (%.2f %%)", b.unaccounted(),
                                        100 * b.unaccounted_fraction())},
  };
}

std::string BalanceJson(const LossBalance& b) {
  return absl::StrFormat(
      "{\"from\":\"%s\",\"to\":\"%s\",\"sealed\":%.0f,"
      "\"refused_by_sender_kernel\":%.0f,\"dropped_by_receiver_kernel\":%.0f,"
      "\"refused_by_receiver\":%.0f,\"received\":%.0f,"
      "\"dropped_after_receipt\":%.0f,\"unaccounted\":%.0f,"
      "\"unaccounted_fraction\":%.6f}",
      b.from, b.to, b.sealed, b.refused_by_sender_kernel,
      b.dropped_by_receiver_kernel, b.refused_by_receiver, b.received,
      b.dropped_after_receipt, b.unaccounted(), b.unaccounted_fraction());
}

}  // namespace snaptun::cli
