"""Annotated hex dumps of ASAP/ENRP messages: offsets, raw bytes and RFC field names.

:func:`dump` walks the bytes itself (it does not need a decodable message), so it also shows
where a malformed message goes wrong. It never raises for bad input.
"""

from __future__ import annotations

import ipaddress
import struct

from rserpool.wire.buffer import U16, U32, pad4
from rserpool.wire.codec import decode_message_untrusted
from rserpool.wire.constants import (
    POLICY_FIELDS,
    PPID,
    AsapType,
    Cause,
    EnrpType,
    ParamType,
    PolicyType,
    TransportUse,
    UnknownParameterAction,
    UpdateAction,
)
from rserpool.wire.errors import DecodeError

# Flag bit names per (PPID, message type), bit 0 first.
_FLAGS: dict[tuple[int, int], tuple[str, ...]] = {
    (PPID.ASAP, AsapType.REGISTRATION_RESPONSE): ("R (reject)",),
    (PPID.ASAP, AsapType.HANDLE_RESOLUTION): ("S (subscribe)",),
    (PPID.ASAP, AsapType.HANDLE_RESOLUTION_RESPONSE): ("A (updates accepted)",),
    (PPID.ASAP, AsapType.ENDPOINT_KEEP_ALIVE): ("H (home)",),
    (PPID.ENRP, EnrpType.PRESENCE): ("R (reply required)",),
    (PPID.ENRP, EnrpType.HANDLE_TABLE_REQUEST): ("W (own children only)",),
    (PPID.ENRP, EnrpType.HANDLE_TABLE_RESPONSE): ("R (reject)", "M (more to send)"),
    (PPID.ENRP, EnrpType.HANDLE_UPDATE): ("T (takeover suggested)",),
    (PPID.ENRP, EnrpType.LIST_RESPONSE): ("R (reject)",),
}
_PARAM_NAMES = {
    ParamType.IPV4_ADDRESS: "IPv4 Address",
    ParamType.IPV6_ADDRESS: "IPv6 Address",
    ParamType.DCCP_TRANSPORT: "DCCP Transport",
    ParamType.SCTP_TRANSPORT: "SCTP Transport",
    ParamType.TCP_TRANSPORT: "TCP Transport",
    ParamType.UDP_TRANSPORT: "UDP Transport",
    ParamType.UDP_LITE_TRANSPORT: "UDP-Lite Transport",
    ParamType.POOL_MEMBER_SELECTION_POLICY: "Pool Member Selection Policy",
    ParamType.POOL_HANDLE: "Pool Handle",
    ParamType.POOL_ELEMENT: "Pool Element",
    ParamType.SERVER_INFORMATION: "Server Information",
    ParamType.OPERATION_ERROR: "Operation Error",
    ParamType.COOKIE: "Cookie",
    ParamType.PE_IDENTIFIER: "PE Identifier",
    ParamType.PE_CHECKSUM: "PE Checksum",
    ParamType.OPAQUE_TRANSPORT: "Opaque Transport",
    ParamType.HANDLE_RESOLUTION_OPTION: "Handle Resolution Option",
}
_ACTIONS = {
    UnknownParameterAction.STOP: "stop",
    UnknownParameterAction.STOP_AND_REPORT: "stop+report",
    UnknownParameterAction.SKIP: "skip",
    UnknownParameterAction.SKIP_AND_REPORT: "skip+report",
}
_HEX_WIDTH = 8  # bytes of hex per line


class _Truncated(Exception):
    pass


class _Dumper:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.lines: list[str] = []

    def line(self, offset: int, size: int, depth: int, text: str) -> None:
        raw = self.data[offset : offset + size]
        if len(raw) < size:
            raise _Truncated(offset)
        pad = "  " * depth
        chunks = [raw[i : i + _HEX_WIDTH] for i in range(0, max(len(raw), 1), _HEX_WIDTH)]
        for i, chunk in enumerate(chunks):
            label = text if i == 0 else ""
            hexed = chunk.hex(" ")
            self.lines.append(f"{offset + i * _HEX_WIDTH:04x}  {hexed:<23}  {pad}{label}".rstrip())

    def u8(self, offset: int) -> int:
        if offset >= len(self.data):
            raise _Truncated(offset)
        return self.data[offset]

    def u16(self, offset: int) -> int:
        if offset + 2 > len(self.data):
            raise _Truncated(offset)
        return int(U16.unpack_from(self.data, offset)[0])

    def u32(self, offset: int) -> int:
        if offset + 4 > len(self.data):
            raise _Truncated(offset)
        return int(U32.unpack_from(self.data, offset)[0])

    def field32(self, offset: int, depth: int, name: str, suffix: str = "") -> int:
        value = self.u32(offset)
        self.line(offset, 4, depth, f"{name} = {value:#010x} ({value}){suffix}")
        return value

    def padding(self, offset: int, count: int, depth: int) -> None:
        count = min(count, len(self.data) - offset)
        if count > 0:
            self.line(offset, count, depth, "(padding)")

    # -- parameters ----------------------------------------------------------------------
    def tlvs(self, start: int, end: int, depth: int) -> None:
        pos = start
        while pos < end:
            if end - pos < 4:
                self.line(pos, end - pos, depth, "!! stray bytes, too short for a parameter")
                return
            pos = self.param(pos, end, depth)

    def param(self, pos: int, end: int, depth: int) -> int:
        ptype, length = self.u16(pos), self.u16(pos + 2)
        name = _PARAM_NAMES.get(ptype, "unknown parameter")  # type: ignore[call-overload]
        action = _ACTIONS[UnknownParameterAction.of(ptype)]
        self.line(pos, 2, depth, f"Parameter Type = {ptype:#06x} ({name}; action bits: {action})")
        self.line(pos + 2, 2, depth, f"Parameter Length = {length}")
        if length < 4 or pos + length > end:
            self.lines.append(f"      !! parameter length {length} does not fit in {end - pos}")
            raise _Truncated(pos)
        self.value(ptype, pos + 4, pos + length, depth + 1)
        self.padding(pos + length, min(pad4(length), end - pos - length), depth)
        return pos + length + pad4(length)

    def value(self, ptype: int, at: int, end: int, depth: int) -> None:
        n = end - at
        if ptype == ParamType.IPV4_ADDRESS and n == 4:
            self.line(at, 4, depth, f"IPv4 Address = {ipaddress.IPv4Address(self.data[at:end])}")
        elif ptype == ParamType.IPV6_ADDRESS and n == 16:
            self.line(at, 16, depth, f"IPv6 Address = {ipaddress.IPv6Address(self.data[at:end])}")
        elif ptype in (ParamType.SCTP_TRANSPORT, ParamType.TCP_TRANSPORT) and n >= 4:
            proto = "SCTP" if ptype == ParamType.SCTP_TRANSPORT else "TCP"
            self.line(at, 2, depth, f"{proto} Port = {self.u16(at)}")
            use = self.u16(at + 2)
            use_name = TransportUse(use).name if use <= 1 else "invalid"
            self.line(at + 2, 2, depth, f"Transport Use = {use:#06x} ({use_name})")
            self.tlvs(at + 4, end, depth)
        elif ptype in (ParamType.UDP_TRANSPORT, ParamType.UDP_LITE_TRANSPORT) and n >= 4:
            proto = "UDP" if ptype == ParamType.UDP_TRANSPORT else "UDP-Lite"
            self.line(at, 2, depth, f"{proto} Port = {self.u16(at)}")
            self.line(at + 2, 2, depth, "(reserved)")
            self.tlvs(at + 4, end, depth)
        elif ptype == ParamType.DCCP_TRANSPORT and n >= 8:
            self.line(at, 2, depth, f"DCCP Port = {self.u16(at)}")
            self.line(at + 2, 2, depth, "(reserved)")
            self.field32(at + 4, depth, "DCCP Service Code")
            self.tlvs(at + 8, end, depth)
        elif ptype == ParamType.POOL_MEMBER_SELECTION_POLICY and n >= 4:
            self.policy(at, end, depth)
        elif ptype == ParamType.POOL_HANDLE:
            self.line(at, n, depth, f"Pool Handle = {self.data[at:end]!r}")
        elif ptype == ParamType.POOL_ELEMENT and n >= 12:
            self.field32(at, depth, "PE Identifier")
            self.field32(at + 4, depth, "Home ENRP Server Identifier")
            self.field32(at + 8, depth, "Registration Life", " ms")
            self.tlvs(at + 12, end, depth)
        elif ptype == ParamType.SERVER_INFORMATION and n >= 4:
            self.field32(at, depth, "Server ID")
            self.tlvs(at + 4, end, depth)
        elif ptype == ParamType.OPERATION_ERROR:
            self.causes(at, end, depth)
        elif ptype == ParamType.COOKIE:
            self.line(at, n, depth, f"Cookie ({n} bytes)")
        elif ptype == ParamType.PE_IDENTIFIER and n == 4:
            self.field32(at, depth, "PE Identifier")
        elif ptype == ParamType.PE_CHECKSUM and n == 2:
            self.line(at, 2, depth, f"PE Checksum = {self.u16(at):#06x}")
        elif ptype == ParamType.HANDLE_RESOLUTION_OPTION and n == 4:
            items = self.u32(at)
            meaning = {0: " (server default)", 0xFFFFFFFF: " (all)"}.get(items, "")
            self.line(at, 4, depth, f"Items = {items:#010x}{meaning}")
        elif n:
            self.line(at, n, depth, f"Parameter Value ({n} bytes)")

    def policy(self, at: int, end: int, depth: int) -> None:
        code = self.u32(at)
        try:
            policy_type: PolicyType | None = PolicyType(code)
            name = PolicyType(code).name
        except ValueError:
            policy_type, name = None, "unknown policy"
        self.line(at, 4, depth, f"Policy Type = {code:#010x} ({name})")
        pos = at + 4
        for field in POLICY_FIELDS.get(policy_type, ()) if policy_type else ():
            if pos + 4 > end:
                break
            self.field32(pos, depth, field.replace("_", " ").title())
            pos += 4
        if pos < end:
            self.line(pos, end - pos, depth, "Policy-specific Data")

    def causes(self, at: int, end: int, depth: int) -> None:
        pos = at
        while pos + 4 <= end:
            code, length = self.u16(pos), self.u16(pos + 2)
            try:
                name = Cause(code).name
            except ValueError:
                name = "unknown cause"
            self.line(pos, 2, depth, f"Cause Code = {code:#06x} ({name})")
            self.line(pos + 2, 2, depth, f"Cause Length = {length}")
            if length < 4 or pos + length > end:
                raise _Truncated(pos)
            if length > 4:
                self.line(pos + 4, length - 4, depth, "Cause-Specific Information")
            pos += length
            if pos < end:
                self.padding(pos, pad4(length), depth)
                pos += pad4(length)

    # -- messages ------------------------------------------------------------------------
    def message(self, ppid: int) -> None:
        mtype, flags, length = self.u8(0), self.u8(1), self.u16(2)
        types = {PPID.ASAP: AsapType, PPID.ENRP: EnrpType}.get(ppid)  # type: ignore[call-overload]
        proto = "ASAP" if ppid == PPID.ASAP else "ENRP" if ppid == PPID.ENRP else f"PPID {ppid}"
        try:
            tname = types(mtype).name if types else "?"
        except ValueError:
            tname = "unknown"
        self.line(0, 1, 0, f"Message Type = {mtype:#04x} ({proto} {tname})")
        bits = _FLAGS.get((ppid, mtype), ())
        names = [f"{name}={flags >> i & 1}" for i, name in enumerate(bits)]
        self.line(
            1, 1, 0, f"Message Flags = {flags:#04x}" + (f" [{', '.join(names)}]" if names else "")
        )
        self.line(2, 2, 0, f"Message Length = {length}")
        end = min(length, len(self.data))
        pos = 4
        if ppid == PPID.ENRP:
            self.field32(4, 1, "Sending Server's ID")
            self.field32(8, 1, "Receiving Server's ID")
            pos = 12
            if mtype == EnrpType.HANDLE_UPDATE:
                action = self.u16(12)
                aname = UpdateAction(action).name if action <= 1 else "invalid"
                self.line(12, 2, 1, f"Update Action = {action:#06x} ({aname})")
                self.line(14, 2, 1, "(reserved)")
                pos = 16
            elif mtype in (
                EnrpType.INIT_TAKEOVER,
                EnrpType.INIT_TAKEOVER_ACK,
                EnrpType.TAKEOVER_SERVER,
            ):
                self.field32(12, 1, "Targeting Server's ID")
                pos = 16
        elif ppid == PPID.ASAP and mtype in (
            AsapType.ENDPOINT_KEEP_ALIVE,
            AsapType.SERVER_ANNOUNCE,
        ):
            self.field32(4, 1, "Server Identifier")
            pos = 8
        self.tlvs(pos, end, 1)
        if length < len(self.data):
            self.padding(length, len(self.data) - length, 0)


def dump(data: bytes, ppid: int) -> str:
    """An annotated dump of one message: ``offset  hex bytes  field = value`` per line.

    The last line is the decoder's verdict: the message summary, or the DecodeError.
    """
    data = bytes(data)
    dumper = _Dumper(data)
    try:
        dumper.message(ppid)
    except _Truncated as exc:
        dumper.lines.append(f"!! malformed or truncated at offset {exc.args[0]:#06x}")
    except (struct.error, IndexError, ValueError) as exc:
        dumper.lines.append(f"!! malformed ({type(exc).__name__}: {exc})")
    try:
        verdict = "=> " + decode_message_untrusted(ppid, data).summary()
    except DecodeError as exc:
        verdict = f"=> DecodeError: {exc} [cause {exc.cause.name}, report={exc.report}]"
    return "\n".join([*dumper.lines, verdict])
