"""The transport interface every role is written against, and its value types.

Two implementations exist: :mod:`rserpool.transport.kernel` (kernel SCTP through pysctp and the
stdlib, UDP multicast) and :mod:`rserpool.transport.memory` (an in-memory network in virtual
time). Roles receive a :class:`Host` and never touch a socket.

Addresses are ``(ip, port)`` tuples of strings and ints, as the socket module spells them.
Times are seconds (floats), as Trio spells them.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import trio

from rserpool.errors import TransportError as TransportError  # defined there, public here

Address = tuple[str, int]

#: RSPLIB's announce groups: ASAP Server Announce and ENRP Presence.
ASAP_ANNOUNCE_GROUP: Address = ("239.0.0.50", 3863)
ENRP_ANNOUNCE_GROUP: Address = ("239.0.0.51", 9901)
ANNOUNCE_TTL = 30


class AssociationGone(TransportError, trio.BrokenResourceError):
    """The association does not exist (any more), or is shutting down."""


class CannotConnect(TransportError):
    """A one-to-one association could not be established (CANT_STR_ASSOC)."""


@dataclass(frozen=True)
class AssociationParams:
    """Per-association (or per-endpoint default) SCTP retransmission settings.

    ``None`` leaves a setting as it is. ``max_retrans`` is the association's retransmission
    budget (Association.Max.Retrans): the association fails after that many consecutive
    timeouts without an answer on any path. ``path_max_retrans`` (Path.Max.Retrans) marks one
    path unreachable.
    """

    rto_initial: float | None = None
    rto_min: float | None = None
    rto_max: float | None = None
    heartbeat_interval: float | None = None
    path_max_retrans: int | None = None
    max_retrans: int | None = None


@dataclass(frozen=True)
class SctpMessage:
    """One SCTP user message with its PPID (host order), stream and association."""

    data: bytes
    ppid: int
    stream: int = 0
    assoc_id: int = 0
    unordered: bool = False
    source: Address | None = None  # the peer address it arrived from, where known


class AddressState(enum.IntEnum):
    """``spc_state`` of a PEER_ADDR_CHANGE notification (RFC 6458 §6.1.2)."""

    AVAILABLE = 0
    UNREACHABLE = 1
    REMOVED = 2
    ADDED = 3
    MADE_PRIMARY = 4
    CONFIRMED = 5
    POTENTIALLY_FAILED = 6


@dataclass(frozen=True)
class CommUp:
    assoc_id: int
    outbound_streams: int = 0
    inbound_streams: int = 0


@dataclass(frozen=True)
class CommLost:
    assoc_id: int
    error: int = 0


@dataclass(frozen=True)
class Restart:
    assoc_id: int


@dataclass(frozen=True)
class ShutdownComplete:
    assoc_id: int


@dataclass(frozen=True)
class CantStartAssociation:
    assoc_id: int
    error: int = 0


@dataclass(frozen=True)
class PeerShutdown:
    """The peer started a graceful shutdown (SHUTDOWN_EVENT)."""

    assoc_id: int


@dataclass(frozen=True)
class PeerAddressChange:
    assoc_id: int
    address: Address
    state: AddressState
    error: int = 0


@dataclass(frozen=True)
class SendFailed:
    """A message was not (or not reliably) delivered; ``sent`` says whether it left at all."""

    assoc_id: int
    data: bytes
    ppid: int
    stream: int
    error: int = 0
    sent: bool = False


SctpEvent = (
    CommUp
    | CommLost
    | Restart
    | ShutdownComplete
    | CantStartAssociation
    | PeerShutdown
    | PeerAddressChange
    | SendFailed
)
Received = SctpMessage | SctpEvent

#: Events after which an association no longer exists.
ENDING_EVENTS = (CommLost, ShutdownComplete, CantStartAssociation)


@dataclass(frozen=True)
class Datagram:
    data: bytes
    source: Address


class SctpEndpoint(Protocol):
    """A one-to-many SCTP endpoint (SOCK_SEQPACKET): what a registrar listens on."""

    @property
    def port(self) -> int: ...

    def local_addresses(self) -> list[Address]: ...

    def peer_addresses(self, assoc_id: int) -> list[Address]: ...

    async def connect(self, addresses: Sequence[Address]) -> int:
        """Start an association (returns its id at once); CommUp or CantStartAssociation
        follows through :meth:`receive`."""
        ...

    async def send(
        self, assoc_id: int, data: bytes, ppid: int, stream: int = 0, unordered: bool = False
    ) -> None: ...

    async def receive(self) -> Received: ...

    def set_association_params(self, assoc_id: int, params: AssociationParams) -> None:
        """Settings for one association, or for associations made later when ``assoc_id``
        is 0."""
        ...

    async def shutdown(self, assoc_id: int) -> None: ...

    async def abort(self, assoc_id: int) -> None: ...

    async def aclose(self) -> None: ...


class SctpAssociation(Protocol):
    """A one-to-one association (SOCK_STREAM style): a PE/PU session."""

    @property
    def assoc_id(self) -> int: ...

    def local_addresses(self) -> list[Address]: ...

    def peer_addresses(self) -> list[Address]: ...

    async def send(
        self, data: bytes, ppid: int, stream: int = 0, unordered: bool = False
    ) -> None: ...

    async def receive(self) -> Received:
        """The next message or event; raises trio.EndOfChannel once the association ended
        and everything was read."""
        ...

    def set_association_params(self, params: AssociationParams) -> None: ...

    async def shutdown(self) -> None: ...

    async def abort(self) -> None: ...

    async def aclose(self) -> None: ...


class SctpListener(Protocol):
    """A listening one-to-one socket."""

    @property
    def port(self) -> int: ...

    async def accept(self) -> SctpAssociation: ...

    async def aclose(self) -> None: ...


class UdpSocket(Protocol):
    """A UDP socket for announces: multicast sent on every multicast-capable interface with
    TTL 30 and loopback delivery; received with source address and port."""

    @property
    def port(self) -> int: ...

    async def send(self, data: bytes, destination: Address) -> None: ...

    async def receive(self) -> Datagram: ...

    async def aclose(self) -> None: ...


class Host(Protocol):
    """One machine (kernel: a network namespace; memory: a simulated host)."""

    def addresses(self) -> list[str]: ...

    async def sctp_endpoint(
        self,
        port: int = 0,
        addresses: Sequence[str] | None = None,
        params: AssociationParams | None = None,
    ) -> SctpEndpoint: ...

    async def sctp_connect(
        self,
        remote: Sequence[Address],
        addresses: Sequence[str] | None = None,
        params: AssociationParams | None = None,
    ) -> SctpAssociation: ...

    async def sctp_listen(
        self,
        port: int = 0,
        addresses: Sequence[str] | None = None,
        params: AssociationParams | None = None,
    ) -> SctpListener: ...

    async def udp_socket(self, port: int = 0, group: str | None = None) -> UdpSocket:
        """Bound to ``port``; with ``group``, bound to that group and joined to it on every
        multicast-capable interface (an announce listener)."""
        ...
