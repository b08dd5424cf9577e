// The interceptor: one per call, created when the call starts; it counts at
// the hook points and observes the handling time when the status is sent.
#include "metrics/grpc_server_metrics.h"

#include <google/protobuf/descriptor.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace snaptun::metrics {
namespace {

using Hook = grpc::experimental::InterceptionHookPoints;
using Type = grpc::experimental::ServerRpcInfo::Type;

// Code names as go-grpc-prometheus writes them (codes.Code.String()).
constexpr const char* kCodeNames[kGrpcStatusCodes] = {"OK",
                                                      "Canceled",
                                                      "Unknown",
                                                      "InvalidArgument",
                                                      "DeadlineExceeded",
                                                      "NotFound",
                                                      "AlreadyExists",
                                                      "PermissionDenied",
                                                      "ResourceExhausted",
                                                      "FailedPrecondition",
                                                      "Aborted",
                                                      "OutOfRange",
                                                      "Unimplemented",
                                                      "Internal",
                                                      "Unavailable",
                                                      "DataLoss",
                                                      "Unauthenticated"};

// prometheus.DefBuckets, as go-grpc-prometheus uses them.
const prometheus::Histogram::BucketBoundaries kHandlingBuckets = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

const char* TypeName(Type type) {
  switch (type) {
    case Type::UNARY:
      return "unary";
    case Type::CLIENT_STREAMING:
      return "client_stream";
    case Type::SERVER_STREAMING:
      return "server_stream";
    case Type::BIDI_STREAMING:
      return "bidi_stream";
  }
  return "unary";
}

prometheus::Labels LabelsOf(absl::string_view path, Type type) {
  // "/package.Service/Method"
  absl::string_view service = "unknown", method = "unknown";
  if (absl::StartsWith(path, "/")) {
    const size_t slash = path.find('/', 1);
    if (slash != absl::string_view::npos) {
      service = path.substr(1, slash - 1);
      method = path.substr(slash + 1);
    }
  }
  return {{"grpc_service", std::string(service)},
          {"grpc_method", std::string(method)},
          {"grpc_type", TypeName(type)}};
}

}  // namespace

class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(GrpcServerMetrics& metrics,
                     GrpcServerMetrics::Method& method)
      : metrics_(metrics), method_(method), started_(absl::Now()) {
    method_.started->Increment();
  }

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(Hook::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() != nullptr) {
      method_.received->Increment();
    }
    if (methods->QueryInterceptionHookPoint(Hook::PRE_SEND_MESSAGE)) {
      method_.sent->Increment();
    }
    if (methods->QueryInterceptionHookPoint(Hook::PRE_SEND_STATUS)) {
      metrics_.Handled(method_, methods->GetSendStatus().error_code());
      method_.handling->Observe(absl::ToDoubleSeconds(absl::Now() - started_));
    }
    methods->Proceed();
  }

 private:
  GrpcServerMetrics& metrics_;
  GrpcServerMetrics::Method& method_;
  const absl::Time started_;
};

class MetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(GrpcServerMetrics& metrics)
      : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(metrics_,
                                  metrics_.Find(info->method(), info->type()));
  }

 private:
  GrpcServerMetrics& metrics_;
};

std::vector<GrpcMethod> MethodsOf(const std::vector<std::string>& services) {
  std::vector<GrpcMethod> out;
  const google::protobuf::DescriptorPool* pool =
      google::protobuf::DescriptorPool::generated_pool();
  for (const std::string& name : services) {
    const google::protobuf::ServiceDescriptor* service =
        pool->FindServiceByName(name);
    if (service == nullptr) continue;
    for (int i = 0; i < service->method_count(); ++i) {
      const google::protobuf::MethodDescriptor* m = service->method(i);
      const Type type =
          m->client_streaming()
              ? (m->server_streaming() ? Type::BIDI_STREAMING
                                       : Type::CLIENT_STREAMING)
              : (m->server_streaming() ? Type::SERVER_STREAMING : Type::UNARY);
      out.push_back({absl::StrCat("/", name, "/", m->name()), type});
    }
  }
  return out;
}

GrpcServerMetrics::GrpcServerMetrics(prometheus::Registry& registry,
                                     const std::vector<GrpcMethod>& methods)
    : started_(prometheus::BuildCounter()
                   .Name("grpc_server_started_total")
                   .Help("Total number of RPCs started on the server.")
                   .Register(registry)),
      handled_(prometheus::BuildCounter()
                   .Name("grpc_server_handled_total")
                   .Help("Total number of RPCs completed on the server, "
                         "regardless of success or failure.")
                   .Register(registry)),
      handling_(prometheus::BuildHistogram()
                    .Name("grpc_server_handling_seconds")
                    .Help("Histogram of response latency (seconds) of gRPC "
                          "that had been application-level handled by the "
                          "server; for streams, the stream's whole life.")
                    .Register(registry)),
      received_(prometheus::BuildCounter()
                    .Name("grpc_server_msg_received_total")
                    .Help("Total number of RPC stream messages received on "
                          "the server.")
                    .Register(registry)),
      sent_(prometheus::BuildCounter()
                .Name("grpc_server_msg_sent_total")
                .Help("Total number of gRPC stream messages sent by the "
                      "server.")
                .Register(registry)) {
  for (const GrpcMethod& method : methods) Add(method.path, method.type);
  for (Type type : {Type::UNARY, Type::CLIENT_STREAMING, Type::SERVER_STREAMING,
                    Type::BIDI_STREAMING}) {
    unknown_[static_cast<size_t>(type)] = std::make_unique<Method>();
  }
}

GrpcServerMetrics::Method& GrpcServerMetrics::Add(const std::string& path,
                                                  Type type) {
  std::unique_ptr<Method>& slot = methods_[path];
  if (slot == nullptr) slot = std::make_unique<Method>();
  Method& m = *slot;
  m.labels = LabelsOf(path, type);
  m.started = &started_.Add(m.labels);
  m.received = &received_.Add(m.labels);
  m.sent = &sent_.Add(m.labels);
  m.handling = &handling_.Add(m.labels, kHandlingBuckets);
  for (size_t code = 0; code < kGrpcStatusCodes; ++code) {
    prometheus::Labels labels = m.labels;
    labels["grpc_code"] = kCodeNames[code];
    m.handled[code].store(&handled_.Add(labels));
  }
  return m;
}

GrpcServerMetrics::Method& GrpcServerMetrics::Find(const char* path,
                                                   Type type) {
  if (path != nullptr) {
    auto it = methods_.find(absl::string_view(path));
    if (it != methods_.end()) return *it->second;
  }
  const size_t t = static_cast<size_t>(type);
  Method& m = *unknown_[t];
  // Series of unknown methods are made on first use: a daemon that never
  // sees one exports none.
  absl::call_once(unknown_once_[t], [&] {
    m.labels = LabelsOf("", type);
    m.started = &started_.Add(m.labels);
    m.received = &received_.Add(m.labels);
    m.sent = &sent_.Add(m.labels);
    m.handling = &handling_.Add(m.labels, kHandlingBuckets);
  });
  return m;
}

void GrpcServerMetrics::Handled(Method& method, grpc::StatusCode code) {
  const size_t i = static_cast<size_t>(code) < method.handled.size()
                       ? static_cast<size_t>(code)
                       : static_cast<size_t>(grpc::StatusCode::UNKNOWN);
  prometheus::Counter* counter = method.handled[i].load();
  if (counter == nullptr) {
    prometheus::Labels labels = method.labels;
    labels["grpc_code"] = kCodeNames[i];
    counter = &handled_.Add(labels);
    method.handled[i].store(counter);
  }
  counter->Increment();
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
GrpcServerMetrics::InterceptorFactory() {
  return std::make_unique<MetricsInterceptorFactory>(*this);
}

}  // namespace snaptun::metrics
