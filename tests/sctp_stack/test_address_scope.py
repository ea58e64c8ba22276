"""Which of the addresses a peer lists in INIT / INIT ACK become paths (§5.1.2, scoped).

usrsctp lists every address of its machine, so an INIT from 127.0.0.1 also names the
machine's LAN and IPv6 addresses. A loopback source means the peer is this host: only its
loopback addresses are paths. From any other source a loopback address would be our own."""

from __future__ import annotations

from ipaddress import ip_address

from rserpool.sctp.chunks import Init, InitAck
from rserpool.sctp.handshake import check_init
from rserpool.sctp.params import AddressParameter, StateCookie

LISTED = [ip_address(a) for a in ("127.0.0.1", "192.0.2.2", "::1", "fd00::2", "224.0.0.1")]
PARAMS = tuple(AddressParameter(a) for a in LISTED)


def test_an_init_from_loopback_keeps_only_loopback_addresses() -> None:
    init = Init(1, 65536, 10, 10, 1, PARAMS)
    check = check_init(init, ip_address("127.0.0.1"))
    assert check.addresses == (ip_address("127.0.0.1"), ip_address("::1"))


def test_an_init_ack_from_elsewhere_drops_loopback_addresses() -> None:
    ack = InitAck(1, 65536, 10, 10, 1, (*PARAMS, StateCookie(b"c")))
    check = check_init(ack, ip_address("192.0.2.2"))
    assert check.addresses == (ip_address("192.0.2.2"), ip_address("fd00::2"))
