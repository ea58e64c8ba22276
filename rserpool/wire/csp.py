"""The Component Status Protocol (CSP): how RSerPool components tell a monitor how they are.

CSP is not part of RFC 5351-5356: it is RSPLIB's, and its ``cspmonitor`` and Wireshark both
read it. Every registrar, pool element and pool user that is given a monitor's address sends
it one UDP datagram per report interval (monitor port 2960), and a last one with the FINAL
flag when it shuts down cleanly. A report, all fields in network byte order, no padding::

     0      1      2-3     4-7      8-15       16-23
    Type | Flags | Length | Version | SenderID | SenderTimeStamp (µs)       header, 24 bytes
    ReportInterval (µs, u32) | Location char[128] | Status char[128]
    Workload (u16) | Associations (u16)                                       fixed part: 288
    Associations x { ReceiverID u64 | Duration u64 (µs) | Flags u16 |
                     ProtocolID u16 | PPID u32 }                             24 bytes each

* Type is 1 (a report), Version 0x0200; a monitor ignores anything else.
* SenderID and ReceiverID are *component ids*: the role's group in the top byte (1 registrar,
  2 pool element, 3 pool user) and a 56-bit object below (a registrar's or PE's identifier,
  a random number for a PU): :func:`component_id`.
* SenderTimeStamp counts microseconds since the sender started reporting.
* Location and Status are text, NUL padded (a full 128 bytes has no NUL).
* Workload: 0xFFFF unknown, else round(load x 0xFFFE) for a load between 0 and 1.
* Each association names the component at its other end and what runs on it (ProtocolID
  132 = SCTP, PPID 11 ASAP, 12 ENRP, or the service's); Duration all ones = unknown.
* Length is the datagram's size, as RSPLIB 3.4.4 writes it (captured from ``rspregistrar``
  and ``rspserver``: tests/wire/golden/csp). Some RSPLIB versions stored it with a 32-bit byte
  swap into the 16 bits, which leaves 0 on little-endian machines (:data:`ZERO_LENGTH`);
  monitors go by the datagram's size, so the decoder accepts 0 or the true length.

:func:`encode_report` and :func:`decode_report_untrusted` (which raises only
:class:`DecodeError`) are sans-IO, as the rest of :mod:`rserpool.wire`.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from rserpool.wire.errors import DecodeError, EncodeError

CSP_PORT = 2960  # RSPLIB's monitor port (not IANA assigned)
CSP_VERSION = 0x0200
CSP_REPORT = 0x01  # the only message type
FLAG_FINAL = 0x01  # the component's last report: remove it from the display
LOCATION_SIZE = 128
STATUS_SIZE = 128
WORKLOAD_UNKNOWN = 0xFFFF
DURATION_UNKNOWN = 0xFFFF_FFFF_FFFF_FFFF
PROTOCOL_SCTP = 132  # IANA protocol number, the ProtocolID of an SCTP association
TRUE_LENGTH = -1  # encode_report's length_field: the datagram's size (RSPLIB 3.4.4)
ZERO_LENGTH = 0  # what RSPLIB versions with the byte-swap bug write on x86 and ARM (see above)
OBJECT_MASK = (1 << 56) - 1

_HEADER = struct.Struct("!BBHIQQ")  # type, flags, length, version, sender id, time stamp
_REPORT = struct.Struct(f"!BBHIQQI{LOCATION_SIZE}s{STATUS_SIZE}sHH")
_ASSOCIATION = struct.Struct("!QQHHI")
FIXED_SIZE = _REPORT.size  # 288
ASSOCIATION_SIZE = _ASSOCIATION.size  # 24
MAX_ASSOCIATIONS = (0xFFFF - FIXED_SIZE) // ASSOCIATION_SIZE  # what one datagram may carry


class ComponentGroup(enum.IntEnum):
    """The top byte of a component id: which role reports."""

    REGISTRAR = 1
    POOL_ELEMENT = 2
    POOL_USER = 3


def component_id(group: int, object_id: int) -> int:
    """The 64-bit component id of ``object_id`` (56 bits kept) in ``group``."""
    return ((group & 0xFF) << 56) | (object_id & OBJECT_MASK)


def group_of(cid: int) -> int:
    """The group (:class:`ComponentGroup` value, or another number) of a component id."""
    return (cid >> 56) & 0xFF


def object_of(cid: int) -> int:
    """The 56-bit object part of a component id (a registrar's or PE's identifier)."""
    return cid & OBJECT_MASK


@dataclass(frozen=True, slots=True)
class ComponentAssociation:
    """One association a component reports: to whom, since when, carrying what."""

    receiver_id: int
    duration_us: int | None = None  # None: unknown (all ones on the wire)
    flags: int = 0
    protocol_id: int = PROTOCOL_SCTP
    ppid: int = 0


@dataclass(frozen=True, slots=True)
class ComponentStatusReport:
    """One CSP report. ``workload`` is 0..1 or None (unknown); ``final`` the FINAL flag."""

    sender_id: int
    sender_timestamp_us: int
    report_interval_us: int
    location: str = ""
    status: str = ""
    workload: float | None = None
    associations: tuple[ComponentAssociation, ...] = ()
    final: bool = False
    flags: int = 0  # flag bits other than FINAL, kept as received


def encode_report(report: ComponentStatusReport, *, length_field: int = TRUE_LENGTH) -> bytes:
    """The datagram of ``report``; the header's Length is its size (``TRUE_LENGTH``, what
    RSPLIB 3.4.4 sends) unless ``length_field`` gives another value (``ZERO_LENGTH``)."""
    n = len(report.associations)
    if n > MAX_ASSOCIATIONS:
        raise EncodeError(f"{n} associations do not fit one report (at most {MAX_ASSOCIATIONS})")
    size = FIXED_SIZE + n * ASSOCIATION_SIZE
    flags = (report.flags & ~FLAG_FINAL | (FLAG_FINAL if report.final else 0)) & 0xFF
    try:
        head = _REPORT.pack(
            CSP_REPORT,
            flags,
            size if length_field < 0 else length_field,
            CSP_VERSION,
            report.sender_id,
            report.sender_timestamp_us,
            report.report_interval_us,
            _text(report.location, "location"),
            _text(report.status, "status"),
            _workload(report.workload),
            n,
        )
        body = b"".join(
            _ASSOCIATION.pack(
                a.receiver_id,
                DURATION_UNKNOWN if a.duration_us is None else a.duration_us,
                a.flags,
                a.protocol_id,
                a.ppid,
            )
            for a in report.associations
        )
    except struct.error as exc:
        raise EncodeError(f"CSP report field out of range: {exc}") from None
    return head + body


def decode_report_untrusted(data: bytes) -> ComponentStatusReport:
    """Decode one datagram as a monitor does: Type 1, Version 0x0200, and exactly 288 + 24 n
    bytes for n associations; the Length field that size or 0 (module docstring). Raises only
    :class:`DecodeError`."""
    size = len(data)
    if size < _HEADER.size:
        raise DecodeError(f"CSP datagram of {size} bytes is shorter than its header (24)")
    kind, flags, length, version, _, _ = _HEADER.unpack_from(data)
    if kind != CSP_REPORT:
        raise DecodeError(f"CSP message type {kind} is not a report (1)")
    if version != CSP_VERSION:
        raise DecodeError(f"CSP version {version:#06x} is not {CSP_VERSION:#06x}")
    if size < FIXED_SIZE:
        raise DecodeError(f"CSP report of {size} bytes is shorter than its fixed part (288)")
    fields = _REPORT.unpack_from(data)
    n = fields[-1]
    if size != FIXED_SIZE + n * ASSOCIATION_SIZE:
        raise DecodeError(
            f"CSP report of {size} bytes does not hold its {n} associations "
            f"({FIXED_SIZE + n * ASSOCIATION_SIZE} bytes)",
            offset=FIXED_SIZE,
        )
    if length not in (ZERO_LENGTH, size):
        raise DecodeError(
            f"CSP Length {length} is neither 0 nor the report's size {size}", offset=2
        )
    associations = tuple(
        ComponentAssociation(
            receiver_id=rid,
            duration_us=None if duration == DURATION_UNKNOWN else duration,
            flags=aflags,
            protocol_id=protocol,
            ppid=ppid,
        )
        for rid, duration, aflags, protocol, ppid in _ASSOCIATION.iter_unpack(data[FIXED_SIZE:])
    )
    load = fields[9]
    return ComponentStatusReport(
        sender_id=fields[4],
        sender_timestamp_us=fields[5],
        report_interval_us=fields[6],
        location=_untext(fields[7]),
        status=_untext(fields[8]),
        workload=None if load == WORKLOAD_UNKNOWN else min(load / 0xFFFE, 1.0),
        associations=associations,
        final=bool(flags & FLAG_FINAL),
        flags=flags & ~FLAG_FINAL,
    )


def _text(text: str, what: str) -> bytes:
    """Up to 128 bytes of UTF-8, cut at a character boundary (struct pads with NULs)."""
    raw = text.encode("utf-8", "replace")
    if len(raw) > LOCATION_SIZE:
        raw = raw[:LOCATION_SIZE].decode("utf-8", "ignore").encode()
    if b"\x00" in raw:
        raise EncodeError(f"CSP {what} text must not contain NUL")
    return raw


def _untext(raw: bytes) -> str:
    """A fixed-size text field: up to its first NUL, undecodable bytes replaced."""
    return raw.split(b"\x00", 1)[0].decode("utf-8", "replace")


def _workload(load: float | None) -> int:
    """RSPLIB's CSR_SET_WORKLOAD: unknown (None or negative) → 0xFFFF, else round(w x 0xFFFE)."""
    if load is None or load < 0.0:
        return WORKLOAD_UNKNOWN
    return min(round(load * 0xFFFE), 0xFFFE)
