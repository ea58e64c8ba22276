"""Smoke test (kept forever): a multi-homed SCTP association over kernel SCTP survives the loss
of its primary path, with PPID and stream intact and every message delivered once, in order.

Two namespace hosts A and B are joined by two veth links (path 1 = 198.51.100.x, path 2 =
203.0.113.x). A pysctp one-to-many socket on each side binds both addresses. A sends numbered
messages with PPID 11 on stream 3 every 10 ms; the link of the primary path goes down mid-stream.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

import pytest
import sctp

from interop.topology import Topology

pytestmark = pytest.mark.sctp

PORT_A, PORT_B = 5001, 5000
COUNT = 300
DOWN_AFTER = 100
INTERVAL = 0.010
SCTP_ADDR_UNREACHABLE = 1  # spc_state of a PEER_ADDR_CHANGE (RFC 6458 §6.1.2)


@dataclass
class Received:
    messages: list[tuple[int, int, int]] = field(default_factory=list)  # (seq, ppid, stream)
    notifications: list[str] = field(default_factory=list)


def one_to_many(addresses: list[str], port: int) -> sctp.sctpsocket_udp:
    sk = sctp.sctpsocket_udp(socket.AF_INET)
    sk.events.data_io = True
    sk.events.association = True
    sk.events.address = True
    sk.events.flush()
    sk.nodelay = True
    sk.bindx([(address, port) for address in addresses])
    sk.listen(5)
    return sk


def receive(sk: sctp.sctpsocket_udp, out: Received, deadline: float) -> None:
    while len(out.messages) < COUNT and time.monotonic() < deadline:
        ready, _, _ = select.select([sk.fileno()], [], [], 0.5)
        if not ready:
            continue
        _, flags, data, info = sk.sctp_recv(65536)
        if flags & sctp.FLAG_NOTIFICATION:
            out.notifications.append(type(info).__name__)
            continue
        (seq,) = struct.unpack_from("!I", data)
        # pysctp hands the received PPID over in network byte order
        out.messages.append((seq, socket.ntohl(info.ppid), info.stream))


def test_multihomed_association_survives_primary_path_loss(topology: Topology) -> None:
    a, b = topology.add_host("A"), topology.add_host("B")
    primary, _secondary = topology.link(a, b), topology.link(a, b)
    with b.entered():
        server = one_to_many(b.addresses(), PORT_B)
    with a.entered():
        client = one_to_many(a.addresses(), PORT_A)
    b_endpoints = [(address, PORT_B) for address in b.addresses()]
    assert b_endpoints[0][0].startswith("198.51.100.")  # the primary path is link 1

    received = Received()
    receiver = threading.Thread(
        target=receive, args=(server, received, time.monotonic() + 60), daemon=True
    )
    receiver.start()
    client.connectx(b_endpoints, {})
    sender_events: list[tuple[str, int, str]] = []
    for seq in range(COUNT):
        if seq == DOWN_AFTER:
            primary.down()
        payload = struct.pack("!I", seq).ljust(64, b".")
        client.sctp_send(payload, to=b_endpoints[0], ppid=11, stream=3)
        time.sleep(INTERVAL)
    receiver.join(timeout=60)

    client.setblocking(False)
    while True:  # the sender's view of the paths
        try:
            _, flags, _, info = client.sctp_recv(65536)
        except BlockingIOError:
            break
        if flags & sctp.FLAG_NOTIFICATION:
            sender_events.append(
                (type(info).__name__, getattr(info, "state", -1), getattr(info, "addr", ("",))[0])
            )
    client.close()
    server.close()

    assert [seq for seq, _, _ in received.messages] == list(range(COUNT)), (
        "lost, duplicated or reordered"
    )
    assert {(ppid, stream) for _, ppid, stream in received.messages} == {(11, 3)}
    unreachable = [
        e for e in sender_events if e[0] == "paddr_change" and e[1] == SCTP_ADDR_UNREACHABLE
    ]
    assert any(addr == b_endpoints[0][0] for _, _, addr in unreachable), sender_events
