"""The vocabulary of a registrar client (the ASAP side of a PE or PU): timers, configuration,
the actions it asks its driver for, and the events it reports. The logic is in
:mod:`rserpool.proto.client.hunt`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar, TypeAlias

from rserpool.proto.client.session import CloseSession, ConnectSession, SessionSend
from rserpool.proto.common import Abort, AssocId, Event, Send, TransportAddress


class Timer(enum.Enum):
    """The PE/PU timers, named after RFC 5352 §7.1 where the RFC has a name for them."""

    T1_ENRP_REQUEST = "T1-ENRPrequest"  # response timeout of the oldest outstanding request
    T4_REREGISTRATION = "T4-reregistration"  # subject: PE id
    T5_SERVER_HUNT = "T5-serverHunt"  # one hunt round
    T7_ENRP_OUTDATE = "T7-ENRPoutdate"  # subject: announced registrar address
    REGISTRAR_CONNECT = "registrar-connect"  # subject: attempt (RSPLIB connect timeout 7.5 s)
    SESSION_CONNECT = "session-connect"  # subject: connection (RSPLIB 5 s)
    SESSION_RETRY = "session-retry"  # subject: session (RSPLIB HR retry delay 250 ms)


# One frozen key type per timer kind: the key names the timer and carries its subject, typed.


@dataclass(frozen=True, slots=True)
class T1EnrpRequest:
    """The response timeout of the oldest outstanding request (one timer per core)."""

    timer: ClassVar[Timer] = Timer.T1_ENRP_REQUEST


@dataclass(frozen=True, slots=True)
class T4Reregistration:
    pe_id: int
    timer: ClassVar[Timer] = Timer.T4_REREGISTRATION


@dataclass(frozen=True, slots=True)
class T5ServerHunt:
    """The end of a hunt round (one timer per core)."""

    timer: ClassVar[Timer] = Timer.T5_SERVER_HUNT


@dataclass(frozen=True, slots=True)
class T7EnrpOutdate:
    address: TransportAddress
    timer: ClassVar[Timer] = Timer.T7_ENRP_OUTDATE


@dataclass(frozen=True, slots=True)
class RegistrarConnectTimeout:
    attempt: int
    timer: ClassVar[Timer] = Timer.REGISTRAR_CONNECT


@dataclass(frozen=True, slots=True)
class SessionConnectTimeout:
    connection: int
    timer: ClassVar[Timer] = Timer.SESSION_CONNECT


@dataclass(frozen=True, slots=True)
class SessionRetry:
    session: int
    timer: ClassVar[Timer] = Timer.SESSION_RETRY


TimerKey: TypeAlias = (
    T1EnrpRequest
    | T4Reregistration
    | T5ServerHunt
    | T7EnrpOutdate
    | RegistrarConnectTimeout
    | SessionConnectTimeout
    | SessionRetry
)
"""A timer of a PE or PU core: match on the key type to get its subject."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistrarHuntConfig:
    """How a PE or PU finds and talks to its home registrar (RSPLIB's ``-registrar*``).

    The RFC 5352 §7.1 defaults are replaced by RSPLIB's where they differ: the
    request timeout is RSPLIB's 3 s response timeout (it plays T1, T2 and T3).
    """

    static_registrars: tuple[TransportAddress, ...] = ()  # -registrar=addr:port{,addr}
    announce_timeout: int = 5000  # T7-ENRPoutdate (-registrarannouncetimeout)
    connect_timeout: int = 7500  # -registrarconnecttimeout
    response_timeout: int = 3000  # T1-ENRPrequest (-registrarresponsetimeout)
    max_request_trials: int = 2  # RFC MAX-REQUEST-RETRANSMIT (RSPLIB: 1)
    max_simultaneous_connects: int = 3  # SH1 (RSPLIB MAX_SIMULTANEOUS_REQUESTS)
    server_hunt_timeout: int = 10_000  # T5-serverHunt, initial value
    server_hunt_max: int = 60_000  # RETRAN-max: T5 doubles up to this

    def __post_init__(self) -> None:
        for name in (
            "announce_timeout",
            "connect_timeout",
            "response_timeout",
            "max_request_trials",
            "max_simultaneous_connects",
            "server_hunt_timeout",
            "server_hunt_max",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


# ------------------------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class ConnectRegistrar:
    """Set up an ASAP association to a registrar (``sctp_connectx`` to all ``to`` addresses).

    Report the outcome with ``registrar_connected(attempt, assoc_id, now)`` or
    ``registrar_connect_failed(attempt, now)``. The core times the attempt out by itself.
    """

    attempt: int
    to: TransportAddress

    def __str__(self) -> str:
        return f"connect ASAP attempt {self.attempt} to registrar {self.to}"


@dataclass(frozen=True, slots=True)
class CancelConnect:
    """Give up the connect attempt ``attempt`` (abort it if it is still being set up)."""

    attempt: int

    def __str__(self) -> str:
        return f"cancel ASAP connect attempt {self.attempt}"


EndpointAction: TypeAlias = (
    Send | Abort | ConnectRegistrar | CancelConnect | SessionSend | ConnectSession | CloseSession
)
"""Everything a PE or PU core asks its driver to do (drain with ``outgoing()``)."""

# -------------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class HomeRegistrar:
    """The home registrar: its association, address (if known) and server id (if known)."""

    assoc_id: AssocId
    address: TransportAddress | None = None
    server_id: int | None = None

    def __str__(self) -> str:
        sid = "?" if self.server_id is None else f"{self.server_id:#010x}"
        where = "" if self.address is None else f" at {self.address}"
        return f"registrar {sid}{where} (assoc {self.assoc_id})"


class HomeChangeReason(enum.Enum):
    SERVER_HUNT = "server hunt"
    TAKEOVER = "Endpoint Keep Alive with H flag"


@dataclass(frozen=True, slots=True)
class ServerHuntStarted(Event):
    candidates: int

    def __str__(self) -> str:
        return f"ServerHuntStarted: {self.candidates} candidate registrar(s)"


@dataclass(frozen=True, slots=True)
class HomeRegistrarChanged(Event):
    home: HomeRegistrar
    reason: HomeChangeReason

    def __str__(self) -> str:
        return f"HomeRegistrarChanged: {self.home} ({self.reason.value})"


@dataclass(frozen=True, slots=True)
class HomeRegistrarLost(Event):
    home: HomeRegistrar
    reason: str

    def __str__(self) -> str:
        return f"HomeRegistrarLost: {self.home}: {self.reason}"


@dataclass(frozen=True, slots=True)
class RegistrarAnnounced(Event):
    """A Server Announce named a registrar that was not in the table."""

    server_id: int
    address: TransportAddress

    def __str__(self) -> str:
        return f"RegistrarAnnounced: {self.server_id:#010x} at {self.address}"


@dataclass(frozen=True, slots=True)
class RegistrarConnecting(Event):
    """The server hunt tries a registrar (a :class:`ConnectRegistrar` went out).

    ``server_id`` is set when the address came from a Server Announce (None: a static
    registrar); ``trial`` counts the attempts at this address since the PE or PU started.
    """

    attempt: int
    address: TransportAddress
    server_id: int | None
    trial: int

    def __str__(self) -> str:
        source = "static" if self.server_id is None else f"announced by {self.server_id:#010x}"
        return f"RegistrarConnecting: {self.address} ({source}), trial {self.trial}"


@dataclass(frozen=True, slots=True)
class RegistrarConnectFailed(Event):
    """A connect attempt of the server hunt failed: refused, aborted, timed out, ..."""

    attempt: int
    address: TransportAddress
    reason: str

    def __str__(self) -> str:
        return f"RegistrarConnectFailed: {self.address}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ServerHuntWaiting(Event):
    """Every known registrar was tried in this round; the next round starts in ``delay``
    ms (T5-serverHunt, doubling up to RETRAN-max), or sooner when a Server Announce names
    a registrar not tried yet."""

    delay: int
    candidates: int

    def __str__(self) -> str:
        return f"ServerHuntWaiting: next round in {self.delay} ms ({self.candidates} known)"
