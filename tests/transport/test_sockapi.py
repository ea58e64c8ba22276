"""The kernel layer's struct packing and notification parsing, checked on the host against
layouts built by hand from linux/sctp.h (the guest tests check them against the kernel)."""

from __future__ import annotations

import socket
import struct

from rserpool.transport import _sockapi as api
from rserpool.transport.abc import (
    AddressState,
    CantStartAssociation,
    CommLost,
    CommUp,
    PeerAddressChange,
    PeerShutdown,
    Restart,
    SendFailed,
    ShutdownComplete,
)


def assoc_change(state: int, error: int = 0) -> bytes:
    return struct.pack("=HHIHHHHi", 0x8001, 0, 20, state, error, 10, 5, 7)


def test_assoc_change_states() -> None:
    assert api.parse_notification(assoc_change(0)) == CommUp(7, 10, 5)
    assert api.parse_notification(assoc_change(1, 12)) == CommLost(7, 12)
    assert api.parse_notification(assoc_change(2)) == Restart(7)
    assert api.parse_notification(assoc_change(3)) == ShutdownComplete(7)
    assert api.parse_notification(assoc_change(4, 1)) == CantStartAssociation(7, 1)
    assert api.parse_notification(assoc_change(9)) is None


def test_peer_addr_change_ipv4_and_ipv6() -> None:
    v4 = api.pack_sockaddr(("198.51.100.2", 3863), socket.AF_INET).ljust(128, b"\0")
    raw = struct.pack("=HHI", 0x8002, 0, 148) + v4 + struct.pack("=iii", 1, 0, 3)
    assert api.parse_notification(raw) == PeerAddressChange(
        3, ("198.51.100.2", 3863), AddressState.UNREACHABLE
    )
    v6 = api.pack_sockaddr(("203.0.113.2", 9901), socket.AF_INET6).ljust(128, b"\0")
    raw = struct.pack("=HHI", 0x8002, 0, 148) + v6 + struct.pack("=iii", 5, 0, 4)
    assert api.parse_notification(raw) == PeerAddressChange(
        4, ("203.0.113.2", 9901), AddressState.CONFIRMED
    )


def test_shutdown_and_send_failed() -> None:
    assert api.parse_notification(struct.pack("=HHIi", 0x8005, 0, 12, 9)) == PeerShutdown(9)
    info = struct.pack("=HHIIi", 3, 0, socket.htonl(11), 0, 9)
    raw = struct.pack("=HHII", 0x800D, 1, 36, 0) + info + struct.pack("=i", 9) + b"data"
    assert api.parse_notification(raw) == SendFailed(9, b"data", 11, 3, 0, sent=True)


def test_sndinfo_puts_the_ppid_in_network_order() -> None:
    raw = api.sndinfo(42, 11, 3, api.SCTP_UNORDERED)
    assert len(raw) == 16
    assert raw[4:8] == b"\0\0\0\x0b"
    assert struct.unpack("=HH", raw[:4]) == (3, 1)
    assert struct.unpack_from("=i", raw, 12) == (42,)


def test_paddrparams_size_and_fields() -> None:
    [(option, raw)] = api.params_options(5, (0, 0, 0), 1000, 2, 0)
    assert option == api.SCTP_PEER_ADDR_PARAMS and len(raw) == 156
    assert struct.unpack_from("=i", raw) == (5,)
    assert struct.unpack_from("=IH", raw, 132) == (1000, 2)
    assert struct.unpack_from("=I", raw, 146) == (api.SPP_HB_ENABLE,)
    assert api.params_options(0, (0, 0, 0), 0, 0, 0) == []


def test_sockaddr_round_trip() -> None:
    for family in (socket.AF_INET, socket.AF_INET6):
        raw = api.pack_sockaddr(("192.0.2.7", 5000), family)
        assert api.unpack_sockaddr(raw) == ("192.0.2.7", 5000)
    assert api.normalize(("::ffff:192.0.2.7", 5000, 0, 0)) == ("192.0.2.7", 5000)
