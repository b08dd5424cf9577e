// The interceptor on a real gRPC server over loopback, whose generic service
// answers any method name: a call to a named method counts started, handled
// with its code, one message each way and a handling time; calls to any other
// name land in one "unknown" series per type, so a caller cannot grow the
// label set.
#include "metrics/grpc_server_metrics.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace snaptun::metrics {
namespace {

using Type = grpc::experimental::ServerRpcInfo::Type;

// Echoes the one message of a unary call, whatever the method's name;
// "/test.Echo/Refuse" is refused with INVALID_ARGUMENT instead.
class EchoService final : public grpc::CallbackGenericService {
  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override {
    class Reactor final : public grpc::ServerGenericBidiReactor {
     public:
      explicit Reactor(bool refuse) : refuse_(refuse) { StartRead(&message_); }
      void OnReadDone(bool ok) override {
        if (refuse_) {
          Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no"));
        } else if (ok) {
          StartWriteAndFinish(&message_, grpc::WriteOptions(),
                              grpc::Status::OK);
        } else {
          Finish(grpc::Status::OK);
        }
      }
      void OnDone() override { delete this; }

     private:
      const bool refuse_;
      grpc::ByteBuffer message_;
    };
    return new Reactor(context->method() == "/test.Echo/Refuse");
  }
};

double Value(const prometheus::Registry& registry, const std::string& name,
             const prometheus::Labels& want) {
  for (const prometheus::MetricFamily& f : registry.Collect()) {
    if (f.name != name) continue;
    for (const prometheus::ClientMetric& m : f.metric) {
      prometheus::Labels have;
      for (const auto& label : m.label) have[label.name] = label.value;
      bool match = true;
      for (const auto& [k, v] : want) match = match && have[k] == v;
      if (!match) continue;
      return f.type == prometheus::MetricType::Histogram
                 ? static_cast<double>(m.histogram.sample_count)
                 : m.counter.value;
    }
  }
  return -1;
}

size_t SeriesOf(const prometheus::Registry& registry, const std::string& name) {
  for (const prometheus::MetricFamily& f : registry.Collect()) {
    if (f.name == name) return f.metric.size();
  }
  return 0;
}

grpc::Status Call(grpc::GenericStub& stub, const std::string& method) {
  grpc::ClientContext context;
  grpc::Slice payload("ping");
  grpc::ByteBuffer request(&payload, 1), response;
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  return status;
}

TEST(GrpcServerMetricsTest, CountsNamedMethodsAndBoundsUnknownOnes) {
  prometheus::Registry registry;
  GrpcServerMetrics metrics(registry,
                            {{"/test.Echo/Ping", Type::UNARY},
                             {"/test.Echo/Refuse", Type::UNARY},
                             {"/test.Echo/Watch", Type::SERVER_STREAMING}});
  // Every named method has its series from the start, at zero.
  const prometheus::Labels check = {{"grpc_service", "test.Echo"},
                                    {"grpc_method", "Ping"},
                                    {"grpc_type", "unary"}};
  EXPECT_EQ(Value(registry, "grpc_server_started_total", check), 0);
  EXPECT_EQ(SeriesOf(registry, "grpc_server_started_total"), 3u);
  // Every status code of every named method, at zero from the start.
  EXPECT_EQ(SeriesOf(registry, "grpc_server_handled_total"),
            3u * kGrpcStatusCodes);
  prometheus::Labels refused = {{"grpc_service", "test.Echo"},
                                {"grpc_method", "Refuse"},
                                {"grpc_code", "InvalidArgument"}};
  EXPECT_EQ(Value(registry, "grpc_server_handled_total", refused), 0);

  EchoService echo;
  grpc::ServerBuilder builder;
  builder.RegisterCallbackGenericService(&echo);
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(metrics.InterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  grpc::GenericStub stub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));

  ASSERT_TRUE(Call(stub, "/test.Echo/Ping").ok());
  ASSERT_TRUE(Call(stub, "/test.Echo/Ping").ok());
  EXPECT_EQ(Value(registry, "grpc_server_started_total", check), 2);
  prometheus::Labels ok = check;
  ok["grpc_code"] = "OK";
  EXPECT_EQ(Value(registry, "grpc_server_handled_total", ok), 2);
  EXPECT_EQ(Value(registry, "grpc_server_msg_received_total", check), 2);
  EXPECT_EQ(Value(registry, "grpc_server_msg_sent_total", check), 2);
  EXPECT_EQ(Value(registry, "grpc_server_handling_seconds", check), 2);

  EXPECT_EQ(Call(stub, "/test.Echo/Refuse").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Value(registry, "grpc_server_handled_total", refused), 1);
  refused["grpc_code"] = "OK";
  EXPECT_EQ(Value(registry, "grpc_server_handled_total", refused), 0);

  // A hundred made-up method names reach the server's generic service, and
  // the label set grows by one series (unknown, as the generic service's
  // bidi_stream type), not by a hundred.
  const size_t series = SeriesOf(registry, "grpc_server_started_total");
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(Call(stub, "/made.Up/Method" + std::to_string(i)).ok());
  }
  EXPECT_EQ(SeriesOf(registry, "grpc_server_started_total"), series + 1);
  EXPECT_EQ(SeriesOf(registry, "grpc_server_handled_total"),
            3u * kGrpcStatusCodes + 1);
  const prometheus::Labels unknown = {{"grpc_service", "unknown"},
                                      {"grpc_method", "unknown"},
                                      {"grpc_type", "bidi_stream"}};
  EXPECT_EQ(Value(registry, "grpc_server_started_total", unknown), 100);
  prometheus::Labels unknown_ok = unknown;
  unknown_ok["grpc_code"] = "OK";
  EXPECT_EQ(Value(registry, "grpc_server_handled_total", unknown_ok), 100);
  server->Shutdown();
}

}  // namespace
}  // namespace snaptun::metrics
