"""The gRPC API as an orchestrator drives it: real snaptund processes and
Debian's Python grpcio, with stubs generated here from the project's proto
(and google/rpc from npm's google-proto-files), default channel options
except where a check is about keepalive.

Checks, each against behaviour an orchestrator depends on:
  - a WatchTunnels stream with 10 s client keepalive pings survives 60 s;
  - a StreamPackets holder that hangs (SIGSTOP) is replaced by takeover
    (the old stream ends ABORTED) and, without takeover, by the server's
    keepalive noticing the hung peer;
  - a router reads a gateway tunnel's packet from StreamGatewayPackets and
    answers it by handle;
  - 300 maximum-size payloads reach a default-configured reader (4 MiB
    receive limit) with no RESOURCE_EXHAUSTED and nothing lost;
  - each documented ErrorInfo reason is provoked and read from the details;
  - GetTunnel after CloseTunnel shows CLOSED with its cause and reason.

usage: orchestrator_test.py SNAPTUND SNAPTUN_PROTO STATUS_PROTO
       orchestrator_test.py hold STUBS ADDRESS TUNNEL_ID   (helper process)
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

MAX_PAYLOAD = 65475


def generate_stubs(out, snaptun_proto, status_proto):
    jobs = [
        (snaptun_proto, "snaptun/v1/snaptun.proto"),
        (status_proto, "google/rpc/status.proto"),
        (status_proto.replace("status.proto", "error_details.proto"),
         "google/rpc/error_details.proto"),
    ]
    for path, relative in jobs:
        root = os.path.realpath(path)[: -len(relative)]
        subprocess.check_call([
            "protoc", "-I" + root, "-I/usr/include", "--python_out=" + out,
            "--grpc_out=" + out,
            "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
            os.path.join(root, relative)])
    # `google` stays a namespace package (no __init__.py), so google.rpc
    # from here and google.protobuf from Debian's python3-protobuf merge.
    for package in ["snaptun", "snaptun/v1"]:
        open(os.path.join(out, package, "__init__.py"), "a").close()


def hold(stubs, address, tunnel_id):
    """Attaches a stream to the tunnel, says so, and reads until it ends."""
    sys.path.insert(0, stubs)
    import grpc
    from snaptun.v1 import snaptun_pb2, snaptun_pb2_grpc
    stub = snaptun_pb2_grpc.TunnelServiceStub(grpc.insecure_channel(address))
    done = threading.Event()

    def requests():
        yield snaptun_pb2.PacketBatch(tunnel_id=tunnel_id)
        done.wait()

    calls = stub.StreamPackets(requests())
    print("attached", flush=True)
    try:
        for _ in calls:
            pass
        print("ended OK", flush=True)
    except grpc.RpcError as error:
        print("ended", error.code().name, reason_of(error), flush=True)
    done.set()


def reason_of(error):
    from google.rpc import error_details_pb2, status_pb2
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    assert info.domain == "snaptun.io", info
                    return info.reason
    return ""


class Daemon:
    def __init__(self, snaptund, work, name, *flags):
        self.log_path = os.path.join(work, name + ".log")
        self.key = os.path.join(work, name + ".key")
        self.process = subprocess.Popen(
            [snaptund, "--private_key_file=" + self.key,
             "--grpc_listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
             "--gateway_listen=127.0.0.1:0", *flags],
            stderr=open(self.log_path, "w"))
        deadline = time.time() + 60
        while time.time() < deadline:
            log = open(self.log_path).read()
            if "snaptund: ready" in log:
                break
            assert self.process.poll() is None, log
            time.sleep(0.1)
        log = open(self.log_path).read()
        self.address = "127.0.0.1:" + re.search(r"gRPC on port (\d+)", log)[1]
        self.gateway = re.search(r"gateway listening on (\S+) ", log)[1]

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=60) == 0


def main(snaptund, snaptun_proto, status_proto):
    work = tempfile.mkdtemp()
    stubs = os.path.join(work, "stubs")
    os.makedirs(stubs)
    generate_stubs(stubs, snaptun_proto, status_proto)
    sys.path.insert(0, stubs)
    import grpc
    from snaptun.v1 import snaptun_pb2 as pb, snaptun_pb2_grpc as pb_grpc

    def expect_error(call, code, reason):
        try:
            call()
        except grpc.RpcError as error:
            assert error.code() == code, (error.code(), error.details())
            got = reason_of(error)
            assert got == reason, (got, reason, error.details())
            print(f"  {code.name} {reason}")
            return
        raise AssertionError(f"expected {code.name} {reason}")

    daemon = Daemon(snaptund, work, "main", "--queue_kib_per_tunnel=32768",
                    "--max_tunnels_per_identity=2")
    channel = grpc.insecure_channel(daemon.address)  # Default options.
    tunnels = pb_grpc.TunnelServiceStub(channel)
    gateway = pb_grpc.GatewayServiceStub(channel)
    info = gateway.GetGatewayInfo(pb.GetGatewayInfoRequest(), timeout=10)
    key = info.public_key
    gateway.AuthorizeIdentity(pb.AuthorizeIdentityRequest(public_key=key),
                              timeout=10)

    def open_tunnel(tunnel_id, **extra):
        return tunnels.OpenTunnel(pb.OpenTunnelRequest(
            tunnel_id=tunnel_id, peer_public_key=key,
            data_plane_address=daemon.gateway, **extra), timeout=30)

    def gateway_side(client):
        listed = tunnels.ListTunnels(
            pb.ListTunnelsRequest(role=pb.ROLE_GATEWAY), timeout=10)
        for t in listed.tunnels:
            if t.remote_address == client.local_address:
                return t.tunnel_id
        raise AssertionError("no gateway side for " + client.tunnel_id)

    def close_both(client):
        """Closes a client tunnel and, as its orchestrator must (WireGuard
        has no close message), the gateway side that served it."""
        gw_id = gateway_side(client)
        tunnels.CloseTunnel(pb.CloseTunnelRequest(
            tunnel_id=client.tunnel_id), timeout=10)
        tunnels.CloseTunnel(pb.CloseTunnelRequest(tunnel_id=gw_id), timeout=10)

    # --- keepalive: a watcher pinging every 10 s lives on.
    print("--- WatchTunnels with 10 s client keepalive, 60 s")
    ping_channel = grpc.insecure_channel(daemon.address, options=[
        ("grpc.keepalive_time_ms", 10000),
        ("grpc.keepalive_timeout_ms", 5000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0)])
    watch = pb_grpc.TunnelServiceStub(ping_channel).WatchTunnels(
        pb.WatchTunnelsRequest())
    events, watch_error = [], []

    def read_watch():
        try:
            for event in watch:
                events.append(event)
        except grpc.RpcError as error:
            watch_error.append(error)

    watcher = threading.Thread(target=read_watch, daemon=True)
    watcher.start()
    watch_started = time.time()

    # --- meanwhile: errors, closed tunnels, takeover, the burst.
    print("--- ErrorInfo reasons")
    expect_error(lambda: tunnels.OpenTunnel(pb.OpenTunnelRequest(
        peer_public_key=b"short", data_plane_address=daemon.gateway),
        timeout=10), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PEER_KEY")
    expect_error(lambda: tunnels.OpenTunnel(pb.OpenTunnelRequest(
        tunnel_id="stranger", peer_public_key=b"\x07" * 32,
        data_plane_address=daemon.gateway,
        connect_timeout={"nanos": 300000000}), timeout=30),
        grpc.StatusCode.DEADLINE_EXCEEDED, "HANDSHAKE_TIMEOUT")
    expect_error(lambda: gateway.RevokeIdentity(
        pb.RevokeIdentityRequest(public_key=b"\x09" * 32), timeout=10),
        grpc.StatusCode.NOT_FOUND, "IDENTITY_NOT_AUTHORIZED")
    first = open_tunnel("a")
    second = open_tunnel("b")
    expect_error(lambda: open_tunnel("c"), grpc.StatusCode.RESOURCE_EXHAUSTED,
                 "MAX_TUNNELS_PER_IDENTITY")
    small = Daemon(snaptund, work, "small", "--max_tunnels=2")
    small_stub = pb_grpc.TunnelServiceStub(grpc.insecure_channel(small.address))
    small_gw = pb_grpc.GatewayServiceStub(grpc.insecure_channel(small.address))
    small_key = small_gw.GetGatewayInfo(pb.GetGatewayInfoRequest(),
                                        timeout=10).public_key
    small_gw.AuthorizeIdentity(pb.AuthorizeIdentityRequest(
        public_key=small_key), timeout=10)
    small_stub.OpenTunnel(pb.OpenTunnelRequest(
        tunnel_id="one", peer_public_key=small_key,
        data_plane_address=small.gateway), timeout=30)
    expect_error(lambda: small_stub.OpenTunnel(pb.OpenTunnelRequest(
        tunnel_id="two", peer_public_key=small_key,
        data_plane_address=small.gateway), timeout=30),
        grpc.StatusCode.RESOURCE_EXHAUSTED, "MAX_TUNNELS")
    small.stop()

    print("--- GetTunnel after CloseTunnel")
    close_both(second)
    closed = tunnels.GetTunnel(pb.GetTunnelRequest(tunnel_id="b"), timeout=10)
    assert closed.state == pb.TUNNEL_STATE_CLOSED, closed
    assert closed.close_cause == pb.CLOSE_CAUSE_API, closed
    assert closed.close_reason == "closed through the API", closed
    print("  CLOSED, CLOSE_CAUSE_API,", repr(closed.close_reason))

    print("--- a hung stream holder, replaced by takeover")
    holder = subprocess.Popen(
        [sys.executable, __file__, "hold", stubs, daemon.address, "a"],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "attached"
    time.sleep(0.5)  # The server has attached it.
    os.kill(holder.pid, signal.SIGSTOP)

    def single(batch):
        yield batch
        time.sleep(2)

    expect_error(lambda: [_ for _ in tunnels.StreamPackets(
        single(pb.PacketBatch(tunnel_id="a")), timeout=5)],
        grpc.StatusCode.FAILED_PRECONDITION, "STREAM_ALREADY_ATTACHED")
    gw_id = gateway_side(first)
    release = threading.Event()

    def takeover_requests():
        yield pb.PacketBatch(tunnel_id="a", takeover=True)
        release.wait()

    taken = tunnels.StreamPackets(takeover_requests(), timeout=30)
    time.sleep(0.5)
    down = tunnels.StreamPackets(iter([pb.PacketBatch(
        tunnel_id=gw_id, packets=[b"to the new holder"])]), timeout=30)
    for _ in down:
        pass
    got = next(taken)
    assert list(got.packets) == [b"to the new holder"], got
    release.set()
    os.kill(holder.pid, signal.SIGCONT)
    ended = holder.stdout.readline().strip()
    assert ended == "ended ABORTED STREAM_TAKEN_OVER", ended
    holder.wait(timeout=30)
    print("  new stream carries; old one", ended)
    close_both(first)

    print("--- a hung stream holder, dropped by the server's keepalive")
    quick = Daemon(snaptund, work, "quick", "--grpc_keepalive_time=1s",
                   "--grpc_keepalive_timeout=1s")
    quick_stub = pb_grpc.TunnelServiceStub(grpc.insecure_channel(quick.address))
    quick_gw = pb_grpc.GatewayServiceStub(grpc.insecure_channel(quick.address))
    quick_key = quick_gw.GetGatewayInfo(pb.GetGatewayInfoRequest(),
                                        timeout=10).public_key
    quick_gw.AuthorizeIdentity(pb.AuthorizeIdentityRequest(
        public_key=quick_key), timeout=10)
    quick_stub.OpenTunnel(pb.OpenTunnelRequest(
        tunnel_id="k", peer_public_key=quick_key,
        data_plane_address=quick.gateway), timeout=30)
    holder = subprocess.Popen(
        [sys.executable, __file__, "hold", stubs, quick.address, "k"],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "attached"
    time.sleep(0.5)
    os.kill(holder.pid, signal.SIGSTOP)
    started = time.time()
    attached = False
    while not attached and time.time() - started < 60:
        try:
            calls = quick_stub.StreamPackets(
                single(pb.PacketBatch(tunnel_id="k")), timeout=1)
            for _ in calls:
                pass
            attached = True
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                attached = True  # Accepted: it waited for packets.
            else:
                assert reason_of(error) == "STREAM_ALREADY_ATTACHED", error
                time.sleep(0.5)
    holder.kill()
    assert attached, "the hung holder kept the tunnel"
    print(f"  the tunnel was free again after {time.time() - started:.1f} s")
    quick.stop()

    print("--- 300 maximum-size payloads to a default reader")
    big = open_tunnel("big")
    big_gw = gateway_side(big)
    payloads = [i.to_bytes(4, "big") + bytes(MAX_PAYLOAD - 4)
                for i in range(300)]

    def paced():  # Paced so the kernel's socket buffers never overflow.
        for i in range(300):
            yield pb.PacketBatch(tunnel_id="big", packets=[payloads[i]])
            time.sleep(0.003)

    for _ in tunnels.StreamPackets(paced(), timeout=60):
        pass
    deadline = time.time() + 60
    while time.time() < deadline:
        t = tunnels.GetTunnel(pb.GetTunnelRequest(tunnel_id=big_gw), timeout=10)
        if t.counters.rx_packets >= 300:
            break
        time.sleep(0.1)
    assert t.counters.rx_packets == 300, t.counters
    reader_done = threading.Event()

    def reader_requests():
        yield pb.PacketBatch(tunnel_id=big_gw)
        reader_done.wait()

    received, messages = [], 0
    for batch in tunnels.StreamPackets(reader_requests(), timeout=60):
        messages += 1
        received.extend(batch.packets)
        if len(received) >= 300:
            break
    reader_done.set()
    assert received == payloads, len(received)
    print(f"  300 payloads in {messages} messages, none lost")
    close_both(big)

    print("--- a router on StreamGatewayPackets")
    routed = open_tunnel("routed")
    routed_gw = gateway_side(routed)
    answer = []
    answer_ready = threading.Event()

    def router_requests():
        yield pb.GatewayPacketBatch(shard=0, shard_count=1)
        answer_ready.wait(timeout=30)
        yield from answer

    router = gateway.StreamGatewayPackets(router_requests(), timeout=30)
    time.sleep(0.5)  # The server has attached it.
    client_done = threading.Event()

    def client_requests():
        yield pb.PacketBatch(tunnel_id="routed", packets=[b"up to the router"])
        client_done.wait(timeout=30)

    client_stream = tunnels.StreamPackets(client_requests(), timeout=30)
    batch = next(router)
    announced = {h.handle: h for h in batch.announced}
    assert list(batch.packets) == [b"up to the router"], batch
    handle = batch.handles[0]
    assert announced[handle].tunnel_id == routed_gw, announced
    answer.append(pb.GatewayPacketBatch(packets=[b"down by handle"],
                                        handles=[handle]))
    answer_ready.set()
    got = next(client_stream)
    assert list(got.packets) == [b"down by handle"], got
    for _ in router:  # Half-closed after the answer: ends OK.
        pass
    client_done.set()
    for _ in client_stream:
        pass
    print(f"  handle {handle} for {routed_gw}, both ways")
    close_both(routed)

    # A server refusing 10 s pings ends it at the fourth (the first is
    # never a strike, two are forgiven), 40 s in or later: 60 s has margin.
    print("--- the watcher after 60 s")
    remaining = 60 - (time.time() - watch_started)
    if remaining > 0:
        time.sleep(remaining)
    assert not watch_error, watch_error[0]
    assert watcher.is_alive()
    before = len(events)
    open_tunnel("late")
    deadline = time.time() + 10
    while len(events) == before and time.time() < deadline:
        time.sleep(0.1)
    assert len(events) > before, "the watcher saw nothing"
    print(f"  alive after {time.time() - watch_started:.0f} s, "
          f"{len(events)} events")
    watch.cancel()
    daemon.stop()
    print("PASS")


if __name__ == "__main__":
    if sys.argv[1] == "hold":
        hold(*sys.argv[2:5])
    else:
        main(*sys.argv[1:4])
