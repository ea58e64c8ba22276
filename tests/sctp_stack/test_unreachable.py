"""ICMP port unreachable ends an association (RFC 6951 §5.5, RFC 9260 §10 ICMP8), on real
sockets (the core's checks are in test_driver_support.py).

Over UDP, a peer whose process dies leaves no kernel to send ABORT: its UDP port is closed, and
the next datagram sent there is answered with ICMP port unreachable. Without reading it, the
sender would retransmit for minutes (Association.Max.Retrans at RTO.Max) before giving up.
"""

from __future__ import annotations

import trio

from rserpool.transport import TUNED, CommLost, CommUp
from rserpool.transport.userland import UserlandHost
from tests.sctp_stack.helpers import PORT


async def test_a_peer_whose_stack_is_gone_is_noticed_at_once() -> None:
    """Real sockets on loopback: B's UDP socket closes (as when its process is killed); A's
    next DATA meets ICMP port unreachable and A's association ends at once, where giving up
    by retransmissions would take 10 RTOs of 0.5 s (TUNED's Association.Max.Retrans)."""
    a = UserlandHost(["127.0.5.1"], 0, params=TUNED)
    b = UserlandHost(["127.0.5.2"], 0, params=TUNED)
    a.peer_udp_port, b.peer_udp_port = b.udp_port, a.udp_port
    with trio.fail_after(10):
        server = await b.sctp_endpoint(PORT)
        client = await a.sctp_endpoint()
        assoc = await client.connect([("127.0.5.2", PORT)])
        while not isinstance(await client.receive(), CommUp):
            pass
        b.close()
        await client.send(assoc, b"anyone?", 11)
        with trio.fail_after(2.0):
            while not isinstance(event := await client.receive(), CommLost):
                pass
        assert event.assoc_id == assoc
        await client.aclose()
        await server.aclose()
    a.close()
