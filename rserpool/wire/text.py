"""Short human-readable renderings of parameter values, for one-line message summaries."""

from __future__ import annotations

from collections.abc import Iterable

from rserpool.wire.constants import FULL_LOAD, Cause, PolicyType, TransportUse
from rserpool.wire.params import (
    DccpTransport,
    IPAddress,
    OpaqueTransport,
    OperationError,
    Policy,
    PoolElement,
    SctpTransport,
    ServerInformation,
    TcpTransport,
    Transport,
    UdpLiteTransport,
    UdpTransport,
    UnknownPolicy,
)

POLICY_ABBREVIATIONS: dict[PolicyType, str] = {
    PolicyType.ROUND_ROBIN: "RR",
    PolicyType.WEIGHTED_ROUND_ROBIN: "WRR",
    PolicyType.RANDOM: "RAND",
    PolicyType.WEIGHTED_RANDOM: "WRAND",
    PolicyType.PRIORITY: "PRIO",
    PolicyType.LEAST_USED: "LU",
    PolicyType.LEAST_USED_DEGRADATION: "LUD",
    PolicyType.PRIORITY_LEAST_USED: "PLU",
    PolicyType.RANDOMIZED_LEAST_USED: "RLU",
    PolicyType.RANDOMIZED_PRIORITY_LEAST_USED: "RPLU",
    PolicyType.RANDOMIZED_LEAST_USED_DEGRADATION: "RLUD",
    PolicyType.PRIORITY_LEAST_USED_DEGRADATION: "PLUD",
    PolicyType.RANDOMIZED_PRIORITY_LEAST_USED_DEGRADATION: "RPLUD",
    PolicyType.WEIGHTED_RANDOM_DPF: "WRAND-DPF",
    PolicyType.LEAST_USED_DPF: "LU-DPF",
    PolicyType.LEAST_USED_DEGRADATION_DPF: "LUD-DPF",
}
_FRACTIONS = frozenset({"load", "load_degradation", "load_dpf", "weight_dpf"})


def ident(value: int | None) -> str:
    """A registrar or PE identifier as RSPLIB prints it: ``$00002001`` (``$????????``: unknown)."""
    return "$????????" if value is None else f"${value:08x}"


def handle_text(handle: bytes) -> str:
    """A pool handle as text when it is printable ASCII, else as hex."""
    if handle and all(0x21 <= b < 0x7F for b in handle):
        return handle.decode("ascii")
    return "0x" + handle.hex()


def address_text(address: IPAddress) -> str:
    return f"[{address}]" if address.version == 6 else str(address)


def endpoint_text(addresses: Iterable[IPAddress], port: int) -> str:
    """``198.51.100.1:9901``, ``[2001:db8::1]:9901``; multi-homed: ``198.51.100.1,203.0.113.1:9901``
    (one port, every address)."""
    return ",".join(map(address_text, addresses)) + f":{port}"


def transport_text(t: Transport) -> str:
    if isinstance(t, OpaqueTransport):
        return f"Opaque({len(t.data)} bytes)"
    name = {
        SctpTransport: "SCTP",
        TcpTransport: "TCP",
        UdpTransport: "UDP",
        UdpLiteTransport: "UDP-Lite",
        DccpTransport: "DCCP",
    }[type(t)]
    addresses = ",".join(address_text(a) for a in t.addresses)
    if len(t.addresses) != 1:
        addresses = "{" + addresses + "}"
    text = f"{name} {addresses}:{t.port}"
    if isinstance(t, DccpTransport):
        text += f" service {t.service_code:#x}"
    elif (
        isinstance(t, SctpTransport | TcpTransport)
        and t.transport_use == TransportUse.DATA_PLUS_CONTROL
    ):
        text += " data+ctrl"
    return text


def policy_text(p: Policy) -> str:
    if isinstance(p, UnknownPolicy):
        return f"policy {p.policy_type:#010x}({len(p.data)} bytes)"
    parts = [POLICY_ABBREVIATIONS[p.policy_type]]
    for name, value in zip(p.fields, p.values(), strict=True):
        if name in _FRACTIONS:
            parts.append(f"{name}={100 * value / FULL_LOAD:.1f}%")
        else:
            parts.append(f"{name}={value}")
    return " ".join(parts)


def pe_text(pe: PoolElement) -> str:
    text = f"PE {pe.pe_id:#010x}"
    if pe.home_registrar_id:
        text += f" home {pe.home_registrar_id:#010x}"
    life = "inf" if pe.registration_life == 0xFFFFFFFF else f"{pe.registration_life}ms"
    text += f" life {life} {transport_text(pe.user_transport)} {policy_text(pe.policy)}"
    if pe.asap_transport is not None:
        text += f" ASAP {transport_text(pe.asap_transport)}"
    return text


def server_text(s: ServerInformation) -> str:
    return f"server {s.server_id:#010x} {transport_text(s.transport)}"


def cause_text(code: int) -> str:
    try:
        return f"{Cause(code).name}({code:#x})"
    except ValueError:
        return f"cause {code:#06x}"


def error_text(e: OperationError) -> str:
    return "error " + ",".join(cause_text(c.code) for c in e.causes)
