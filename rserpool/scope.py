"""Address scopes as RSPLIB 3.4.4 classifies them (``netutilities.h``, ``getScope``).

RSPLIB orders scopes numerically: unspecified 0 < loopback 2 < link-local 4 < site-local 6 <
global 10, and drops every address at or below link-local from transport parameters
(``scanTransportParameter``: ``getScope() > AS_UNICAST_LINKLOCAL``). A registrar's
``-minaddressscope`` compares with the same numbers. IPv6 unique-local addresses (fc00::/7) count
as global, the deprecated fec0::/10 as site-local; IPv4-mapped IPv6 addresses take the scope of
the IPv4 address. Multicast addresses are not unicast addresses: they get UNSPECIFIED.

Sans-IO (only :mod:`ipaddress`): the transport layer and the protocol cores both use it.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SITE_LOCAL_V4 = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)
_LINK_LOCAL_V4 = ipaddress.IPv4Network("169.254.0.0/16")
_LOOPBACK_V4 = ipaddress.IPv4Network("127.0.0.0/8")
_SITE_LOCAL_V6 = ipaddress.IPv6Network("fec0::/10")
_LINK_LOCAL_V6 = ipaddress.IPv6Network("fe80::/10")


class AddressScope(enum.IntEnum):
    UNSPECIFIED = 0
    LOOPBACK = 2
    LINK_LOCAL = 4
    SITE_LOCAL = 6
    GLOBAL = 10


def address_scope(address: str | IPAddress) -> AddressScope:
    """The RSPLIB scope of a unicast address."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified or ip.is_multicast:
        return AddressScope.UNSPECIFIED
    if isinstance(ip, ipaddress.IPv4Address):
        if ip in _LOOPBACK_V4:
            return AddressScope.LOOPBACK
        if ip in _LINK_LOCAL_V4:
            return AddressScope.LINK_LOCAL
        if any(ip in net for net in _SITE_LOCAL_V4):
            return AddressScope.SITE_LOCAL
        return AddressScope.GLOBAL
    if ip == ipaddress.IPv6Address("::1"):
        return AddressScope.LOOPBACK
    if ip in _LINK_LOCAL_V6:
        return AddressScope.LINK_LOCAL
    if ip in _SITE_LOCAL_V6:
        return AddressScope.SITE_LOCAL
    return AddressScope.GLOBAL


def is_advertisable(
    address: str | IPAddress, min_scope: AddressScope = AddressScope.SITE_LOCAL
) -> bool:
    """Whether ``address`` reaches ``min_scope`` (a registrar's ``-minaddressscope``) and
    RSPLIB accepts it in a transport parameter (scope above link-local). Loopback addresses
    pass only when ``min_scope`` is loopback: a system on one machine, registrars
    configured for it."""
    scope = address_scope(address)
    if scope == AddressScope.UNSPECIFIED or scope < min_scope:
        return False
    return scope > AddressScope.LINK_LOCAL or scope == min_scope == AddressScope.LOOPBACK


def advertisable(
    addresses: Iterable[str], min_scope: AddressScope = AddressScope.SITE_LOCAL
) -> list[str]:
    """The addresses worth putting into a transport parameter, in their order."""
    return [a for a in addresses if is_advertisable(a, min_scope)]
