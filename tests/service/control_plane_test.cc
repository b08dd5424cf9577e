// The SNAP control-plane client against a fake control plane started by the
// test: a real HTTP server (civetweb) on loopback that checks the path, the
// headers, the protobuf body and the token, and can fail, delay, or answer
// with Connect errors. Covers discovery, one shared registration per control
// plane, re-registration when the token file changes (polled with a bound),
// and a failed registration leaving nothing behind.
#include <civetweb.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "proto/anapaya/snap/v1/control_service.pb.h"
#include "proto/snaptun/v1/snaptun.grpc.pb.h"
#include "service/control_plane/connect_client.h"
#include "service/daemon/daemon.h"

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
  ~FakeControlPlane() { mg_stop(context_); }

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_);
  }

  absl::Mutex mu;
  std::string token ABSL_GUARDED_BY(mu) = "token-1";
  int registrations ABSL_GUARDED_BY(mu) = 0;
  int attempts ABSL_GUARDED_BY(mu) = 0;
  int fail_with_503 ABSL_GUARDED_BY(mu) = 0;  // Next N calls.
  absl::Duration delay ABSL_GUARDED_BY(mu) = absl::ZeroDuration();
  std::string last_token ABSL_GUARDED_BY(mu);
  std::string last_key ABSL_GUARDED_BY(mu);
  std::string data_plane ABSL_GUARDED_BY(mu);
  std::string data_plane_key ABSL_GUARDED_BY(mu);
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
    absl::SleepFor(delay);
    absl::MutexLock lock(&self->mu);
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
      anapaya::snap::v1::RegisterSnapTunIdentityResponse response;
      response.set_psk_share(std::string(32, '\0'));
      Reply(c, 200, "application/proto", response.SerializeAsString());
      return 200;
    }
    if (path == "/anapaya.snap.v1.SnapControl/GetSnapDataPlaneAddress") {
      anapaya::snap::v1::GetSnapDataPlaneAddressResponse response;
      response.set_address(self->data_plane);
      response.set_snap_static_x25519(self->data_plane_key);
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
  absl::StatusOr<std::string> wrong = ConnectUnary(
      cp.url(), "/anapaya.snap.v1.SnapControl/RegisterSnapTunIdentity", "",
      "wrong", absl::Seconds(5));
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(wrong.status().message().find("bad token"), std::string::npos);
  EXPECT_EQ(wrong.status().message().find("wrong"), std::string::npos)
      << "the token must not appear in errors";
  absl::StatusOr<std::string> bad = ConnectUnary(
      cp.url(), "/anapaya.snap.v1.SnapControl/RegisterSnapTunIdentity",
      "garbage", "right", absl::Seconds(5));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ConnectUnary("http://127.0.0.1:1", "/x", "", "t", absl::Seconds(2))
                .status()
                .code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(JoinUrl("10.0.0.1:8080/prefix", "/a/b").value(),
            "http://10.0.0.1:8080/a/b");
  EXPECT_FALSE(JoinUrl("ftp://x", "/a").ok());
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
    config.workers = 2;
    daemon_ = *Daemon::Start(config);
    const crypto::PublicKey& key = daemon_->public_key();
    daemon_->sessions().identities()->Grant(key, absl::Now(),
                                            absl::InfiniteFuture(), {});
    {
      absl::MutexLock lock(&cp_.mu);
      cp_.data_plane = daemon_->gateway_address()->ToString();
      cp_.data_plane_key.assign(reinterpret_cast<const char*>(key.data()), 32);
    }
    stub_ = v1::TunnelService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(daemon_->grpc_port()),
                            grpc::InsecureChannelCredentials()));
  }
  void TearDown() override { daemon_->Drain(); }

  grpc::Status Open(const std::string& id, v1::Tunnel* out) {
    v1::OpenTunnelRequest request;
    request.set_tunnel_id(id);
    request.set_control_plane_url(cp_.url());
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return stub_->OpenTunnel(&context, request, out);
  }
  int Registrations() {
    absl::MutexLock lock(&cp_.mu);
    return cp_.registrations;
  }

  FakeControlPlane cp_;
  std::string token_file_;
  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<v1::TunnelService::Stub> stub_;
};

TEST_F(ControlPlaneTest, DiscoversRegistersOnceAndReRegistersOnNewToken) {
  v1::Tunnel tunnel;
  grpc::Status status = Open("cp1", &tunnel);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(tunnel.state(), v1::ESTABLISHED);
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

}  // namespace
}  // namespace snaptun::service
