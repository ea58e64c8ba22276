"""Sans-IO application services compatible with RSPLIB's ``rspserver`` and clients.

Each server class is the state of **one session** (RSPLIB creates one service object per
session, ``standardservices.cc``). The driver calls ``opened()``, ``received(ppid, data)``
and ``cookie_echo(cookie)`` and performs the returned outputs in order: :class:`Reply`
(application data on the session), :class:`SendCookie` (an ASAP Cookie, via
``PoolElementCore.send_cookie``) and :class:`Close`.

PingPong (PPID 33, as RSPLIB's): Ping = ``u8 type 1, u8 flags, u16 length, u64 MessageNo,
data``; Pong = ``u8 type 2, u8 flags, u16 length, u64 MessageNo, u64 ReplyNo, data``. After
each Pong the server sends a 16-byte cookie ``"<PP-TD1>" + u64 next ReplyNo``; a Cookie Echo
restores the reply counter, so replies stay numbered without gaps across a failover.
:class:`PingPongClient` checks exactly that, and also that every Ping is answered once.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Protocol

DATA_PPID = 0  # rspterminal, Daytime and CharGen
PINGPONG_PPID = 33
PING, PONG = 0x01, 0x02
PINGPONG_COOKIE_ID = b"<PP-TD1>"

_PING = struct.Struct("!BBHQ")
_PONG = struct.Struct("!BBHQQ")
_COOKIE = struct.Struct("!8sQ")
#: RSPLIB's CharGen block: 1024 bytes of ``30 + i % 98``, sent over and over.
CHARGEN_BLOCK = bytes(30 + i % (128 - 30) for i in range(1024))


@dataclass(frozen=True, slots=True)
class Reply:
    ppid: int
    data: bytes


@dataclass(frozen=True, slots=True)
class SendCookie:
    cookie: bytes


@dataclass(frozen=True, slots=True)
class Close:
    """End the session: ABORT if ``abort`` (RSPLIB ``EHR_Abort``), else SHUTDOWN (EOF)."""

    abort: bool


ServiceOutput = Reply | SendCookie | Close


class Service:
    """Base class: ignores everything."""

    def opened(self) -> list[ServiceOutput]:
        return []

    def received(self, ppid: int, data: bytes) -> list[ServiceOutput]:
        return []

    def cookie_echo(self, cookie: bytes) -> list[ServiceOutput]:
        return []


class EchoService(Service):
    """Echo: every message comes back with the same PPID."""

    def received(self, ppid: int, data: bytes) -> list[ServiceOutput]:
        return [Reply(ppid, data)]


class DiscardService(Service):
    """Discard: swallows everything."""


class Moment(Protocol):
    """A wall-clock time as the driver reads it (a :class:`datetime.datetime` will do)."""

    @property
    def microsecond(self) -> int: ...

    def strftime(self, fmt: str, /) -> str: ...


def daytime_text(moment: Moment) -> bytes:
    """RSPLIB's Daytime line: ``"%A, %d-%B-%Y %H:%M:%S.<µs>\\n"`` (C locale names)."""
    text = moment.strftime("%A, %d-%B-%Y %H:%M:%S") + f".{moment.microsecond:06d}\n"
    return text.encode("ascii", "replace")


class DaytimeService(Service):
    """Daytime: on session start, one line (PPID 0), then a graceful shutdown.

    The time comes from the driver (``moment``): a core never reads a clock.
    """

    def __init__(self, moment: Moment) -> None:
        self.moment = moment

    def opened(self) -> list[ServiceOutput]:
        return [Reply(DATA_PPID, daytime_text(self.moment)), Close(abort=False)]


class CharGenService(Service):
    """CharGen: sends :data:`CHARGEN_BLOCK` (PPID 0) for as long as the session lasts.

    Pull-based: the driver sends :meth:`next_block` whenever the association can take more.
    """

    def __init__(self) -> None:
        self.blocks_sent = 0

    def next_block(self) -> Reply:
        self.blocks_sent += 1
        return Reply(DATA_PPID, CHARGEN_BLOCK)

    def opened(self) -> list[ServiceOutput]:
        return [self.next_block()]


# ------------------------------------------------------------------------------- PingPong


@dataclass(frozen=True, slots=True)
class Ping:
    message_no: int
    data: bytes = b""

    def encode(self) -> bytes:
        return _PING.pack(PING, 0, _PING.size + len(self.data), self.message_no) + self.data


@dataclass(frozen=True, slots=True)
class Pong:
    message_no: int
    reply_no: int
    data: bytes = b""

    def encode(self) -> bytes:
        size = _PONG.size + len(self.data)
        return _PONG.pack(PONG, 0, size, self.message_no, self.reply_no) + self.data


def decode_pingpong(data: bytes) -> Ping | Pong | None:
    """A Ping or Pong, or None when the bytes are neither (RSPLIB's length rules)."""
    if len(data) < 4:
        return None
    kind, _flags, length = struct.unpack_from("!BBH", data)
    if length > len(data):
        return None
    if kind == PING and length >= _PING.size:
        _, _, _, message_no = _PING.unpack_from(data)
        return Ping(message_no, bytes(data[_PING.size : length]))
    if kind == PONG and length >= _PONG.size:
        _, _, _, message_no, reply_no = _PONG.unpack_from(data)
        return Pong(message_no, reply_no, bytes(data[_PONG.size : length]))
    return None


def pingpong_cookie(reply_no: int) -> bytes:
    return _COOKIE.pack(PINGPONG_COOKIE_ID, reply_no)


class PingPongService(Service):
    """RSPLIB's PingPongServer: Pong with the next ReplyNo (from 1), then a cookie.

    ``failure_after`` > 0 aborts the session after that many replies (``-pppfailureafter``).
    Anything but a valid Ping, or a bad cookie echo, aborts the session (``EHR_Abort``).
    """

    def __init__(self, failure_after: int = 0) -> None:
        self.reply_no = 1
        self.replies = 0
        self.failure_after = failure_after

    def received(self, ppid: int, data: bytes) -> list[ServiceOutput]:
        ping = decode_pingpong(data)
        if not isinstance(ping, Ping):
            return [Close(abort=True)]
        outputs: list[ServiceOutput] = [
            Reply(PINGPONG_PPID, Pong(ping.message_no, self.reply_no, ping.data).encode())
        ]
        self.reply_no += 1
        self.replies += 1
        outputs.append(SendCookie(pingpong_cookie(self.reply_no)))
        if 0 < self.failure_after <= self.replies:
            outputs.append(Close(abort=True))
        return outputs

    def cookie_echo(self, cookie: bytes) -> list[ServiceOutput]:
        if len(cookie) != _COOKIE.size or not cookie.startswith(PINGPONG_COOKIE_ID):
            return [Close(abort=True)]
        _, self.reply_no = _COOKIE.unpack(cookie)
        return []


@dataclass(slots=True)
class PingPongClient:
    """A sequence-checking PingPong client (stricter than RSPLIB's ``pingpongclient``).

    * ReplyNo must grow by exactly 1 per Pong: a jump or a repeat is recorded in ``gaps``
      (RSPLIB prints "Detected gap");
    * every Ping must be answered exactly once: a Pong for a Ping already answered (or never
      sent) goes to ``duplicates`` (or ``unexpected``);
    * after ``FailoverNecessary``, resend :meth:`unanswered` (the Pings the failed PE took
      with it); the session layer delivers them to the new PE after the Cookie Echo.
    """

    next_message_no: int = 1
    last_reply_no: int = 0
    outstanding: dict[int, bytes] = field(default_factory=dict)  # message no -> Ping bytes
    answered: set[int] = field(default_factory=set)
    gaps: list[tuple[int, int]] = field(default_factory=list)  # (expected, received)
    duplicates: list[int] = field(default_factory=list)
    unexpected: list[int] = field(default_factory=list)
    garbage: int = 0

    def ping(self, data: bytes = b"") -> bytes:
        """The next Ping's bytes (send with PPID 33)."""
        message = Ping(self.next_message_no, data).encode()
        self.outstanding[self.next_message_no] = message
        self.next_message_no += 1
        return message

    def unanswered(self) -> list[bytes]:
        return list(self.outstanding.values())

    def received(self, ppid: int, data: bytes) -> Pong | None:
        pong = decode_pingpong(data)
        if ppid != PINGPONG_PPID or not isinstance(pong, Pong):
            self.garbage += 1
            return None
        if pong.message_no in self.outstanding:
            del self.outstanding[pong.message_no]
            self.answered.add(pong.message_no)
        elif pong.message_no in self.answered:
            self.duplicates.append(pong.message_no)
        else:
            self.unexpected.append(pong.message_no)
        if pong.reply_no != self.last_reply_no + 1:
            self.gaps.append((self.last_reply_no + 1, pong.reply_no))
        self.last_reply_no = pong.reply_no
        return pong

    @property
    def clean(self) -> bool:
        """No gap, duplicate, unexpected Pong or garbage so far."""
        return not (self.gaps or self.duplicates or self.unexpected or self.garbage)
