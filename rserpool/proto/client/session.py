"""The session layer shared by PE and PU cores (RFC 5352 §3.8-3.9, as RSPLIB does it).

A session is one SCTP association between a PU and a PE that carries application data *and*
ASAP control: PPID 11 messages are ASAP (Cookie, Cookie Echo, Business Card), every other
PPID is application data passed through untouched. The driver identifies an association by a
``connection`` number: for a PE, the id of the association it accepted; for a PU, the number
the core chose in :class:`ConnectSession`.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

from rserpool.proto.common import Event, TransportAddress
from rserpool.wire import (
    PPID,
    BusinessCard,
    DecodeError,
    Message,
    decode_message_untrusted,
    encode_message,
)


def session_control(data: bytes, expected: Container[type[Message]]) -> Message | str:
    """The ASAP control message (PPID 11) that arrived on a session, if it is one of the
    ``expected`` types; otherwise why it is ignored (it does not decode, or it has no business
    on a session)."""
    try:
        message = decode_message_untrusted(PPID.ASAP, data)
    except DecodeError as exc:
        return f"bad ASAP control: {exc.reason}"
    if type(message) not in expected:
        return f"{message.NAME} on a session"
    return message


# ------------------------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class SessionSend:
    """Send ``data`` with ``ppid`` on the session association ``connection``.

    PPID 11 carries an encoded ASAP control message; any other PPID is application data.
    If the association is gone, drop it: the core learns of the loss from the driver.
    """

    connection: int
    ppid: int
    data: bytes

    @classmethod
    def control(cls, connection: int, message: Message) -> SessionSend:
        return cls(connection, int(PPID.ASAP), encode_message(message))

    def __str__(self) -> str:
        if self.ppid == PPID.ASAP:
            try:
                text = decode_message_untrusted(self.ppid, self.data).summary()
            except DecodeError as exc:
                text = f"<bad ASAP: {exc.reason}>"
        else:
            text = f"{len(self.data)} bytes PPID {self.ppid}"
        return f"send session {self.connection}: {text}"


@dataclass(frozen=True, slots=True)
class ConnectSession:
    """PU: set up a one-to-one SCTP association to PE ``pe_id`` at ``to`` (all addresses).

    Report the outcome with ``session_connected(connection, now)`` or
    ``session_connect_failed(connection, now)``; the core times the attempt out itself.
    """

    connection: int
    session: int
    pe_id: int
    to: TransportAddress

    def __str__(self) -> str:
        return (
            f"connect session {self.session} (connection {self.connection}) "
            f"to PE {self.pe_id:#010x} at {self.to}"
        )


@dataclass(frozen=True, slots=True)
class CloseSession:
    """Close the session association ``connection``: ABORT if ``abort`` (failover, as RSPLIB's
    ``rsp_forcefailover``; also cancels a connect under way), else a graceful SHUTDOWN."""

    connection: int
    abort: bool = True

    def __str__(self) -> str:
        return f"{'abort' if self.abort else 'shutdown'} session connection {self.connection}"


# -------------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class SessionAccepted(Event):
    """PE: a PU opened a session (``session`` is the association's id)."""

    session: int
    peer: TransportAddress | None

    def __str__(self) -> str:
        return f"SessionAccepted: {self.session} from {self.peer}"


@dataclass(frozen=True, slots=True)
class SessionConnected(Event):
    """PU: a session's first association is up."""

    session: int
    pe_id: int

    def __str__(self) -> str:
        return f"SessionConnected: {self.session} to PE {self.pe_id:#010x}"


@dataclass(frozen=True, slots=True)
class DataReceived(Event):
    """Application data (any PPID but 11) arrived on a session."""

    session: int
    ppid: int
    data: bytes

    def __str__(self) -> str:
        return f"DataReceived: session {self.session}: {len(self.data)} bytes PPID {self.ppid}"


@dataclass(frozen=True, slots=True)
class CookieReceived(Event):
    """PU: the PE sent an ASAP Cookie (the PU keeps only the latest)."""

    session: int
    cookie: bytes

    def __str__(self) -> str:
        return f"CookieReceived: session {self.session}: {len(self.cookie)} bytes"


@dataclass(frozen=True, slots=True)
class CookieEchoReceived(Event):
    """PE: a PU that failed over sent its last cookie (RSPLIB MSG_RSERPOOL_COOKIE_ECHO)."""

    session: int
    cookie: bytes

    def __str__(self) -> str:
        return f"CookieEchoReceived: session {self.session}: {len(self.cookie)} bytes"


@dataclass(frozen=True, slots=True)
class BusinessCardReceived(Event):
    session: int
    card: BusinessCard

    def __str__(self) -> str:
        return f"BusinessCardReceived: session {self.session}: {self.card.summary()}"


@dataclass(frozen=True, slots=True)
class FailoverNecessary(Event):
    """PU: the session's PE failed (``pe_id``); the core fails over by itself."""

    session: int
    pe_id: int
    reason: str

    def __str__(self) -> str:
        return f"FailoverNecessary: session {self.session} PE {self.pe_id:#010x}: {self.reason}"


@dataclass(frozen=True, slots=True)
class FailoverComplete(Event):
    """PU: the session continues at PE ``pe_id`` (Cookie Echo already sent, if any)."""

    session: int
    pe_id: int
    cookie_echoed: bool

    def __str__(self) -> str:
        echo = ", cookie echoed" if self.cookie_echoed else ""
        return f"FailoverComplete: session {self.session} now at PE {self.pe_id:#010x}{echo}"


@dataclass(frozen=True, slots=True)
class SessionClosed(Event):
    session: int
    reason: str

    def __str__(self) -> str:
        return f"SessionClosed: {self.session}: {self.reason}"
