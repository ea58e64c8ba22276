"""Address scopes as RSPLIB 3.4.4 classifies them (rsplib notes §2.2)."""

from __future__ import annotations

import ipaddress

import pytest

from rserpool.scope import AddressScope, address_scope, advertisable, is_advertisable


@pytest.mark.parametrize(
    ("address", "scope"),
    [
        ("0.0.0.0", AddressScope.UNSPECIFIED),
        ("::", AddressScope.UNSPECIFIED),
        ("239.0.0.50", AddressScope.UNSPECIFIED),
        ("127.0.0.1", AddressScope.LOOPBACK),
        ("127.255.0.9", AddressScope.LOOPBACK),
        ("::1", AddressScope.LOOPBACK),
        ("::ffff:127.0.0.1", AddressScope.LOOPBACK),
        ("169.254.3.4", AddressScope.LINK_LOCAL),
        ("fe80::1", AddressScope.LINK_LOCAL),
        ("10.255.255.1", AddressScope.SITE_LOCAL),
        ("172.16.0.1", AddressScope.SITE_LOCAL),
        ("172.31.255.255", AddressScope.SITE_LOCAL),
        ("172.32.0.1", AddressScope.GLOBAL),
        ("192.168.1.1", AddressScope.SITE_LOCAL),
        ("fec0::1", AddressScope.SITE_LOCAL),
        ("fd00::1", AddressScope.GLOBAL),  # unique-local counts as global in RSPLIB
        ("192.0.2.1", AddressScope.GLOBAL),
        ("198.51.100.2", AddressScope.GLOBAL),
        ("2001:db8::1", AddressScope.GLOBAL),
        ("::ffff:203.0.113.1", AddressScope.GLOBAL),
    ],
)
def test_scope(address: str, scope: AddressScope) -> None:
    assert address_scope(address) == scope
    assert address_scope(ipaddress.ip_address(address)) == scope


def test_rsplib_numbers() -> None:
    assert [int(s) for s in AddressScope] == [0, 2, 4, 6, 10]


def test_loopback_and_link_local_are_never_advertised() -> None:
    addresses = ["127.0.0.1", "::1", "fe80::1", "169.254.1.1", "10.0.0.1", "192.0.2.1"]
    assert advertisable(addresses) == ["10.0.0.1", "192.0.2.1"]
    assert advertisable(addresses, AddressScope.GLOBAL) == ["192.0.2.1"]
    assert not is_advertisable("127.0.0.1", AddressScope.UNSPECIFIED)
    assert is_advertisable("10.0.0.1", AddressScope.LOOPBACK)
