"""What a registrar observed, in past tense and RFC terms.

``str(event)`` is the event's one log line, the only rendering there is: identifiers as RSPLIB
writes them (``$00002001``), so that a log of ours and one of ``rspregistrar`` read alike.
:mod:`rserpool.presentation.eventlog` chooses the level of each.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from rserpool.proto.common import AssocId, Endpoint, Event, TransportAddress
from rserpool.proto.common import MessageIgnored as MessageIgnored  # shared with the PE/PU
from rserpool.wire.quickinit import quick_init
from rserpool.wire.text import cause_text, handle_text, ident


def _pe(handle: bytes, pe_id: int) -> str:
    return f"{handle_text(handle)}/{pe_id:#010x}"


def _cause(cause: int | None) -> str:
    return "" if cause is None else f" cause {cause:#06x}"


class RemovalReason(enum.Enum):
    DEREGISTERED = "deregistered"
    KEEP_ALIVE_TIMEOUT = "no Endpoint Keep Alive Ack"
    UNREACHABLE = "reported unreachable"
    ASSOCIATION_LOST = "registration association lost"
    EXPIRED = "registration life expired"
    HANDLE_UPDATE = "Handle Update DEL_PE"
    RESYNC_PURGE = "not in the peer's Handle Table (audit)"


class PeerLossReason(enum.Enum):
    NO_RESPONSE = "no Presence within max-time-no-response"
    TAKEN_OVER = "taken over"
    TAKEOVER_EXPIRED = "takeover expired without all acks"
    INACTIVE = "stayed silent while another registrar took it over"


class TakeoverAbortReason(enum.Enum):
    TARGET_ALIVE = "the target sent Presence"
    LOWER_ID_WINS = "a registrar with a lower id is taking over"
    TAKEN_OVER_ELSEWHERE = "another registrar completed the takeover"


# ------------------------------------------------------------------------------- ASAP


@quick_init
@dataclass(frozen=True, slots=True)
class PoolElementRegistered(Event):
    """A Registration was granted; ``created`` is False for a re-registration (update)."""

    pool_handle: bytes
    pe_id: int
    assoc_id: AssocId
    created: bool

    def __str__(self) -> str:
        what = "Registration" if self.created else "Re-registration"
        return (
            f"{what} of PE {ident(self.pe_id)} in {handle_text(self.pool_handle)} accepted "
            f"(ASAP assoc {self.assoc_id})"
        )


@quick_init
@dataclass(frozen=True, slots=True)
class RegistrationRefused(Event):
    pool_handle: bytes
    pe_id: int
    assoc_id: AssocId
    cause: int

    def __str__(self) -> str:
        return (
            f"Registration of PE {ident(self.pe_id)} in {handle_text(self.pool_handle)} "
            f"rejected: {cause_text(self.cause)}"
        )


@dataclass(frozen=True, slots=True)
class DeregistrationRefused(Event):
    """A Deregistration for a PE registered by someone else (docs/registrar.md, "Hostile
    input"): answered with ``cause``, nothing changed."""

    pool_handle: bytes
    pe_id: int
    assoc_id: AssocId
    cause: int

    def __str__(self) -> str:
        return (
            f"Deregistration of PE {ident(self.pe_id)} in {handle_text(self.pool_handle)} "
            f"from ASAP assoc {self.assoc_id} refused: {cause_text(self.cause)}"
        )


@dataclass(frozen=True, slots=True)
class PoolElementLearned(Event):
    """A peer's Handle Update ADD_PE or Handle Table Response entry was applied."""

    pool_handle: bytes
    pe_id: int
    home_registrar_id: int
    peer_id: int
    created: bool

    def __str__(self) -> str:
        what = "learned" if self.created else "updated"
        return (
            f"PE {ident(self.pe_id)} in {handle_text(self.pool_handle)} {what} from peer "
            f"{ident(self.peer_id)} (home registrar {ident(self.home_registrar_id)})"
        )


@quick_init
@dataclass(frozen=True, slots=True)
class PoolElementRemoved(Event):
    pool_handle: bytes
    pe_id: int
    home_registrar_id: int
    reason: RemovalReason

    def __str__(self) -> str:
        return (
            f"PE {ident(self.pe_id)} in {handle_text(self.pool_handle)} (home "
            f"{ident(self.home_registrar_id)}) removed: {self.reason.value}"
        )


@quick_init
@dataclass(frozen=True, slots=True)
class HandleResolved(Event):
    """A Handle Resolution was answered with these PEs, or with an Operation Error."""

    assoc_id: AssocId
    pool_handle: bytes
    pe_ids: tuple[int, ...]
    cause: int | None = None

    def __str__(self) -> str:
        ids = ",".join(f"{i:#010x}" for i in self.pe_ids)
        return f"Handle Resolution {handle_text(self.pool_handle)} -> [{ids}]{_cause(self.cause)}"


@dataclass(frozen=True, slots=True)
class EndpointUnreachableReported(Event):
    pool_handle: bytes
    pe_id: int
    reports: int  # the count after this report; 0 if the PE is unknown
    removed: bool

    def __str__(self) -> str:
        return f"Endpoint Unreachable for PE {_pe(self.pool_handle, self.pe_id)} ({self.reports})"


@dataclass(frozen=True, slots=True)
class RateLimited(Event):
    """A PU exceeded ``max_hr_rate`` or ``max_eu_rate``; the request was refused or ignored."""

    assoc_id: AssocId
    message: str
    pool_handle: bytes

    def __str__(self) -> str:
        return f"{self.message} from assoc {self.assoc_id} rate-limited"


# --------------------------------------------------------------------------- bad input


@dataclass(frozen=True, slots=True)
class MessageRejected(Event):
    """Input that could not be decoded; ``replied``: an ASAP/ENRP Error went back."""

    endpoint: Endpoint
    assoc_id: AssocId | None
    reason: str
    cause: int | None
    replied: bool

    def __str__(self) -> str:
        return f"bad {self.endpoint.value} message: {self.reason}{_cause(self.cause)}"


@dataclass(frozen=True, slots=True)
class AssociationAborted(Event):
    endpoint: Endpoint
    assoc_id: AssocId
    reason: str

    def __str__(self) -> str:
        return f"aborted {self.endpoint.value} assoc {self.assoc_id}: {self.reason}"


# ------------------------------------------------------------------------------- ENRP


@dataclass(frozen=True, slots=True)
class PeerAdded(Event):
    server_id: int
    transport: TransportAddress

    def __str__(self) -> str:
        return f"Peer registrar {ident(self.server_id)} added at {self.transport}"


@dataclass(frozen=True, slots=True)
class PeerLost(Event):
    server_id: int
    reason: PeerLossReason

    def __str__(self) -> str:
        return f"Peer registrar {ident(self.server_id)} removed: {self.reason.value}"


@dataclass(frozen=True, slots=True)
class MentorSelected(Event):
    server_id: int

    def __str__(self) -> str:
        return f"mentor peer {self.server_id:#010x} selected"


@dataclass(frozen=True, slots=True)
class StartupCompleted(Event):
    """The initialisation phase ended (RFC 5353 §3.2); announces start now."""

    mentor_id: int | None

    def __str__(self) -> str:
        src = "no mentor" if self.mentor_id is None else f"mentor {self.mentor_id:#010x}"
        return f"startup completed ({src})"


@dataclass(frozen=True, slots=True)
class HandleTableSynchronized(Event):
    """The last Handle Table Response from a peer arrived (mentor download or audit)."""

    server_id: int
    own_children_only: bool
    pe_count: int
    purged: int

    def __str__(self) -> str:
        scope = "own-children" if self.own_children_only else "full"
        return (
            f"{scope} handle table of peer {self.server_id:#010x} synchronised: "
            f"{self.pe_count} PE(s), {self.purged} purged"
        )


@dataclass(frozen=True, slots=True)
class PeerChecksumMismatched(Event):
    server_id: int
    expected: int
    received: int

    def __str__(self) -> str:
        return (
            f"peer {self.server_id:#010x} checksum {self.received:#06x} != "
            f"{self.expected:#06x}: resynchronising"
        )


@dataclass(frozen=True, slots=True)
class TakeoverStarted(Event):
    target_id: int
    awaiting: tuple[int, ...]

    def __str__(self) -> str:
        return f"takeover of {self.target_id:#010x} started, awaiting {len(self.awaiting)} ack(s)"


@dataclass(frozen=True, slots=True)
class TakeoverAborted(Event):
    target_id: int
    reason: TakeoverAbortReason

    def __str__(self) -> str:
        return f"takeover of {self.target_id:#010x} aborted: {self.reason.value}"


@dataclass(frozen=True, slots=True)
class TakeoverCompleted(Event):
    """``new_home_id`` took over ``target_id``'s PEs (ourselves, or a peer's Takeover Server)."""

    target_id: int
    new_home_id: int
    pe_count: int

    def __str__(self) -> str:
        return (
            f"Takeover of registrar {ident(self.target_id)} completed: registrar "
            f"{ident(self.new_home_id)} is the new home of {self.pe_count} PE(s)"
        )


@dataclass(frozen=True, slots=True)
class ErrorReceived(Event):
    endpoint: Endpoint
    assoc_id: AssocId | None
    summary: str

    def __str__(self) -> str:
        return f"received {self.summary}"
