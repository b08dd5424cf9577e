// The gRPC API's metrics in the convention gRPC users know from
// go-grpc-prometheus, produced by a server interceptor so no handler counts
// anything itself:
//   grpc_server_started_total            RPCs started
//   grpc_server_handled_total            RPCs finished, with grpc_code
//   grpc_server_handling_seconds         time from start to status (histogram)
//   grpc_server_msg_received_total       messages read from the caller
//   grpc_server_msg_sent_total           messages written to the caller
// each labelled grpc_service, grpc_method and grpc_type (unary,
// client_stream, server_stream, bidi_stream).
//
// The label set is bounded: series exist for the methods named at
// construction, every status code included, all at zero from the start (as
// go-grpc-prometheus's InitializeMetrics makes them), so the first error of
// a kind is a visible increase; a call to any other method name is counted
// under grpc_service="unknown", grpc_method="unknown". The
// interceptor finds its method's series once per call, without a lock.
#ifndef SNAPTUN_METRICS_GRPC_SERVER_METRICS_H_
#define SNAPTUN_METRICS_GRPC_SERVER_METRICS_H_

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/call_once.h"
#include "absl/container/flat_hash_map.h"

namespace snaptun::metrics {

// One method as gRPC names it ("/package.Service/Method") and its type.
struct GrpcMethod {
  std::string path;
  grpc::experimental::ServerRpcInfo::Type type;
};

// Every method of these services, from the generated descriptor pool.
std::vector<GrpcMethod> MethodsOf(const std::vector<std::string>& services);

// gRPC's status codes, OK (0) to UNAUTHENTICATED (16).
inline constexpr size_t kGrpcStatusCodes = 17;

class GrpcServerMetrics {
 public:
  GrpcServerMetrics(prometheus::Registry& registry,
                    const std::vector<GrpcMethod>& methods);

  // For ServerBuilder::experimental().SetInterceptorCreators. The factory
  // refers to this object, which must outlive the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  InterceptorFactory();

 private:
  friend class MetricsInterceptor;
  friend class MetricsInterceptorFactory;

  // The series of one method.
  struct Method {
    prometheus::Labels labels;
    prometheus::Counter* started = nullptr;
    prometheus::Counter* received = nullptr;
    prometheus::Counter* sent = nullptr;
    prometheus::Histogram* handling = nullptr;
    // Per status code: made with the method's other series for a named
    // method, on the code's first use for the unknown ones.
    std::array<std::atomic<prometheus::Counter*>, kGrpcStatusCodes> handled{};
  };
  Method& Find(const char* path, grpc::experimental::ServerRpcInfo::Type type);
  void Handled(Method& method, grpc::StatusCode code);
  Method& Add(const std::string& path,
              grpc::experimental::ServerRpcInfo::Type type);

  prometheus::Family<prometheus::Counter>& started_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& handling_;
  prometheus::Family<prometheus::Counter>& received_;
  prometheus::Family<prometheus::Counter>& sent_;
  // Written only by the constructor; read by every call without a lock.
  absl::flat_hash_map<std::string, std::unique_ptr<Method>> methods_;
  // Calls to methods not named at construction, one per type.
  std::array<std::unique_ptr<Method>, 4> unknown_;
  std::array<absl::once_flag, 4> unknown_once_;
};

}  // namespace snaptun::metrics

#endif  // SNAPTUN_METRICS_GRPC_SERVER_METRICS_H_
