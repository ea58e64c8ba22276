"""Packet-level helpers: two endpoints driven by hand, each datagram inspected."""

from __future__ import annotations

import ipaddress
import random

from rserpool.sctp import Endpoint, Packet, SctpConfig, decode_packet_untrusted
from rserpool.sctp.association import Datagram

A = ipaddress.ip_address("10.0.0.1")
B = ipaddress.ip_address("10.0.0.2")
B2 = ipaddress.ip_address("10.0.1.2")
PORT = 9899


def endpoints(
    config: SctpConfig | None = None, b_addresses: tuple[object, ...] = (B,), seed: int = 2
) -> tuple[Endpoint, Endpoint]:
    a = Endpoint(5000, [A], config, rng=random.Random(1))
    b = Endpoint(6000, list(b_addresses), config, rng=random.Random(seed))  # type: ignore[arg-type]
    return a, b


def packets(datagrams: list[Datagram]) -> list[Packet]:
    return [decode_packet_untrusted(d.data) for d in datagrams]


def carry(src: Endpoint, dst: Endpoint, now: int, source: object = None) -> list[Packet]:
    """Deliver everything ``src`` has to send to ``dst``; return what was carried."""
    datagrams = src.datagrams()
    for d in datagrams:
        dst.receive(d.data, source or src.addresses[0], PORT, now)  # type: ignore[arg-type]
    return packets(datagrams)


def establish(a: Endpoint, b: Endpoint, now: int = 0) -> int:
    assoc = a.connect(list(b.addresses), b.port, PORT, now)
    carry(a, b, now)  # INIT
    carry(b, a, now)  # INIT ACK
    carry(a, b, now)  # COOKIE ECHO
    carry(b, a, now)  # COOKIE ACK
    return assoc


def kinds(packet: Packet) -> list[str]:
    return [type(c).__name__ for c in packet.chunks]
