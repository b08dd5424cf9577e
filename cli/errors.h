// How snaptunctl reports a failed call: the gRPC code by name, the message,
// and the AIP-193 reason from the status details, e.g.
//   error: NOT_FOUND: no tunnel x (reason TUNNEL_NOT_FOUND)
#ifndef SNAPTUN_CLI_ERRORS_H_
#define SNAPTUN_CLI_ERRORS_H_

#include <grpcpp/grpcpp.h>

#include <string>

namespace snaptun::cli {

// "NOT_FOUND" for grpc::NOT_FOUND.
std::string CodeName(grpc::StatusCode code);
// The ErrorInfo reason in `status`'s details; empty when there is none.
std::string ReasonOf(const grpc::Status& status);
// The line printed for a failed call.
std::string Describe(const grpc::Status& status);

}  // namespace snaptun::cli

#endif  // SNAPTUN_CLI_ERRORS_H_
