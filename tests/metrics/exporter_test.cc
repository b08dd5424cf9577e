// The exporter over real HTTP on loopback: /metrics with the 0.0.4 content
// type and the registry's text, /healthz always, /readyz only when ready,
// 404 elsewhere, and a clear error for a bad listen address.
#include "metrics/exporter.h"

#include <curl/curl.h>

#include <string>

#include "gtest/gtest.h"
#include "metrics/text_format.h"

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
  Registry registry;
  registry.AddCounter("snaptun_test_total", "A test counter.")
      .Add({{"k", "v"}})
      .Increment(7);
  absl::StatusOr<std::unique_ptr<Exporter>> exporter =
      Exporter::Start("127.0.0.1:0", registry);
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

TEST(ExporterTest, BadListenAddressIsAClearError) {
  Registry registry;
  absl::StatusOr<std::unique_ptr<Exporter>> exporter =
      Exporter::Start("not an address", registry);
  EXPECT_EQ(exporter.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(exporter.status().message().find("--metrics_listen"),
            std::string::npos);
}

}  // namespace
}  // namespace snaptun::metrics
