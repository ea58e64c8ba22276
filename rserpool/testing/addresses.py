"""Address shorthands for tests: ``ip("10.0.0.1")`` and ``ta("10.0.0.1,10.0.1.1", 3863)``."""

from __future__ import annotations

import ipaddress

from rserpool.proto.common import IPAddress, TransportAddress

__all__ = ["ip", "ta"]


def ip(text: str) -> IPAddress:
    """The IPv4 or IPv6 address ``text``."""
    return ipaddress.ip_address(text)


def ta(text: str, port: int) -> TransportAddress:
    """A transport address: comma-separated addresses (a multi-homed endpoint) and a port."""
    return TransportAddress(tuple(ip(a) for a in text.split(",")), port)
