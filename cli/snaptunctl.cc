// snaptunctl: the command-line client of snaptund.
//
//   keygen [--out FILE] | pubkey [FILE] | open | close ID | get ID | list |
//   watch | authorize KEY | revoke KEY | identities | gateway-info |
//   send ID | recv ID | bench | version | completion bash
//
// Keys are base64 (as `wg genkey` writes them). Tables by default,
// --output=json for scripts (a list is one JSON object). The command and
// every flag value are checked before anything is sent. Exit status: 0 ok,
// 1 the call failed (printed as `error: CODE: message (reason REASON)`), 2
// bad usage.
#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <initializer_list>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cli/api_client.h"
#include "cli/bench.h"
#include "cli/completion.h"
#include "cli/errors.h"
#include "cli/output.h"
#include "service/secrets/secret_files.h"
#include "tunnel/core/identity.h"
#include "tunnel/crypto/key_text.h"
#include "tunnel/crypto/random.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051", "snaptund's gRPC address");
ABSL_FLAG(std::string, tls_ca_file, "", "PEM CA of the server: use TLS");
ABSL_FLAG(std::string, tls_cert_file, "", "client certificate (mTLS)");
ABSL_FLAG(std::string, tls_key_file, "", "client key (mTLS, 0600)");
ABSL_FLAG(std::string, tls_server_name, "", "expected server name (TLS)");
ABSL_FLAG(std::string, token_file, "", "API bearer token file (0600)");
ABSL_FLAG(std::string, output, "table", "table or json");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(30), "deadline of a call");
ABSL_FLAG(std::string, out, "", "keygen: write the key to this file (0600)");
ABSL_FLAG(std::string, id, "", "open: tunnel id; watch: only this tunnel");
ABSL_FLAG(std::string, peer, "", "open/bench: the data plane's public key");
ABSL_FLAG(std::string, data_plane, "", "open/bench: the data plane ip:port");
ABSL_FLAG(std::string, mode, "snap", "open: snap or wireguard");
ABSL_FLAG(std::string, control_plane_url, "",
          "open: register with this SNAP control plane (and discover the "
          "data plane when --peer and --data_plane are not given)");
ABSL_FLAG(absl::Duration, connect_timeout, absl::Seconds(10),
          "open: handshake deadline");
ABSL_FLAG(int, keepalive, 10, "open: persistent keepalive seconds (0 = off)");
ABSL_FLAG(std::vector<std::string>, label, {}, "labels k=v (repeatable)");
ABSL_FLAG(std::string, role, "", "list: client or gateway");
ABSL_FLAG(std::string, state, "", "list: connecting, established, ...");
ABSL_FLAG(bool, include_existing, true, "watch: start with existing tunnels");
ABSL_FLAG(absl::Duration, ttl, absl::ZeroDuration(),
          "authorize: grant lifetime (0 = no expiry)");
ABSL_FLAG(int, count, 1, "recv: packets to receive");
ABSL_FLAG(std::string, format, "lines", "send/recv: lines, raw or hex");
ABSL_FLAG(int, tunnels, 8, "bench: tunnels");
ABSL_FLAG(int, rate, 1000, "bench: packets per second per tunnel (0 = max)");
ABSL_FLAG(int, size, 1000, "bench: payload bytes");
ABSL_FLAG(int, window, 0,
          "bench: packets in flight per tunnel before the sender waits for "
          "echoes (0 = no limit)");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5), "bench: duration");
ABSL_FLAG(std::string, metrics_address, "",
          "bench: the daemon's metrics host:port; adds the loss balance sheet");
ABSL_FLAG(bool, takeover, false,
          "send/recv: take the tunnel over from a stream already attached");

namespace snaptun::cli {
namespace {

bool Json() { return absl::GetFlag(FLAGS_output) == "json"; }

constexpr char kVersion[] = "snaptunctl 0.1.0 (snaptun.v1)";

int Fail(const grpc::Status& status) {
  std::cerr << "error: " << Describe(status) << "\n";
  return 1;
}

int Usage(const std::string& message) {
  std::cerr << "snaptunctl: " << message << " (--help lists the flags)\n";
  return 2;
}

bool DecodeKey(const std::string& text, std::string& out) {
  return absl::Base64Unescape(text, &out) && out.size() == 32;
}

void PrintTunnel(const v1::Tunnel& t) {
  std::cout << (Json() ? ToJson(t) + "\n" : TunnelTable({&t}));
}

// Labels from --label=k=v (checked by FlagProblem).
google::protobuf::Map<std::string, std::string> Labels() {
  google::protobuf::Map<std::string, std::string> labels;
  for (const std::string& kv : absl::GetFlag(FLAGS_label)) {
    std::vector<std::string> parts =
        absl::StrSplit(kv, absl::MaxSplits('=', 1));
    if (parts.size() == 2) labels[parts[0]] = parts[1];
  }
  return labels;
}

bool OneOf(const std::string& value, std::initializer_list<const char*> set) {
  for (const char* allowed : set) {
    if (value == allowed) return true;
  }
  return false;
}

// What is wrong with the flags, or empty: nonsense is refused before any
// call, rather than quietly replaced by a default.
std::string FlagProblem() {
  if (!OneOf(absl::GetFlag(FLAGS_mode), {"snap", "wireguard"})) {
    return "--mode must be snap or wireguard";
  }
  if (!OneOf(absl::GetFlag(FLAGS_role), {"", "client", "gateway"})) {
    return "--role must be client or gateway";
  }
  if (!OneOf(absl::GetFlag(FLAGS_output), {"table", "json"})) {
    return "--output must be table or json";
  }
  if (!OneOf(absl::GetFlag(FLAGS_format), {"lines", "raw", "hex"})) {
    return "--format must be lines, raw or hex";
  }
  for (const std::string& kv : absl::GetFlag(FLAGS_label)) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return "--label must be key=value, got \"" + kv + "\"";
    }
  }
  if (absl::GetFlag(FLAGS_ttl) < absl::ZeroDuration()) {
    return "--ttl must be positive (leave it unset for no expiry)";
  }
  if (absl::GetFlag(FLAGS_timeout) <= absl::ZeroDuration() ||
      absl::GetFlag(FLAGS_connect_timeout) <= absl::ZeroDuration()) {
    return "--timeout and --connect_timeout must be positive";
  }
  if (absl::GetFlag(FLAGS_count) <= 0 || absl::GetFlag(FLAGS_tunnels) <= 0 ||
      absl::GetFlag(FLAGS_rate) < 0 || absl::GetFlag(FLAGS_size) <= 0 ||
      absl::GetFlag(FLAGS_window) < 0 || absl::GetFlag(FLAGS_keepalive) < 0) {
    return "--count, --tunnels and --size must be positive, --rate, "
           "--window and --keepalive not negative";
  }
  return "";
}

int Identities(ApiClient& client) {
  v1::ListIdentitiesRequest request;
  v1::ListIdentitiesResponse all;
  do {
    v1::ListIdentitiesResponse page;
    auto context = client.Context(absl::GetFlag(FLAGS_timeout));
    grpc::Status status =
        client.gateway().ListIdentities(context.get(), request, &page);
    if (!status.ok()) return Fail(status);
    for (const v1::Identity& i : page.identities()) *all.add_identities() = i;
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  if (Json()) {
    std::cout << ToJson(all) << "\n";
    return 0;
  }
  std::vector<const v1::Identity*> rows;
  for (const v1::Identity& i : all.identities()) rows.push_back(&i);
  std::cout << IdentityTable(rows);
  return 0;
}

int GatewayInfo(ApiClient& client) {
  v1::GetGatewayInfoResponse info;
  auto context = client.Context(absl::GetFlag(FLAGS_timeout));
  grpc::Status status =
      client.gateway().GetGatewayInfo(context.get(), {}, &info);
  if (!status.ok()) return Fail(status);
  std::cout << (Json() ? ToJson(info) + "\n" : GatewayInfoTable(info));
  return 0;
}

int Keygen() {
  crypto::PrivateKey key;
  crypto::SystemRandom().Fill(absl::MakeSpan(key.data(), 32));
  std::string text = crypto::EncodeKey(key.data()) + "\n";
  const std::string path = absl::GetFlag(FLAGS_out);
  if (path.empty()) {
    std::cout << text;
  } else {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || write(fd, text.data(), text.size()) < 0) {
      std::cerr << "cannot create " << path << "\n";
      return 1;
    }
    close(fd);
    const core::LocalIdentity identity(key);
    std::cout << crypto::EncodeKey(identity.public_key().data()) << "\n";
  }
  crypto::SecureZero(text.data(), text.size());
  return 0;
}

int Pubkey(const std::vector<char*>& args) {
  std::string text;
  if (args.size() > 2) {
    absl::StatusOr<std::string> file = service::ReadSecretFile(args[2]);
    if (!file.ok()) return Usage(std::string(file.status().message()));
    text = *file;
  } else {
    std::getline(std::cin, text);
  }
  absl::StatusOr<crypto::PrivateKey> key =
      crypto::DecodePrivateKey(std::string(absl::StripAsciiWhitespace(text)));
  crypto::SecureZero(text.data(), text.size());
  if (!key.ok()) return Usage(std::string(key.status().message()));
  const core::LocalIdentity identity(*key);
  std::cout << crypto::EncodeKey(identity.public_key().data()) << "\n";
  return 0;
}

int Open(ApiClient& client) {
  v1::OpenTunnelRequest request;
  std::string peer;
  const std::string control_plane = absl::GetFlag(FLAGS_control_plane_url);
  const bool discover =
      !control_plane.empty() && absl::GetFlag(FLAGS_peer).empty();
  if (!discover && !DecodeKey(absl::GetFlag(FLAGS_peer), peer)) {
    return Usage("--peer must be a base64 public key");
  }
  request.set_control_plane_url(control_plane);
  request.set_tunnel_id(absl::GetFlag(FLAGS_id));
  request.set_peer_public_key(peer);
  request.set_data_plane_address(absl::GetFlag(FLAGS_data_plane));
  request.set_mode(absl::GetFlag(FLAGS_mode) == "wireguard" ? v1::MODE_WIREGUARD
                                                            : v1::MODE_SNAP);
  const absl::Duration timeout = absl::GetFlag(FLAGS_connect_timeout);
  request.mutable_connect_timeout()->set_seconds(absl::ToInt64Seconds(timeout));
  request.mutable_connect_timeout()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(timeout) % 1000000000));
  request.set_persistent_keepalive_seconds(absl::GetFlag(FLAGS_keepalive));
  *request.mutable_labels() = Labels();
  std::cerr << "opening a tunnel to "
            << (discover ? "the discovered data plane"
                         : request.data_plane_address())
            << " ...\n";
  v1::Tunnel tunnel;
  auto context = client.Context(timeout + absl::Seconds(5));
  grpc::Status status =
      client.tunnels().OpenTunnel(context.get(), request, &tunnel);
  if (!status.ok()) return Fail(status);
  PrintTunnel(tunnel);
  return 0;
}

int List(ApiClient& client) {
  v1::ListTunnelsRequest request;
  const std::string role = absl::GetFlag(FLAGS_role);
  if (role == "client") request.set_role(v1::ROLE_CLIENT);
  if (role == "gateway") request.set_role(v1::ROLE_GATEWAY);
  const std::string state = absl::GetFlag(FLAGS_state);
  if (!state.empty()) {
    v1::TunnelState s;
    std::string upper = "TUNNEL_STATE_" + state;
    for (char& c : upper) c = static_cast<char>(std::toupper(c));
    if (!v1::TunnelState_Parse(upper, &s) ||
        s == v1::TUNNEL_STATE_UNSPECIFIED) {
      return Usage(
          "--state must be connecting, established, reconnecting or "
          "closed");
    }
    request.set_state(s);
  }
  *request.mutable_labels() = Labels();
  v1::ListTunnelsResponse all;
  do {
    v1::ListTunnelsResponse response;
    auto context = client.Context(absl::GetFlag(FLAGS_timeout));
    grpc::Status status =
        client.tunnels().ListTunnels(context.get(), request, &response);
    if (!status.ok()) return Fail(status);
    for (const v1::Tunnel& t : response.tunnels()) *all.add_tunnels() = t;
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  if (Json()) {  // One object for the whole list: {"tunnels": [...]}.
    std::cout << ToJson(all) << "\n";
    return 0;
  }
  std::vector<const v1::Tunnel*> rows;
  for (const v1::Tunnel& t : all.tunnels()) rows.push_back(&t);
  std::cout << TunnelTable(rows);
  return 0;
}

int Watch(ApiClient& client) {
  v1::WatchTunnelsRequest request;
  request.set_tunnel_id(absl::GetFlag(FLAGS_id));
  request.set_include_existing(absl::GetFlag(FLAGS_include_existing));
  *request.mutable_labels() = Labels();
  auto context = client.Context(absl::ZeroDuration());
  auto reader = client.tunnels().WatchTunnels(context.get(), request);
  v1::TunnelEvent event;
  while (reader->Read(&event)) {
    if (Json()) {
      std::cout << ToJson(event) << std::endl;
    } else {
      std::cout << v1::TunnelEvent::Type_Name(event.type()) << " "
                << event.tunnel_id() << " " << event.tunnel().remote_address()
                << (event.reason().empty() ? "" : " (" + event.reason() + ")")
                << std::endl;
    }
  }
  return Fail(reader->Finish());
}

int Authorize(ApiClient& client, const std::vector<char*>& args) {
  std::string key;
  if (args.size() < 3 || !DecodeKey(args[2], key)) {
    return Usage("authorize needs a base64 public key");
  }
  v1::AuthorizeIdentityRequest request;
  request.set_public_key(key);
  const absl::Duration ttl = absl::GetFlag(FLAGS_ttl);
  if (ttl > absl::ZeroDuration()) {
    request.mutable_ttl()->set_seconds(absl::ToInt64Seconds(ttl));
  }
  *request.mutable_labels() = Labels();
  v1::AuthorizeIdentityResponse response;
  auto context = client.Context(absl::GetFlag(FLAGS_timeout));
  grpc::Status status =
      client.gateway().AuthorizeIdentity(context.get(), request, &response);
  if (!status.ok()) return Fail(status);
  std::cout << (Json() ? ToJson(response.identity()) + "\n"
                       : IdentityTable({&response.identity()}));
  return 0;
}

int Revoke(ApiClient& client, const std::vector<char*>& args) {
  std::string key;
  if (args.size() < 3 || !DecodeKey(args[2], key)) {
    return Usage("revoke needs a base64 public key");
  }
  v1::RevokeIdentityRequest request;
  request.set_public_key(key);
  v1::RevokeIdentityResponse response;
  auto context = client.Context(absl::GetFlag(FLAGS_timeout));
  grpc::Status status =
      client.gateway().RevokeIdentity(context.get(), request, &response);
  if (!status.ok()) return Fail(status);
  std::cout << (Json() ? ToJson(response) + "\n"
                       : "revoked; tunnels closed: " +
                             std::to_string(response.tunnels_closed()) + "\n");
  return 0;
}

int Send(ApiClient& client, const std::string& id) {
  auto context = client.Context(absl::ZeroDuration());
  auto stream = client.tunnels().StreamPackets(context.get());
  v1::PacketBatch batch;
  batch.set_tunnel_id(id);
  batch.set_takeover(absl::GetFlag(FLAGS_takeover));
  const std::string format = absl::GetFlag(FLAGS_format);
  size_t count = 0;
  if (format == "raw") {
    std::stringstream all;
    all << std::cin.rdbuf();
    batch.add_packets(all.str());
    count = 1;
  } else {
    for (std::string line; std::getline(std::cin, line);) {
      std::string packet = line;
      if (format == "hex") packet = absl::HexStringToBytes(line);
      batch.add_packets(packet);
      ++count;
    }
  }
  stream->Write(batch);
  stream->WritesDone();
  grpc::Status status = stream->Finish();
  if (!status.ok()) return Fail(status);
  std::cerr << "sent " << count << " packets into " << id << "\n";
  return 0;
}

int Recv(ApiClient& client, const std::string& id) {
  auto context = client.Context(absl::GetFlag(FLAGS_timeout));
  auto stream = client.tunnels().StreamPackets(context.get());
  v1::PacketBatch first;
  first.set_tunnel_id(id);
  first.set_takeover(absl::GetFlag(FLAGS_takeover));
  stream->Write(first);
  const int want = absl::GetFlag(FLAGS_count);
  const std::string format = absl::GetFlag(FLAGS_format);
  int got = 0;
  v1::PacketBatch batch;
  while (got < want && stream->Read(&batch)) {
    for (const std::string& p : batch.packets()) {
      if (got == want) break;
      std::cout << (format == "hex" ? absl::BytesToHexString(p) : p)
                << (format == "raw" ? "" : "\n");
      ++got;
    }
  }
  std::cout.flush();
  context->TryCancel();
  const grpc::Status status = stream->Finish();
  if (got == want) return 0;
  if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
    return Fail(status);
  }
  std::cerr << "error: received " << got << " of " << want << " packets\n";
  return 1;
}

int Bench(ApiClient& client) {
  BenchOptions bench;
  if (!DecodeKey(absl::GetFlag(FLAGS_peer), bench.peer_public_key)) {
    return Usage("--peer must be a base64 public key");
  }
  bench.data_plane = absl::GetFlag(FLAGS_data_plane);
  bench.tunnels = absl::GetFlag(FLAGS_tunnels);
  bench.rate = absl::GetFlag(FLAGS_rate);
  bench.size = absl::GetFlag(FLAGS_size);
  bench.window = absl::GetFlag(FLAGS_window);
  bench.duration = absl::GetFlag(FLAGS_duration);
  bench.json = Json();
  bench.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  return RunBench(client, bench);
}

// close and get: both print the tunnel as it is (or closed).
int CloseOrGet(ApiClient& client, const std::string& command,
               const std::string& id) {
  v1::Tunnel tunnel;
  auto context = client.Context(absl::GetFlag(FLAGS_timeout));
  grpc::Status status;
  if (command == "close") {
    v1::CloseTunnelRequest request;
    request.set_tunnel_id(id);
    v1::CloseTunnelResponse response;
    status = client.tunnels().CloseTunnel(context.get(), request, &response);
    tunnel = response.tunnel();
  } else {
    v1::GetTunnelRequest request;
    request.set_tunnel_id(id);
    status = client.tunnels().GetTunnel(context.get(), request, &tunnel);
  }
  if (!status.ok()) return Fail(status);
  PrintTunnel(tunnel);
  return 0;
}

// The commands that talk to a daemon.
int RunOnDaemon(const std::string& command, const std::vector<char*>& args) {
  ConnectionOptions options;
  options.server = absl::GetFlag(FLAGS_server);
  options.tls_ca_file = absl::GetFlag(FLAGS_tls_ca_file);
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_key_file);
  options.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  options.token_file = absl::GetFlag(FLAGS_token_file);
  absl::StatusOr<ApiClient> client = ApiClient::Connect(options);
  if (!client.ok()) return Usage(std::string(client.status().message()));
  const std::string id = args.size() > 2 ? args[2] : "";
  if (command == "open") return Open(*client);
  if (command == "list") return List(*client);
  if (command == "watch") return Watch(*client);
  if (command == "authorize") return Authorize(*client, args);
  if (command == "revoke") return Revoke(*client, args);
  if (command == "identities") return Identities(*client);
  if (command == "gateway-info") return GatewayInfo(*client);
  if (command == "bench") return Bench(*client);
  if (id.empty()) return Usage(command + " needs a tunnel id");
  if (command == "send") return Send(*client, id);
  if (command == "recv") return Recv(*client, id);
  if (command == "close" || command == "get") {
    return CloseOrGet(*client, command, id);
  }
  return Usage("unknown command " + command);
}

}  // namespace
}  // namespace snaptun::cli

int main(int argc, char** argv) {
  using namespace snaptun::cli;
  absl::SetProgramUsageMessage(
      "snaptunctl COMMAND [ARGS] [FLAGS]\n"
      "commands: keygen pubkey open close get list watch authorize revoke "
      "identities gateway-info send recv bench version completion");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() < 2) return Usage("no command");
  const std::string command = args[1];
  static const std::set<std::string> kCommands = {
      "keygen", "pubkey",    "open",    "close",      "get",          "list",
      "watch",  "authorize", "revoke",  "identities", "gateway-info", "send",
      "recv",   "bench",     "version", "completion"};
  if (!kCommands.contains(command)) return Usage("unknown command " + command);
  if (const std::string problem = FlagProblem(); !problem.empty()) {
    return Usage(problem);
  }
  if (command == "version") {
    std::cout << kVersion << "\n";
    return 0;
  }
  if (command == "completion") {
    if (args.size() < 3 || std::string(args[2]) != "bash") {
      return Usage("completion needs a shell: completion bash");
    }
    std::cout << kBashCompletion;
    return 0;
  }
  static const std::set<std::string> kNeedId = {"close", "get", "send", "recv"};
  if (kNeedId.contains(command) && args.size() < 3) {
    return Usage(command + " needs a tunnel id");
  }
  if (command == "keygen") return Keygen();
  if (command == "pubkey") return Pubkey(args);
  return RunOnDaemon(command, args);
}
