#!/usr/bin/env python3
"""A one-name DNS server for the image test: answers A queries for NAME with
ADDRESS and everything else with NXDOMAIN, on UDP LISTEN_IP:53.
Proves that a container's getaddrinfo goes past /etc/hosts to DNS.

    dns_stub.py LISTEN_IP NAME ADDRESS
"""
import socket
import struct
import sys


def question_end(packet):
    """Offset just past the question's name, type and class."""
    i = 12
    while packet[i] != 0:
        i += packet[i] + 1
    return i + 5


def qname(packet):
    labels, i = [], 12
    while packet[i] != 0:
        labels.append(packet[i + 1:i + 1 + packet[i]].decode("ascii").lower())
        i += packet[i] + 1
    return ".".join(labels)


def main():
    listen, name, address = sys.argv[1], sys.argv[2].lower(), sys.argv[3]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # The bridge and its address appear only when the first container joins.
    sock.setsockopt(socket.SOL_IP, getattr(socket, "IP_FREEBIND", 15), 1)
    sock.bind((listen, 53))
    print("listening", flush=True)
    while True:
        packet, peer = sock.recvfrom(512)
        if len(packet) < 17:
            continue
        end = question_end(packet)
        (qtype,) = struct.unpack("!H", packet[end - 4:end - 2])
        txid = packet[:2]
        found = qname(packet) == name
        answers = 1 if found and qtype == 1 else 0
        rcode = 0 if found else 3
        header = txid + struct.pack("!HHHHH", 0x8180 | rcode, 1, answers, 0, 0)
        reply = header + packet[12:end]
        if answers:
            reply += struct.pack("!HHHLH", 0xC00C, 1, 1, 30, 4)
            reply += socket.inet_aton(address)
        sock.sendto(reply, peer)


if __name__ == "__main__":
    main()
