// sendmmsg with GSO grouping, per-send error isolation and bounded waiting.
#include "tunnel/io/batch_sender.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>

#include <algorithm>
#include <cstring>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

namespace snaptun::io {
namespace {

// How long a flush waits once for a full socket buffer to drain.
constexpr int kWritableWaitMs = 1;

}  // namespace

BatchSender::BatchSender(size_t capacity, bool gso)
    : slots_(capacity), gso_(gso) {
  plan_.reserve(capacity);
  headers_.resize(capacity);
  iovecs_.resize(capacity);
  addresses_.resize(capacity);
  controls_.resize(capacity);
}

absl::Span<uint8_t> BatchSender::Reserve(const core::Endpoint& to,
                                         size_t max_size) {
  if (full()) return {};
  Slot& slot = slots_[count_];
  slot.to = to;
  if (slot.bytes.size() < max_size) slot.bytes.resize(max_size);
  slot.size = 0;
  return absl::MakeSpan(slot.bytes.data(), max_size);
}

void BatchSender::Commit(size_t size) {
  slots_[count_].size = size;
  ++count_;
}

bool BatchSender::Queue(const core::Endpoint& to,
                        absl::Span<const uint8_t> datagram) {
  if (full()) return false;
  absl::Span<uint8_t> buffer = Reserve(to, datagram.size());
  std::copy(datagram.begin(), datagram.end(), buffer.begin());
  Commit(datagram.size());
  return true;
}

void BatchSender::Plan(size_t first_slot, bool connected) {
  plan_.clear();
  for (size_t i = first_slot; i < count_;) {
    Send send{i, 1, static_cast<uint16_t>(slots_[i].size)};
    size_t total = slots_[i].size;
    if (gso_) {
      for (size_t j = i + 1; j < count_; ++j) {
        const Slot& next = slots_[j];
        if (next.to != slots_[i].to || next.size > send.segment ||
            next.size == 0 || send.count == kMaxGsoSegments ||
            total + next.size > kMaxGsoBytes) {
          break;
        }
        ++send.count;
        total += next.size;
        // A shorter segment can only be the last one of a GSO send.
        if (next.size < send.segment) break;
      }
    }
    plan_.push_back(send);
    i += send.count;
  }
  for (size_t k = 0; k < plan_.size(); ++k) {
    const Send& send = plan_[k];
    for (size_t s = send.first; s < send.first + send.count; ++s) {
      iovecs_[s] = {slots_[s].bytes.data(), slots_[s].size};
    }
    msghdr& h = headers_[k].msg_hdr;
    h = {};
    h.msg_iov = &iovecs_[send.first];
    h.msg_iovlen = send.count;
    if (!connected) {
      addresses_[k] = ToSocketAddress(slots_[send.first].to);
      h.msg_name = &addresses_[k].storage;
      h.msg_namelen = addresses_[k].length;
    }
    if (send.count > 1) {
      h.msg_control = controls_[k].data();
      h.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
      cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      std::memcpy(CMSG_DATA(c), &send.segment, sizeof(uint16_t));
    }
  }
}

FlushStats BatchSender::Flush(int fd, bool connected) {
  FlushStats stats;
  Plan(0, connected);
  size_t next = 0;
  bool waited = false;
  while (next < plan_.size()) {
    const int sent =
        sendmmsg(fd, &headers_[next],
                 static_cast<unsigned>(plan_.size() - next), MSG_DONTWAIT);
    ++stats.sends;
    if (sent > 0) {
      for (size_t k = next; k < next + static_cast<size_t>(sent); ++k) {
        stats.sent += plan_[k].count;
      }
      next += static_cast<size_t>(sent);
      continue;
    }
    const int error = errno;
    if (error == EINTR) continue;
    if ((error == EAGAIN || error == EWOULDBLOCK) && !waited) {
      waited = true;
      pollfd p{fd, POLLOUT, 0};
      poll(&p, 1, kWritableWaitMs);
      continue;
    }
    if ((error == EIO || error == EINVAL) && gso_ && plan_[next].count > 1) {
      // The device cannot segment: send the rest one datagram at a time.
      gso_ = false;
      Plan(plan_[next].first, connected);
      next = 0;
      continue;
    }
    stats.last_error = error;
    if (error == EAGAIN || error == EWOULDBLOCK) {
      for (size_t k = next; k < plan_.size(); ++k) {
        stats.dropped += plan_[k].count;
        stats.buffer_full += plan_[k].count;
      }
      break;
    }
    stats.dropped += plan_[next].count;
    (error == ENOBUFS ? stats.no_buffer_space : stats.other_error) +=
        plan_[next].count;
    ++next;
  }
  count_ = 0;
  return stats;
}

FlushStats BatchSender::FlushEach(
    const std::function<int(const core::Endpoint& to,
                            absl::Span<const uint8_t> datagram)>& send) {
  FlushStats stats;
  for (size_t i = 0; i < count_; ++i) {
    const Slot& slot = slots_[i];
    ++stats.sends;
    const int error =
        send(slot.to, absl::MakeConstSpan(slot.bytes.data(), slot.size));
    if (error == 0) {
      ++stats.sent;
      continue;
    }
    ++stats.dropped;
    ++stats.other_error;
    stats.last_error = error;
  }
  count_ = 0;
  return stats;
}

}  // namespace snaptun::io
