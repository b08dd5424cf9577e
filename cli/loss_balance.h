// The loss balance sheet of `snaptunctl bench`: where every packet a
// tunnel's sender sealed ended up, read from the daemon's /metrics before
// and after the run. Sealed payloads (snaptun_packets_total tx of the
// sending role) either reached the receiving role (rx, counted when
// decrypted), were refused by the sender's kernel (send_buffer_full,
// send_no_buffer_space, send_error), dropped by the receiver's kernel
// (socket_overflow) or refused by the receiver before decryption (invalid,
// decrypt_failed, replay, no_tunnel, unauthorized, oversize). What is left
// is unaccounted. Drops after decryption (receive_queue_full) are part of
// rx and shown on their own line.
#ifndef SNAPTUN_CLI_LOSS_BALANCE_H_
#define SNAPTUN_CLI_LOSS_BALANCE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace snaptun::cli {

// One exposition's samples, keyed by name and sorted labels:
// `name{a="x",b="y"}`.
using Samples = std::map<std::string, double>;

// Parses Prometheus text format 0.0.4 (comments and timestamps ignored).
Samples ParseSamples(const std::string& text);
// GETs http://address/metrics.
absl::StatusOr<Samples> Scrape(const std::string& address);

struct LossBalance {
  std::string from;  // Sending role.
  std::string to;    // Receiving role.
  double sealed = 0;
  double refused_by_sender_kernel = 0;
  double dropped_by_receiver_kernel = 0;
  double refused_by_receiver = 0;
  // Opened and authorized: rx, plus what a full receive queue refused.
  double received = 0;
  double dropped_after_receipt = 0;  // Part of `received`.

  double unaccounted() const {
    return sealed - refused_by_sender_kernel - dropped_by_receiver_kernel -
           refused_by_receiver - received;
  }
  // |unaccounted| / sealed, 0 when nothing was sealed.
  double unaccounted_fraction() const;
};

// The balance of the packets `from` sent to `to` between two scrapes.
LossBalance Balance(const Samples& before, const Samples& after,
                    const std::string& from, const std::string& to);

// Rows for the summary table, and a JSON object.
std::vector<std::vector<std::string>> BalanceRows(const LossBalance& b);
std::string BalanceJson(const LossBalance& b);

}  // namespace snaptun::cli

#endif  // SNAPTUN_CLI_LOSS_BALANCE_H_
