"""Address scopes and the registrar's address filtering (RSPLIB ``netutilities.c``).

Scopes are RSPLIB's numbers, not Python's ``is_private``: 198.51.100.0/24 and the other
documentation ranges are *global* here, as in RSPLIB, and IPv6 ULAs (fc00::/7) count as global.

Policy (a deliberate, documented choice): an address is usable when its scope is at least the
configured minimum scope (``RegistrarConfig.min_address_scope``, default site-local, as
RSPLIB). RSPLIB 3.4.4's parser additionally drops every address at or below link-local whatever
``-minaddressscope`` says; we honour ``AddressScope.LOOPBACK`` when it is configured, so that
single-host tests of our own stack can use 127.0.0.1. With the default, behaviour is RSPLIB's.

Scopes themselves come from :mod:`rserpool.scope`, shared with the transport layer.
"""

from __future__ import annotations

from collections.abc import Iterable

from rserpool.proto.common import IPAddress, TransportAddress
from rserpool.scope import AddressScope, address_scope
from rserpool.wire.params import normalize_address

__all__ = ["AddressScope", "address_scope", "on_association", "usable"]


def usable(addresses: Iterable[IPAddress], min_scope: AddressScope) -> tuple[IPAddress, ...]:
    """The addresses (normalised, duplicates dropped, order kept) of at least ``min_scope``."""
    result: list[IPAddress] = []
    for a in addresses:
        a = normalize_address(a)
        if address_scope(a) >= max(min_scope, AddressScope.LOOPBACK) and a not in result:
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
