// The SNAP control-plane client against a fake control plane started by the
// test: a real HTTP server (civetweb) on loopback that checks the path, the
// headers, the protobuf body and the token, and can fail, delay, or answer
// with Connect errors. Covers discovery, one shared registration per control
// plane, re-registration when the token file changes (polled with a bound),
// and a failed registration leaving nothing behind.
#include <civetweb.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "metrics/accept_nudger.h"
#include "proto/anapaya/snap/v1/control_service.pb.h"
#include "proto/snaptun/v1/snaptun.grpc.pb.h"
#include "service/control_plane/connect_client.h"
#include "service/control_plane/registrar.h"
#include "service/control_plane/token_expiry.h"
#include "service/control_plane/token_file.h"
#include "service/daemon/daemon.h"
#include "tests/testing/loopback_sockets.h"

namespace snaptun::service {
namespace {

class FakeControlPlane {
 public:
  FakeControlPlane() {
    const char* options[] = {"listening_ports", "127.0.0.1:0", "num_threads",
                             "8", nullptr};
    mg_callbacks callbacks{};
    context_ = mg_start(&callbacks, nullptr, options);
    mg_set_request_handler(context_, "/anapaya.snap.v1.SnapControl/", Handle,
                           this);
    mg_server_port ports[1];
    mg_get_server_ports(context_, 1, ports);
    port_ = ports[0].port;
  }
  ~FakeControlPlane() {
    {
      absl::MutexLock lock(&mu);
      stopping = true;
    }
    // Without it mg_stop waits out civetweb's 2 s accept poll.
    metrics::AcceptNudger nudger("127.0.0.1:0", port_);
    mg_stop(context_);
  }

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_);
  }

  absl::Mutex mu;
  std::string token ABSL_GUARDED_BY(mu) = "token-1";
  int registrations ABSL_GUARDED_BY(mu) = 0;
  int attempts ABSL_GUARDED_BY(mu) = 0;
  int fail_with_503 ABSL_GUARDED_BY(mu) = 0;  // Next N calls.
  absl::Duration delay ABSL_GUARDED_BY(mu) = absl::ZeroDuration();
  bool stopping ABSL_GUARDED_BY(mu) = false;
  // When set, every authorized call is answered 200 with this body.
  std::string answer ABSL_GUARDED_BY(mu);
  // Registrations are answered 200 with an empty body (psk_share empty).
  bool empty_registration_answer ABSL_GUARDED_BY(mu) = false;
  std::string last_token ABSL_GUARDED_BY(mu);
  std::string last_key ABSL_GUARDED_BY(mu);
  std::string data_plane ABSL_GUARDED_BY(mu);
  std::string data_plane_key ABSL_GUARDED_BY(mu);
  // Discovery names this snaptun control plane when set.
  std::string control_address ABSL_GUARDED_BY(mu);
  std::vector<std::string> problems ABSL_GUARDED_BY(mu);

 private:
  static void Reply(mg_connection* c, int status, const char* type,
                    const std::string& body) {
    mg_printf(c,
              "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
              "Connection: close\r\n\r\n",
              status, type, body.size());
    mg_write(c, body.data(), body.size());
  }

  static int Handle(mg_connection* c, void* data) {
    auto* self = static_cast<FakeControlPlane*>(data);
    const mg_request_info* info = mg_get_request_info(c);
    std::string body;
    char buffer[4096];
    int n;
    while ((n = mg_read(c, buffer, sizeof(buffer))) > 0) body.append(buffer, n);
    const std::string path = info->local_uri;
    const char* type = mg_get_header(c, "Content-Type");
    const char* auth = mg_get_header(c, "Authorization");
    absl::Duration delay;
    {
      absl::MutexLock lock(&self->mu);
      ++self->attempts;
      delay = self->delay;
      if (std::string(info->request_method) != "POST") {
        self->problems.push_back("method " + std::string(info->request_method));
      }
      if (type == nullptr || std::string(type) != "application/proto") {
        self->problems.push_back("content type");
      }
      if (self->fail_with_503 > 0) {
        --self->fail_with_503;
        Reply(c, 503, "application/json",
              R"({"code":"unavailable","message":"try later"})");
        return 503;
      }
      const std::string expected = "Bearer " + self->token;
      self->last_token = auth == nullptr ? "" : std::string(auth).substr(7);
      if (auth == nullptr || expected != auth) {
        Reply(c, 401, "application/json",
              R"({"code":"unauthenticated","message":"bad token"})");
        return 401;
      }
    }
    absl::MutexLock lock(&self->mu);
    self->mu.AwaitWithTimeout(absl::Condition(&self->stopping), delay);
    if (!self->answer.empty()) {
      Reply(c, 200, "application/proto", self->answer);
      return 200;
    }
    if (path == "/anapaya.snap.v1.SnapControl/RegisterSnapTunIdentity") {
      anapaya::snap::v1::RegisterSnapTunIdentityRequest request;
      if (!request.ParseFromString(body) ||
          request.initiator_static_x25519().size() != 32 ||
          request.psk_share() != std::string(32, '\0')) {
        Reply(c, 400, "application/json",
              R"({"code":"invalid_argument","message":"bad request"})");
        return 400;
      }
      ++self->registrations;
      self->last_key = request.initiator_static_x25519();
      if (self->empty_registration_answer) {
        Reply(c, 200, "application/proto", "");
        return 200;
      }
      anapaya::snap::v1::RegisterSnapTunIdentityResponse response;
      response.set_psk_share(std::string(32, '\0'));
      Reply(c, 200, "application/proto", response.SerializeAsString());
      return 200;
    }
    if (path == "/anapaya.snap.v1.SnapControl/GetSnapDataPlaneAddress") {
      anapaya::snap::v1::GetSnapDataPlaneAddressResponse response;
      response.set_address(self->data_plane);
      response.set_snap_static_x25519(self->data_plane_key);
      if (!self->control_address.empty()) {
        response.set_snap_tun_control_address(self->control_address);
      }
      Reply(c, 200, "application/proto", response.SerializeAsString());
      return 200;
    }
    Reply(c, 404, "text/plain", "no such method");
    return 404;
  }

  mg_context* context_ = nullptr;
  int port_ = 0;
};

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/" + name + "-" + std::to_string(getpid());
}

ConnectOptions LoopbackHttp() {
  ConnectOptions options;
  options.plain_http_hosts = {"127.0.0.1"};
  return options;
}

// An http URL on a loopback TCP port that is bound but never listening, so
// connections are refused for as long as this process holds it.
std::string ClosedPortUrl() {
  static const int port = [] {
    int bound = 0;
    testing::BoundLoopbackSocket(SOCK_STREAM, &bound);
    return bound;
  }();
  return "http://127.0.0.1:" + std::to_string(port);
}

// Replaces the file as Kubernetes does: a new file renamed over the old.
void WriteToken(const std::string& path, const std::string& token) {
  const std::string fresh = path + ".new";
  std::ofstream(fresh) << token << "\n";
  chmod(fresh.c_str(), 0600);
  rename(fresh.c_str(), path.c_str());
}

TEST(ConnectClientTest, DecodesConnectErrorsAndUnreachableServers) {
  FakeControlPlane cp;
  {
    absl::MutexLock lock(&cp.mu);
    cp.token = "right";
  }
  const ConnectOptions options = LoopbackHttp();
  absl::StatusOr<std::string> wrong = ConnectUnary(
      cp.url(), "/anapaya.snap.v1.SnapControl/RegisterSnapTunIdentity", "",
      "wrong", options);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(wrong.status().message().find("bad token"), std::string::npos);
  EXPECT_EQ(wrong.status().message().find("wrong"), std::string::npos)
      << "the token must not appear in errors";
  absl::StatusOr<std::string> bad = ConnectUnary(
      cp.url(), "/anapaya.snap.v1.SnapControl/RegisterSnapTunIdentity",
      "garbage", "right", options);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      ConnectUnary(ClosedPortUrl(), "/x", "", "t", options).status().code(),
      absl::StatusCode::kUnavailable);
  EXPECT_EQ(JoinUrl("10.0.0.1:8080/prefix", "/a/b").value(),
            "https://10.0.0.1:8080/a/b");
  EXPECT_EQ(UrlHost("https://user@[::1]:8443/x"), "::1");
  EXPECT_EQ(UrlHost("http://cp.example:80"), "cp.example");
  EXPECT_FALSE(JoinUrl("ftp://x", "/a").ok());
}

// The token must not cross the network in clear text: plain http is
// refused before anything is sent, unless the host is allowed by name.
TEST(ConnectClientTest, PlainHttpOnlyForAllowedHosts) {
  FakeControlPlane cp;
  const std::string path =
      "/anapaya.snap.v1.SnapControl/GetSnapDataPlaneAddress";
  absl::StatusOr<std::string> refused =
      ConnectUnary(cp.url(), path, "", "token-1", ConnectOptions{});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find(
                "--control_plane_plain_http_hosts=127.0.0.1"),
            std::string::npos)
      << refused.status();
  ConnectOptions other;
  other.plain_http_hosts = {"127.0.0.2", "localhost"};
  EXPECT_EQ(ConnectUnary(cp.url(), path, "", "token-1", other).status().code(),
            absl::StatusCode::kInvalidArgument);
  {
    absl::MutexLock lock(&cp.mu);
    EXPECT_EQ(cp.attempts, 0);
  }
  EXPECT_TRUE(ConnectUnary(cp.url(), path, "", "token-1", LoopbackHttp()).ok());
}

TEST(ConnectClientTest, AnswersAreBoundedInSize) {
  FakeControlPlane cp;
  {
    absl::MutexLock lock(&cp.mu);
    cp.answer = std::string(3 << 20, 'x');
  }
  const std::string path =
      "/anapaya.snap.v1.SnapControl/GetSnapDataPlaneAddress";
  absl::StatusOr<std::string> big =
      ConnectUnary(cp.url(), path, "", "token-1", LoopbackHttp());
  EXPECT_EQ(big.status().code(), absl::StatusCode::kOutOfRange) << big.status();
  ConnectOptions roomy = LoopbackHttp();
  roomy.max_response_bytes = 4 << 20;
  absl::StatusOr<std::string> fits =
      ConnectUnary(cp.url(), path, "", "token-1", roomy);
  ASSERT_TRUE(fits.ok()) << fits.status();
  EXPECT_EQ(fits->size(), size_t{3} << 20);
}

// Number of memory mappings of this process: an unjoined thread keeps its
// stack mapped, so leaked threads show here even after they exit.
size_t Mappings() {
  std::ifstream maps("/proc/self/maps");
  size_t n = 0;
  for (std::string line; std::getline(maps, line);) ++n;
  return n;
}

// A JWT whose payload is `claims` (the signature is not checked).
std::string Jwt(const std::string& claims) {
  return absl::WebSafeBase64Escape(R"({"alg":"ES256","typ":"JWT"})") + "." +
         absl::WebSafeBase64Escape(claims) + ".c2lnbmF0dXJl";
}

TEST(TokenExpiryTest, ReadsTheExpClaimOfAJwt) {
  EXPECT_EQ(TokenExpiry(Jwt(R"({"sub":"x","exp":1767225600,"iat":1})")),
            absl::FromUnixSeconds(1767225600));
  EXPECT_EQ(TokenExpiry(Jwt(R"({"exp" : 1767225600.5})") + "\n"),
            absl::FromUnixSeconds(1767225600));
  EXPECT_EQ(TokenExpiry(Jwt(R"({"sub":"x"})")), std::nullopt);
  EXPECT_EQ(TokenExpiry(Jwt(R"({"exp":"soon"})")), std::nullopt);
  EXPECT_EQ(TokenExpiry("not-a-jwt"), std::nullopt);
  EXPECT_EQ(TokenExpiry("a.%%%.c"), std::nullopt);
}

class RegistrarTest : public ::testing::Test {
 protected:
  RegistrarTest() {
    WriteToken(path_, "token-1");
    token_ = *TokenFile::Open(path_);
  }
  std::unique_ptr<Registrar> Make(RegistrarConfig config = {}) {
    config.call.plain_http_hosts = {"127.0.0.1"};
    return std::make_unique<Registrar>(crypto::PublicKey{}, *token_, nullptr,
                                       config);
  }
  // Acquires `url` and waits for the outcome.
  static absl::Status AcquireAndWait(Registrar& registrar,
                                     const std::string& url) {
    absl::Notification done;
    absl::Status result;
    registrar.Acquire(url, [&](absl::Status status) {
      result = status;
      done.Notify();
    });
    done.WaitForNotification();
    return result;
  }
  int Attempts() {
    absl::MutexLock lock(&cp_.mu);
    return cp_.attempts;
  }

  std::string path_ = TempPath("registrar-token");
  std::unique_ptr<TokenFile> token_;
  FakeControlPlane cp_;
};

int Registrations(FakeControlPlane& cp) {
  absl::MutexLock lock(&cp.mu);
  return cp.registrations;
}

// Waits (up to 20 s) until `cp` counted `n` registrations.
bool WaitForRegistrations(FakeControlPlane& cp, int n) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (Registrations(cp) < n && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  return Registrations(cp) >= n;
}

TEST_F(RegistrarTest, RegistrationsInUseAreRenewedPeriodically) {
  // W8: without a token change, the registration is renewed on a timer.
  RegistrarConfig config;
  config.refresh_interval = absl::Milliseconds(200);
  std::unique_ptr<Registrar> registrar = Make(config);
  ASSERT_TRUE(AcquireAndWait(*registrar, cp_.url()).ok());
  EXPECT_TRUE(WaitForRegistrations(cp_, 4));
  // Released: nothing left to renew.
  registrar->Release(cp_.url());
  absl::SleepFor(absl::Seconds(1));  // A renewal under way finishes.
  const int settled = Registrations(cp_);
  absl::SleepFor(absl::Milliseconds(800));
  EXPECT_EQ(Registrations(cp_), settled);
}

TEST_F(RegistrarTest, AFailingRenewalIsRetriedUntilItSucceeds) {
  // W8: the reference gave up after a few tries and let authorization
  // lapse. Here a renewal keeps trying, with backoff, for as long as the
  // token is valid (this one has no expiry: one refresh interval).
  RegistrarConfig config;
  config.refresh_interval = absl::Seconds(30);
  config.renewal_backoff =
      BackoffPolicy{absl::Milliseconds(20), absl::Milliseconds(100), 2.0, 0};
  std::unique_ptr<Registrar> registrar = Make(config);
  ASSERT_TRUE(AcquireAndWait(*registrar, cp_.url()).ok());
  ASSERT_EQ(Registrations(cp_), 1);
  const int before = Attempts();
  {
    absl::MutexLock lock(&cp_.mu);
    cp_.fail_with_503 = 8;  // Twice the first registration's attempts.
  }
  registrar->Refresh(cp_.url());  // As a reconnecting tunnel does.
  EXPECT_TRUE(WaitForRegistrations(cp_, 2));
  EXPECT_EQ(Attempts() - before, 9);
}

TEST_F(RegistrarTest, OpensArrivingMeanwhileWaitForTheRegistrationUnderWay) {
  // W7: the reference let concurrent first connects go ahead before the
  // registration they depend on had finished. Here the second Acquire,
  // made while the first registration is still under way, hears back only
  // once that registration has been counted by the control plane.
  {
    absl::MutexLock lock(&cp_.mu);
    cp_.delay = absl::Milliseconds(400);
  }
  std::unique_ptr<Registrar> registrar = Make();
  absl::Notification first_done;
  registrar->Acquire(cp_.url(), [&](absl::Status) { first_done.Notify(); });
  while (Attempts() == 0) absl::SleepFor(absl::Milliseconds(5));
  absl::Notification second_done;
  int registrations_seen = -1;
  absl::Status second_status;
  registrar->Acquire(cp_.url(), [&](absl::Status status) {
    registrations_seen = Registrations(cp_);
    second_status = status;
    second_done.Notify();
  });
  second_done.WaitForNotification();
  first_done.WaitForNotification();
  EXPECT_TRUE(second_status.ok()) << second_status;
  EXPECT_EQ(registrations_seen, 1);
  EXPECT_EQ(Attempts(), 1);  // One registration for both.
}

TEST_F(RegistrarTest, ZeroAttemptsStillMakesOne) {
  // W9: the reference's retry loop underflowed with max_attempts == 0.
  RegistrarConfig config;
  config.attempts = 0;
  {
    absl::MutexLock lock(&cp_.mu);
    cp_.fail_with_503 = 100;
  }
  std::unique_ptr<Registrar> registrar = Make(config);
  EXPECT_EQ(AcquireAndWait(*registrar, cp_.url()).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(Attempts(), 1);
}

TEST_F(RegistrarTest, AnEmptyPskShareInTheAnswerIsAccepted) {
  // W23: the reference refused the proto3 default (an empty psk_share).
  // snaptun sends 32 zero bytes (the fake control plane refuses anything
  // else) and accepts an answer whose psk_share is empty.
  {
    absl::MutexLock lock(&cp_.mu);
    cp_.empty_registration_answer = true;
  }
  std::unique_ptr<Registrar> registrar = Make();
  EXPECT_TRUE(AcquireAndWait(*registrar, cp_.url()).ok());
  EXPECT_EQ(Registrations(cp_), 1);
}

TEST_F(RegistrarTest, RefreshOfAnUnknownRegistrationDoesNothing) {
  std::unique_ptr<Registrar> registrar = Make();
  registrar->Refresh(cp_.url());
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(Attempts(), 0);
}

TEST_F(RegistrarTest, AnAnswerThatDoesNotParseIsNotRetried) {
  {
    absl::MutexLock lock(&cp_.mu);
    cp_.answer = "\xff\xff\xff";  // Not a protobuf message.
  }
  std::unique_ptr<Registrar> registrar = Make();
  absl::Status status = AcquireAndWait(*registrar, cp_.url());
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_EQ(Attempts(), 1);
}

TEST_F(RegistrarTest, FinishedRegistrationsLeaveNoThreadsBehind) {
  {
    absl::MutexLock lock(&cp_.mu);
    cp_.token = "another";  // Every call fails fast: UNAUTHENTICATED.
  }
  std::unique_ptr<Registrar> registrar = Make();
  AcquireAndWait(*registrar, cp_.url()).IgnoreError();
  const size_t before = Mappings();
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(AcquireAndWait(*registrar, cp_.url()).code(),
              absl::StatusCode::kUnauthenticated);
  }
  // Each leaked thread would hold a stack and a guard page: 200 more.
  EXPECT_LT(Mappings(), before + 20);
}

// A control plane that never answers, and retries with long backoff: Stop
// abandons both, so shutdown does not wait on them. (Without that, this
// test would hang until the call timeout and the backoff passed.)
TEST_F(RegistrarTest, StopAbandonsCallsAndBackoffUnderWay) {
  RegistrarConfig config;
  config.call.timeout = absl::Hours(1);
  config.backoff = BackoffPolicy{absl::Hours(1), absl::Hours(1), 2.0, 0};
  config.attempts = 10;
  {
    absl::MutexLock lock(&cp_.mu);
    cp_.delay = absl::Hours(1);
  }
  std::unique_ptr<Registrar> hanging = Make(config);
  absl::Notification hanging_done;
  absl::Status hanging_status;
  hanging->Acquire(cp_.url(), [&](absl::Status status) {
    hanging_status = status;
    hanging_done.Notify();
  });
  while (Attempts() == 0) absl::SleepFor(absl::Milliseconds(10));
  hanging->Stop();
  ASSERT_TRUE(hanging_done.HasBeenNotified());
  EXPECT_EQ(hanging_status.code(), absl::StatusCode::kCancelled)
      << hanging_status;

  {
    absl::MutexLock lock(&cp_.mu);
    cp_.delay = absl::ZeroDuration();
    cp_.fail_with_503 = 1000;
  }
  std::unique_ptr<Registrar> backing_off = Make(config);
  absl::Notification backoff_done;
  backing_off->Acquire(cp_.url(), [&](absl::Status) { backoff_done.Notify(); });
  while (Attempts() < 2) absl::SleepFor(absl::Milliseconds(10));
  backing_off->Stop();
  EXPECT_TRUE(backoff_done.HasBeenNotified());
  // After Stop, a new registration fails at once.
  EXPECT_EQ(AcquireAndWait(*backing_off, cp_.url()).code(),
            absl::StatusCode::kCancelled);
}

class ControlPlaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    token_file_ = TempPath("snap-token");
    WriteToken(token_file_, "token-1");
    DaemonConfig config;
    config.grpc_listen = "127.0.0.1:0";
    config.metrics_listen = "127.0.0.1:0";
    config.gateway_listen = "127.0.0.1:0";
    config.private_key_file = TempPath("cp-key");
    unlink(config.private_key_file.c_str());
    config.snap_token_file = token_file_;
    config.control_plane_plain_http_hosts = {"127.0.0.1"};
    config.workers = 2;
    daemon_ = *Daemon::Start(config);
    const crypto::PublicKey& key = daemon_->public_key();
    ASSERT_TRUE(daemon_->sessions()
                    .GrantIdentity(key, absl::Now(), absl::InfiniteFuture())
                    .ok());
    {
      absl::MutexLock lock(&cp_.mu);
      cp_.data_plane = daemon_->gateway_address()->ToString();
      cp_.data_plane_key.assign(reinterpret_cast<const char*>(key.data()), 32);
    }
    stub_ = v1::TunnelService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(daemon_->grpc_port()),
                            grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (daemon_ != nullptr) daemon_->Drain();
  }

  grpc::Status Open(const std::string& id, v1::Tunnel* out) {
    v1::OpenTunnelRequest request;
    request.set_tunnel_id(id);
    request.set_control_plane_url(cp_.url());
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return stub_->OpenTunnel(&context, request, out);
  }
  int Registrations() { return service::Registrations(cp_); }

  FakeControlPlane cp_;
  std::string token_file_;
  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<v1::TunnelService::Stub> stub_;
};

TEST_F(ControlPlaneTest, DiscoversRegistersOnceAndReRegistersOnNewToken) {
  v1::Tunnel tunnel;
  grpc::Status status = Open("cp1", &tunnel);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(tunnel.state(), v1::TUNNEL_STATE_ESTABLISHED);
  EXPECT_EQ(tunnel.remote_address(), daemon_->gateway_address()->ToString());
  EXPECT_EQ(tunnel.control_plane_url(), cp_.url());
  EXPECT_EQ(Registrations(), 1);
  {
    absl::MutexLock lock(&cp_.mu);
    EXPECT_EQ(cp_.last_token, "token-1");
    EXPECT_EQ(
        cp_.last_key,
        std::string(reinterpret_cast<const char*>(daemon_->public_key().data()),
                    32));
    EXPECT_TRUE(cp_.problems.empty());
  }
  ASSERT_TRUE(Open("cp2", &tunnel).ok());
  EXPECT_EQ(Registrations(), 1);  // Shared with cp1.

  // Kubernetes-style rotation: the control plane accepts only the new token.
  {
    absl::MutexLock lock(&cp_.mu);
    cp_.token = "token-2";
  }
  WriteToken(token_file_, "token-2");
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (Registrations() < 2 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(Registrations(), 2);
  absl::MutexLock lock(&cp_.mu);
  EXPECT_EQ(cp_.last_token, "token-2");
}

TEST_F(ControlPlaneTest, RegistersWithTheDiscoveredSnaptunControlPlane) {
  // Discovery names a separate snaptun control plane: the identity is
  // registered there, not at the SNAP control plane asked for discovery.
  FakeControlPlane snaptun_cp;
  {
    absl::MutexLock lock(&cp_.mu);
    cp_.control_address = snaptun_cp.url();
  }
  v1::Tunnel tunnel;
  grpc::Status status = Open("separate", &tunnel);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(tunnel.state(), v1::TUNNEL_STATE_ESTABLISHED);
  EXPECT_EQ(service::Registrations(cp_), 0);
  EXPECT_EQ(service::Registrations(snaptun_cp), 1);
  absl::MutexLock lock(&snaptun_cp.mu);
  EXPECT_EQ(snaptun_cp.last_token, "token-1");
}

TEST_F(ControlPlaneTest, RetriesThenFailsWithUnavailableLeavingNothing) {
  {
    absl::MutexLock lock(&cp_.mu);
    cp_.fail_with_503 = 100;
  }
  v1::Tunnel tunnel;
  grpc::Status status = Open("down", &tunnel);
  EXPECT_EQ(status.error_code(), grpc::UNAVAILABLE);
  EXPECT_NE(status.error_message().find("4 attempts"), std::string::npos);
  {
    absl::MutexLock lock(&cp_.mu);
    EXPECT_EQ(cp_.attempts, 4);
    cp_.fail_with_503 = 1;  // One transient failure: a retry gets through.
  }
  EXPECT_EQ(daemon_->sessions().size(), 0u);
  ASSERT_TRUE(Open("up", &tunnel).ok());
  EXPECT_EQ(Registrations(), 1);
}

TEST_F(ControlPlaneTest, ConcurrentFirstOpensShareOneRegistration) {
  {
    absl::MutexLock lock(&cp_.mu);
    cp_.delay = absl::Milliseconds(300);
  }
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      v1::Tunnel tunnel;
      if (Open("together" + std::to_string(i), &tunnel).ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(Registrations(), 1);
}

// A control plane that never answers while the daemon shuts down: the open
// fails, the registrar's thread is joined before the session manager goes
// (ASan would see its callback touch freed memory otherwise), and shutdown
// does not wait out the retries.
TEST_F(ControlPlaneTest, ShutdownAbandonsARegistrationUnderWay) {
  {
    absl::MutexLock lock(&cp_.mu);
    cp_.delay = absl::Hours(1);
  }
  grpc::Status open_status;
  std::thread open([&] {
    v1::Tunnel tunnel;
    open_status = Open("black-hole", &tunnel);
  });
  {
    absl::MutexLock lock(&cp_.mu);
    cp_.mu.Await(absl::Condition(
        +[](int* attempts) { return *attempts > 0; }, &cp_.attempts));
  }
  daemon_->Drain();
  daemon_.reset();
  open.join();
  EXPECT_FALSE(open_status.ok());
}

// A connect that fails after the registration succeeded gives the
// registration back (it used to stay held, and be renewed on every token
// rotation, for a tunnel that no longer existed).
TEST_F(ControlPlaneTest, AFailedConnectReleasesItsRegistration) {
  int silent_port = 0;
  const int silent = testing::BoundLoopbackSocket(SOCK_DGRAM, &silent_port);
  v1::OpenTunnelRequest request;
  request.set_tunnel_id("nobody-answers");
  request.set_control_plane_url(cp_.url());
  const crypto::PublicKey& key = daemon_->public_key();
  request.set_peer_public_key(std::string(key.begin(), key.end()));
  request.set_data_plane_address("127.0.0.1:" + std::to_string(silent_port));
  request.mutable_connect_timeout()->set_seconds(1);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::Tunnel tunnel;
  grpc::Status status = stub_->OpenTunnel(&context, request, &tunnel);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(Registrations(), 1);
  EXPECT_EQ(daemon_->registrar()->in_use(), 0u);
  close(silent);
}

}  // namespace
}  // namespace snaptun::service
