"""The registrar driver's sockets: one SCTP endpoint with its bookkeeping, the addresses the
registrar may advertise, and closing a socket whatever state it is in."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import trio

from rserpool.drivers.associations import AssociationTable, parse_ip
from rserpool.proto.common import Endpoint, IPAddress
from rserpool.scope import AddressScope, address_scope
from rserpool.transport import Address, Received, SctpEndpoint, TransportError, UdpSocket


@runtime_checkable
class Immediate(Protocol):
    """The optional non-checkpointing calls of an endpoint (``KernelEndpoint`` has them)."""

    def receive_nowait(self) -> Received | None: ...

    def send_nowait(self, assoc_id: int, data: bytes, ppid: int) -> bool: ...


@dataclass
class Socket:
    """One endpoint with the bookkeeping the driver keeps for it."""

    kind: Endpoint
    sctp: SctpEndpoint
    table: AssociationTable = field(default_factory=AssociationTable)
    immediate: Immediate | None = None
    received_types: list[int] = field(default_factory=lambda: [0] * 256)
    sent_types: list[int] = field(default_factory=lambda: [0] * 256)

    name: str = field(init=False)  # the kind's name: "ASAP" or "ENRP"

    def __post_init__(self) -> None:
        self.name = self.kind.value  # once, not an enum property lookup per message
        if isinstance(self.sctp, Immediate):
            self.immediate = self.sctp


def advertised(addresses: Sequence[Address], min_scope: AddressScope) -> tuple[IPAddress, ...]:
    """The local addresses the registrar may put into a transport parameter."""
    found: list[IPAddress] = []
    for host, _port in addresses:
        ip = parse_ip(host)
        if ip is None or ip in found:
            continue
        scope = address_scope(ip)
        if scope >= min_scope and scope > AddressScope.UNSPECIFIED:
            found.append(ip)
    return tuple(found)


async def close(sock: SctpEndpoint | UdpSocket) -> None:
    with trio.CancelScope(shield=True), suppress(TransportError, OSError):
        await sock.aclose()
