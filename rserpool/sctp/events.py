"""What an association tells its user: RFC 9260 §11.2's notifications, as dataclasses."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from rserpool.sctp.causes import ErrorCause
from rserpool.sctp.params import IPAddress


@dataclass(frozen=True, slots=True)
class SctpEvent:
    """Base class; ``assoc_id`` is the endpoint's number for the association."""

    assoc_id: int


@dataclass(frozen=True, slots=True)
class CommunicationUp(SctpEvent):
    """§11.2.4: the association is ESTABLISHED."""

    outbound_streams: int
    inbound_streams: int


@dataclass(frozen=True, slots=True)
class DataArrive(SctpEvent):
    """§11.2.1: one complete user message, reassembled and in order for its stream."""

    stream: int
    ppid: int
    data: bytes
    unordered: bool = False
    source: IPAddress | None = None  # the peer address of the packet that completed it


class LostReason(enum.Enum):
    ABORTED = "peer sent ABORT"
    RETRANSMISSIONS = "Association.Max.Retrans exceeded"
    INIT_FAILED = "Max.Init.Retransmits exceeded"
    LOCAL_ABORT = "aborted by the user"
    PROTOCOL_ERROR = "protocol error"
    UNREACHABLE = "peer does not speak SCTP there (ICMP unreachable)"


@dataclass(frozen=True, slots=True)
class Undelivered:
    """A user message the peer never acknowledged (§11.1.13 Receive Unsent Message and
    §11.1.14 Receive Unacknowledged Message). ``sent``: at least part of it left; ``data`` is
    what is still held of it (a partly acknowledged message lacks the acknowledged part)."""

    stream: int
    ppid: int
    data: bytes
    sent: bool


@dataclass(frozen=True, slots=True)
class CommunicationLost(SctpEvent):
    """§11.2.5: the association is gone without a graceful shutdown.

    ``unsent``/``unacked``: how many user messages had not been sent / acknowledged;
    ``undelivered`` hands them back, oldest first."""

    reason: LostReason
    causes: tuple[ErrorCause, ...] = ()
    unsent: int = 0
    unacked: int = 0
    undelivered: tuple[Undelivered, ...] = ()


@dataclass(frozen=True, slots=True)
class Restart(SctpEvent):
    """§11.2.7: the peer restarted (§5.2.4 action A); the association goes on, reset."""


@dataclass(frozen=True, slots=True)
class PeerShutdown(SctpEvent):
    """The peer sent SHUTDOWN: it sends no more data (RFC 6458's SCTP_SHUTDOWN_EVENT)."""


@dataclass(frozen=True, slots=True)
class ShutdownComplete(SctpEvent):
    """§11.2.8: the graceful shutdown finished; the association is CLOSED."""


@dataclass(frozen=True, slots=True)
class NetworkStatusChange(SctpEvent):
    """§11.2.3: a destination became active or inactive."""

    address: IPAddress
    active: bool


@dataclass(frozen=True, slots=True)
class CommunicationError(SctpEvent):
    """§11.2.6: the peer sent an ERROR chunk."""

    causes: tuple[ErrorCause, ...]
