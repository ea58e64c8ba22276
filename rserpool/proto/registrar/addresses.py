"""Address scopes and the registrar's address filtering (RSPLIB ``netutilities.c``, notes §2.2).

Scopes are RSPLIB's numbers, not Python's ``is_private``: 198.51.100.0/24 and the other
documentation ranges are *global* here, as in RSPLIB, and IPv6 ULAs (fc00::/7) count as global.

Policy (a deliberate, documented choice): an address is usable when its scope is at least the
configured minimum scope (``RegistrarConfig.min_address_scope``, default site-local, as
RSPLIB). RSPLIB 3.4.4's parser additionally drops every address at or below link-local whatever
``-minaddressscope`` says; we honour ``AddressScope.LOOPBACK`` when it is configured, so that
single-host tests of our own stack can use 127.0.0.1. With the default, behaviour is RSPLIB's.

``rserpool.transport.scope`` classifies addresses the same way (a test checks that they agree),
but importing it imports Trio through ``rserpool.transport``, which this sans-IO package must not.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable

from rserpool.proto.common import IPAddress, TransportAddress
from rserpool.wire.params import normalize_address


class AddressScope(enum.IntEnum):
    """RSPLIB's address scopes (``AS_*``); larger is wider."""

    UNUSABLE = 0  # unspecified (0.0.0.0, ::) and multicast
    LOOPBACK = 2
    LINK_LOCAL = 4
    SITE_LOCAL = 6
    GLOBAL = 10


_V4_LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")
_V4_LINK_LOCAL = ipaddress.IPv4Network("169.254.0.0/16")
_V4_MULTICAST = ipaddress.IPv4Network("224.0.0.0/4")
_V4_SITE_LOCAL = (
    ipaddress.IPv4Network("10.0.0.0/8"),
    ipaddress.IPv4Network("172.16.0.0/12"),
    ipaddress.IPv4Network("192.168.0.0/16"),
)
_V6_LINK_LOCAL = ipaddress.IPv6Network("fe80::/10")
_V6_SITE_LOCAL = ipaddress.IPv6Network("fec0::/10")
_V6_MULTICAST = ipaddress.IPv6Network("ff00::/8")


def scope_of(address: IPAddress) -> AddressScope:
    """The scope of one address (IPv4-mapped IPv6 addresses are judged as IPv4)."""
    address = normalize_address(address)
    if isinstance(address, ipaddress.IPv4Address):
        if int(address) == 0 or address in _V4_MULTICAST:
            return AddressScope.UNUSABLE
        if address in _V4_LOOPBACK:
            return AddressScope.LOOPBACK
        if address in _V4_LINK_LOCAL:
            return AddressScope.LINK_LOCAL
        if any(address in net for net in _V4_SITE_LOCAL):
            return AddressScope.SITE_LOCAL
        return AddressScope.GLOBAL
    if int(address) == 0 or address in _V6_MULTICAST:
        return AddressScope.UNUSABLE
    if int(address) == 1:
        return AddressScope.LOOPBACK
    if address in _V6_LINK_LOCAL:
        return AddressScope.LINK_LOCAL
    if address in _V6_SITE_LOCAL:
        return AddressScope.SITE_LOCAL
    return AddressScope.GLOBAL


def usable(addresses: Iterable[IPAddress], min_scope: AddressScope) -> tuple[IPAddress, ...]:
    """The addresses (normalised, duplicates dropped, order kept) of at least ``min_scope``."""
    result: list[IPAddress] = []
    for a in addresses:
        a = normalize_address(a)
        if scope_of(a) >= max(min_scope, AddressScope.LOOPBACK) and a not in result:
            result.append(a)
    return tuple(result)


def on_association(
    advertised: Iterable[IPAddress], peer: TransportAddress, min_scope: AddressScope
) -> tuple[IPAddress, ...]:
    """Advertised addresses that are also association peer addresses, of at least ``min_scope``.

    RSPLIB's registration rule for user transports (compared without the port) and its
    Presence rule for Server Information (the caller compares the port).
    """
    on_assoc = set(peer.addresses)
    return tuple(a for a in usable(advertised, min_scope) if a in on_assoc)
