"""Linux SCTP sockets API (RFC 6458) constants, struct layouts and notification parsing.

Layouts are those of ``linux/sctp.h`` on x86-64 (checked in the test guest: docs/transport.md),
and SNDINFO/RCVINFO and SCTP_EVENT work through the stdlib's ``sendmsg``/``recvmsg``/``setsockopt``.
"""

from __future__ import annotations

import ctypes
import errno
import ipaddress
import os
import socket
import struct
from collections.abc import Sequence

from rserpool.transport.abc import (
    Address,
    AddressState,
    CantStartAssociation,
    CommLost,
    CommUp,
    PeerAddressChange,
    PeerShutdown,
    Restart,
    SctpEvent,
    SendFailed,
    ShutdownComplete,
)

IPPROTO_SCTP = 132
SOL_SCTP = 132
# socket options (linux/sctp.h)
SCTP_RTOINFO = 0
SCTP_ASSOCINFO = 1
SCTP_NODELAY = 3
SCTP_PEER_ADDR_PARAMS = 9
SCTP_STATUS = 14
SCTP_RECVRCVINFO = 32
SCTP_SOCKOPT_BINDX_ADD = 100
SCTP_SOCKOPT_CONNECTX3 = 111
SCTP_EVENT = 127
# cmsg types
SCTP_SNDINFO = 2
SCTP_RCVINFO = 3
# snd_flags / rcv_flags
SCTP_UNORDERED = 0x1
SCTP_ABORT = 0x4
SCTP_EOF = 0x200
MSG_NOTIFICATION = 0x8000
MSG_EOR = socket.MSG_EOR
# notification types
SCTP_ASSOC_CHANGE = 0x8001
SCTP_PEER_ADDR_CHANGE = 0x8002
SCTP_SHUTDOWN_EVENT = 0x8005
SCTP_SEND_FAILED_EVENT = 0x800D
SUBSCRIBED = (SCTP_ASSOC_CHANGE, SCTP_PEER_ADDR_CHANGE, SCTP_SHUTDOWN_EVENT, SCTP_SEND_FAILED_EVENT)
# sac_state
COMM_UP, COMM_LOST, RESTART, SHUTDOWN_COMP, CANT_STR_ASSOC = range(5)
# spp_flags
SPP_HB_ENABLE = 1

SNDINFO = struct.Struct("=HHIIi")  # sid, flags, ppid (set in network order), context, assoc_id
RCVINFO = struct.Struct("=HHHxxIIIIi")  # sid, ssn, flags, ppid, tsn, cumtsn, context, assoc_id
NOTIFICATION_HEADER = struct.Struct("=HHI")
ASSOC_CHANGE = struct.Struct("=HHIHHHHi")
PADDR_CHANGE_TAIL = struct.Struct("=iii")  # after the 128-byte sockaddr_storage at offset 8
SHUTDOWN_EVENT = struct.Struct("=HHIi")
SEND_FAILED_EVENT = struct.Struct("=HHII" + "HHIIi" + "i")
RTOINFO = struct.Struct("=iIII")  # assoc_id, initial, max, min
ASSOCPARAMS = struct.Struct("=iHHIII")  # assoc_id, asocmaxrxt, peers, peer rwnd, local rwnd, cookie
PADDRPARAMS = struct.Struct("<i128sIHIIIIB")  # packed, then aligned to 4 (156 bytes)
PADDRPARAMS_SIZE = 156
EVENT = struct.Struct("=iHBx")
RCVINFO_CMSG_SPACE = socket.CMSG_SPACE(RCVINFO.size)


def family_of(addresses: Sequence[str]) -> socket.AddressFamily:
    if all(ipaddress.ip_address(a).version == 4 for a in addresses):
        return socket.AF_INET
    return socket.AF_INET6


def pack_sockaddr(address: Address, family: socket.AddressFamily) -> bytes:
    host, port = address
    ip = ipaddress.ip_address(host)
    if family == socket.AF_INET:
        if ip.version != 4:
            raise ValueError(f"IPv6 address {host} on an IPv4 socket")
        return struct.pack("=H", socket.AF_INET) + struct.pack("!H", port) + ip.packed + bytes(8)
    if isinstance(ip, ipaddress.IPv4Address):
        ip = ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + ip.packed)
    return struct.pack("=H", socket.AF_INET6) + struct.pack("!HI", port, 0) + ip.packed + bytes(4)


def unpack_sockaddr(raw: bytes) -> Address:
    (family,) = struct.unpack_from("=H", raw)
    (port,) = struct.unpack_from("!H", raw, 2)
    if family == socket.AF_INET:
        return str(ipaddress.IPv4Address(raw[4:8])), port
    if family == socket.AF_INET6:
        ip = ipaddress.IPv6Address(raw[8:24])
        return str(ip.ipv4_mapped or ip), port
    return "", 0


def normalize(address: tuple[object, ...]) -> Address:
    """A socket-module address tuple as ``(ip, port)``, IPv4-mapped IPv6 shown as IPv4."""
    host, port = str(address[0]), int(str(address[1]))
    if ":" in host:
        mapped = ipaddress.IPv6Address(host.split("%")[0]).ipv4_mapped
        if mapped is not None:
            host = str(mapped)
    return host, port


def sndinfo(assoc_id: int, ppid: int, stream: int, flags: int) -> bytes:
    return SNDINFO.pack(stream, flags, socket.htonl(ppid), 0, assoc_id)


def subscribe(sock: socket.socket) -> None:
    for kind in SUBSCRIBED:
        sock.setsockopt(SOL_SCTP, SCTP_EVENT, EVENT.pack(0, kind, 1))
    sock.setsockopt(SOL_SCTP, SCTP_RECVRCVINFO, 1)
    sock.setsockopt(SOL_SCTP, SCTP_NODELAY, 1)


def parse_notification(data: bytes) -> SctpEvent | None:
    """A typed event from a ``union sctp_notification``; None for kinds we do not report."""
    kind, _flags, _length = NOTIFICATION_HEADER.unpack_from(data)
    if kind == SCTP_ASSOC_CHANGE:
        _, _, _, state, error, outs, ins, assoc = ASSOC_CHANGE.unpack_from(data)
        if state == COMM_UP:
            return CommUp(assoc, outs, ins)
        if state == COMM_LOST:
            return CommLost(assoc, error)
        if state == RESTART:
            return Restart(assoc)
        if state == SHUTDOWN_COMP:
            return ShutdownComplete(assoc)
        if state == CANT_STR_ASSOC:
            return CantStartAssociation(assoc, error)
        return None
    if kind == SCTP_PEER_ADDR_CHANGE:
        address = unpack_sockaddr(data[8:136])
        state, error, assoc = PADDR_CHANGE_TAIL.unpack_from(data, 136)
        try:
            typed = AddressState(state)
        except ValueError:
            return None
        return PeerAddressChange(assoc, address, typed, error)
    if kind == SCTP_SHUTDOWN_EVENT:
        return PeerShutdown(SHUTDOWN_EVENT.unpack_from(data)[3])
    if kind == SCTP_SEND_FAILED_EVENT:
        fields = SEND_FAILED_EVENT.unpack_from(data)
        flags, error, sid, ppid, assoc = fields[1], fields[3], fields[4], fields[6], fields[9]
        payload = data[SEND_FAILED_EVENT.size :]
        return SendFailed(assoc, payload, socket.ntohl(ppid), sid, error, sent=bool(flags & 1))
    return None


def params_options(
    assoc_id: int, rto: tuple[int, int, int], hb: int, pmr: int, amr: int
) -> list[tuple[int, bytes]]:
    """setsockopt payloads; 0 leaves a value unchanged (the kernel's convention)."""
    options: list[tuple[int, bytes]] = []
    if any(rto):
        options.append((SCTP_RTOINFO, RTOINFO.pack(assoc_id, *rto)))
    if hb or pmr:
        flags = SPP_HB_ENABLE if hb else 0
        raw = PADDRPARAMS.pack(assoc_id, bytes(128), hb, pmr, 0, 0, flags, 0, 0)
        options.append((SCTP_PEER_ADDR_PARAMS, raw.ljust(PADDRPARAMS_SIZE, b"\0")))
    if amr:
        options.append((SCTP_ASSOCINFO, ASSOCPARAMS.pack(assoc_id, amr, 0, 0, 0, 0)))
    return options


_libc = ctypes.CDLL(None, use_errno=True)


def connectx(sock: socket.socket, addresses: Sequence[Address]) -> int:
    """sctp_connectx through SCTP_SOCKOPT_CONNECTX3; returns the association id, also when
    the non-blocking connect is still in progress (the kernel fills it in before EINPROGRESS)."""
    packed = b"".join(pack_sockaddr(a, sock.family) for a in addresses)
    buffer = ctypes.create_string_buffer(packed, len(packed))

    class _Param(ctypes.Structure):
        _fields_ = (
            ("assoc_id", ctypes.c_int32),
            ("addr_num", ctypes.c_int32),
            ("addrs", ctypes.c_void_p),
        )

    param = _Param(0, len(packed), ctypes.cast(buffer, ctypes.c_void_p))
    size = ctypes.c_uint32(ctypes.sizeof(param))
    rc = _libc.getsockopt(
        sock.fileno(), SOL_SCTP, SCTP_SOCKOPT_CONNECTX3, ctypes.byref(param), ctypes.byref(size)
    )
    if rc != 0:
        err = ctypes.get_errno()
        if err != errno.EINPROGRESS:
            raise OSError(err, os.strerror(err))
    return int(param.assoc_id)
