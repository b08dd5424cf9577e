// The exporter over real HTTP on loopback: /metrics with the 0.0.4 content
// type and the exposition's text, /healthz always, /readyz only when ready,
// 404 elsewhere, and a clear error for a bad listen address.
#include "metrics/exporter.h"

#include <curl/curl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "metrics/worker_metrics.h"
#include "tests/testing/loopback_sockets.h"

namespace snaptun::metrics {
namespace {

struct Response {
  long status = 0;
  std::string content_type;
  std::string body;
};

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

Response Get(int port, const std::string& path) {
  Response response;
  CURL* curl = curl_easy_init();
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + path;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 5L);
  if (curl_easy_perform(curl) == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    char* type = nullptr;
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
    if (type != nullptr) response.content_type = type;
  }
  curl_easy_cleanup(curl);
  return response;
}

TEST(ExporterTest, ServesMetricsHealthAndReadiness) {
  auto workers = std::make_shared<WorkerMetrics>();
  workers->AddCounter("snaptun_test_total", "A test counter.")
      .Add({{"k", "v"}})
      .Increment(7, 0);
  Exposition exposition;
  exposition.Add(workers);
  absl::StatusOr<std::unique_ptr<Exporter>> exporter =
      Exporter::Start("127.0.0.1:0", exposition);
  ASSERT_TRUE(exporter.ok()) << exporter.status();
  const int port = (*exporter)->port();
  ASSERT_GT(port, 0);

  const Response metrics = Get(port, "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.content_type, kTextContentType);
  EXPECT_NE(metrics.body.find("snaptun_test_total{k=\"v\"} 7\n"),
            std::string::npos);

  EXPECT_EQ(Get(port, "/healthz").status, 200);
  EXPECT_EQ(Get(port, "/readyz").status, 503);
  (*exporter)->SetReady(true);
  EXPECT_EQ(Get(port, "/readyz").status, 200);
  (*exporter)->SetReady(false);  // Draining.
  EXPECT_EQ(Get(port, "/readyz").status, 503);
  EXPECT_EQ(Get(port, "/nothing").status, 404);
}

// Slowloris: connections that send nothing must neither hold the probes
// (they used to wait for one of two threads, up to 30 s) nor be kept open.
TEST(ExporterTest, IdleConnectionsDoNotBlockProbes) {
  Exposition exposition;
  absl::StatusOr<std::unique_ptr<Exporter>> exporter =
      Exporter::Start("127.0.0.1:0", exposition);
  ASSERT_TRUE(exporter.ok()) << exporter.status();
  const int port = (*exporter)->port();
  std::vector<int> idle;
  for (int i = 0; i < 8; ++i) {
    idle.push_back(testing::IdleTcpConnection(port));
    ASSERT_GE(idle.back(), 0);
  }
  // Get gives up after 5 s; an answer at all means the probe got through.
  EXPECT_EQ(Get(port, "/healthz").status, 200);
  EXPECT_EQ(Get(port, "/metrics").status, 200);
  // The server closes a connection that sends nothing (recv sees EOF or a
  // reset) instead of keeping its thread.
  timeval wait{30, 0};
  setsockopt(idle[0], SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait));
  char byte;
  const ssize_t n = recv(idle[0], &byte, 1, 0);
  const int error = errno;
  EXPECT_TRUE(n == 0 || (n < 0 && error != EAGAIN && error != EWOULDBLOCK))
      << n << " " << error;
  for (int fd : idle) close(fd);
}

TEST(ExporterTest, BadListenAddressIsAClearError) {
  Exposition exposition;
  absl::StatusOr<std::unique_ptr<Exporter>> exporter =
      Exporter::Start("not an address", exposition);
  EXPECT_EQ(exporter.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(exporter.status().message().find("--metrics_listen"),
            std::string::npos);
}

}  // namespace
}  // namespace snaptun::metrics
