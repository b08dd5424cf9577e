"""Drives a running snaptund with Debian's Python grpcio and stubs generated
from the project's proto (not from this project's C++): reads the tunnel the
shell test opened, checks error codes, the health and reflection services,
and pushes a packet into the tunnel through StreamPackets.

usage: api_client.py STUBS_DIR ADDRESS TOKEN TUNNEL_ID
"""
import sys

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
from snaptun.v1 import snaptun_pb2, snaptun_pb2_grpc  # noqa: E402

address, token, tunnel_id = sys.argv[2], sys.argv[3], sys.argv[4]
channel = grpc.insecure_channel(address)
grpc.channel_ready_future(channel).result(timeout=10)
auth = [("authorization", "Bearer " + token)]
tunnels = snaptun_pb2_grpc.TunnelServiceStub(channel)


def expect_code(call, code):
    try:
        call()
    except grpc.RpcError as error:
        assert error.code() == code, (error.code(), error.details())
        return error
    raise AssertionError(f"expected {code}")


tunnel = tunnels.GetTunnel(
    snaptun_pb2.GetTunnelRequest(tunnel_id=tunnel_id), metadata=auth)
assert tunnel.state == snaptun_pb2.ESTABLISHED, tunnel
assert tunnel.role == snaptun_pb2.ROLE_CLIENT
assert tunnel.local_address, tunnel
print("GetTunnel:", tunnel.tunnel_id, "established, local", tunnel.local_address)

listed = tunnels.ListTunnels(snaptun_pb2.ListTunnelsRequest(), metadata=auth)
assert [t.tunnel_id for t in listed.tunnels] == [tunnel_id], listed

expect_code(lambda: tunnels.GetTunnel(
    snaptun_pb2.GetTunnelRequest(tunnel_id="missing"), metadata=auth),
    grpc.StatusCode.NOT_FOUND)
expect_code(lambda: tunnels.OpenTunnel(snaptun_pb2.OpenTunnelRequest(
    peer_public_key=b"short", data_plane_address="127.0.0.1:1"),
    metadata=auth), grpc.StatusCode.INVALID_ARGUMENT)
expect_code(lambda: tunnels.ListTunnels(snaptun_pb2.ListTunnelsRequest()),
            grpc.StatusCode.UNAUTHENTICATED)
expect_code(lambda: tunnels.ListTunnels(
    snaptun_pb2.ListTunnelsRequest(),
    metadata=[("authorization", "Bearer nope")]),
    grpc.StatusCode.PERMISSION_DENIED)
print("error codes: NOT_FOUND, INVALID_ARGUMENT, UNAUTHENTICATED, "
      "PERMISSION_DENIED as expected")

# grpc.health.v1.Health/Check with an empty request: SERVING is field 1 = 1.
health = channel.unary_unary("/grpc.health.v1.Health/Check",
                             request_serializer=lambda m: m,
                             response_deserializer=lambda m: m)
assert health(b"", timeout=5) == b"\x08\x01"
print("health: SERVING")

# Server reflection: list_services (field 7) = "".
reflection = channel.stream_stream(
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    request_serializer=lambda m: m, response_deserializer=lambda m: m)
reply = next(iter(reflection(iter([b"\x3a\x00"]), timeout=5)))
assert b"snaptun.v1.TunnelService" in reply, reply
assert b"snaptun.v1.GatewayService" in reply, reply
print("reflection lists snaptun.v1.TunnelService and GatewayService")

stream = tunnels.StreamPackets(
    iter([snaptun_pb2.PacketBatch(tunnel_id=tunnel_id,
                                  packets=[b"from python"])]),
    metadata=auth)
for _ in stream:
    pass
print("StreamPackets: sent one packet from python")
