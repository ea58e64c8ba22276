"""Entry points: ``decode_message_untrusted``, ``encode_message``, ``ppid_of``."""

from __future__ import annotations

import dataclasses
import struct

from rserpool.wire.asap import (
    AsapError,
    Deregistration,
    DeregistrationResponse,
    EndpointKeepAlive,
    EndpointKeepAliveAck,
    EndpointUnreachable,
    HandleResolution,
    HandleResolutionResponse,
    Registration,
    RegistrationResponse,
    ServerAnnounce,
)
from rserpool.wire.asap_session import BusinessCard, Cookie, CookieEcho
from rserpool.wire.buffer import HEADER, pad4, read
from rserpool.wire.constants import PPID
from rserpool.wire.enrp import ENRP_MESSAGES
from rserpool.wire.errors import DecodeError, EncodeError, UnrecognizedMessage
from rserpool.wire.message import Message
from rserpool.wire.tlv import Scanner, split_tlvs

ASAP_MESSAGES: dict[int, type[Message]] = {
    cls.TYPE: cls
    for cls in (
        Registration,
        Deregistration,
        RegistrationResponse,
        DeregistrationResponse,
        HandleResolution,
        HandleResolutionResponse,
        EndpointKeepAlive,
        EndpointKeepAliveAck,
        EndpointUnreachable,
        ServerAnnounce,
        Cookie,
        CookieEcho,
        BusinessCard,
        AsapError,
    )
}

MESSAGES: dict[int, dict[int, type[Message]]] = {
    PPID.ASAP: ASAP_MESSAGES,
    PPID.ENRP: ENRP_MESSAGES,
}


def decode_message_untrusted(ppid: int, data: bytes) -> Message:
    """Decode one ASAP (PPID 11) or ENRP (PPID 12) message; raises only :class:`DecodeError`.

    ``data`` must be the whole SCTP message or UDP datagram, trailing padding included.
    """
    try:
        return _decode(ppid, bytes(data))
    except DecodeError:
        raise
    except (struct.error, IndexError, ValueError, UnicodeError, OverflowError) as exc:
        raise DecodeError(f"malformed message: {exc}") from exc


def _decode(ppid: int, data: bytes) -> Message:
    registry = MESSAGES.get(ppid)
    if registry is None:
        raise DecodeError(f"PPID {ppid} is neither ASAP nor ENRP", report=False)
    if len(data) < 4:
        raise DecodeError(f"{len(data)} bytes cannot hold a message header")
    msg_type, flags, length = HEADER.unpack_from(data, 0)
    if length < 4 or length + pad4(length) != len(data):
        raise DecodeError(f"message length {length} does not match {len(data)} bytes received")
    cls = registry.get(msg_type)
    if cls is None:
        raise UnrecognizedMessage(
            f"unknown {PPID(ppid).name} message type {msg_type:#04x}",
            tlv=data[:length],
            report=msg_type & 0xC0 == 0x40,  # RFC 5354 §4: 01 = stop and report
        )
    exact = cls._exact(data, flags, length)  # fast path: the usual layout, no TLV scan
    if exact is not None:
        return exact
    return decode_scanned(cls, data, flags, length)


def decode_scanned(cls: type[Message], data: bytes, flags: int, length: int) -> Message:
    """The message body of ``cls`` parsed parameter by parameter (the general way)."""
    start = 4
    fixed: tuple[int, ...] = ()
    if cls.FIXED is not None:
        fixed = read(cls.FIXED, data, 4, length, what=f"{cls.NAME} fixed fields")
        start += cls.FIXED.size
    scan = Scanner(split_tlvs(data, start, length), length)
    message = cls._from_wire(flags, fixed, scan)
    extensions = scan.finish()
    if extensions:
        message = dataclasses.replace(message, extensions=extensions)
    return message


def encode_message(message: Message) -> bytes:
    """The message's bytes, padded; raises :class:`EncodeError` for out-of-range values."""
    try:
        return message.encode()
    except struct.error as exc:
        raise EncodeError(f"{message.NAME}: {exc}") from exc


def ppid_of(message: Message) -> PPID:
    """The SCTP PPID the message travels with: ASAP 11 or ENRP 12."""
    return message.PPID
