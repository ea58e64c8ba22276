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


class LostReason(enum.Enum):
    ABORTED = "peer sent ABORT"
    RETRANSMISSIONS = "Association.Max.Retrans exceeded"
    INIT_FAILED = "Max.Init.Retransmits exceeded"
    LOCAL_ABORT = "aborted by the user"
    PROTOCOL_ERROR = "protocol error"


@dataclass(frozen=True, slots=True)
class CommunicationLost(SctpEvent):
    """§11.2.5: the association is gone without a graceful shutdown.

    ``unsent``/``unacked``: how many user messages had not been sent / acknowledged."""

    reason: LostReason
    causes: tuple[ErrorCause, ...] = ()
    unsent: int = 0
    unacked: int = 0


@dataclass(frozen=True, slots=True)
class Restart(SctpEvent):
    """§11.2.7: the peer restarted (§5.2.4 action A); the association goes on, reset."""


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
