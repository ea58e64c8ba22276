"""One non-blocking kernel SCTP socket on Trio: the half that endpoints and associations of
:mod:`rserpool.transport.kernel` share.

Receiving reads one message (or notification) at a time with ``recvmsg`` after
``trio.lowlevel.wait_readable``, keeping a partly read message (bigger than the receive
buffer) in the object so that a cancelled receive loses nothing; sending is a non-blocking
``sendmsg`` with SCTP_SNDINFO, waiting with ``wait_writable`` while the socket is full.
``apply_params`` sets RTO, heartbeat and retransmission limits on a socket or one of its
associations.
"""

from __future__ import annotations

import errno
import socket
from collections import deque

import _sctp
import trio

from rserpool.transport import _sockapi as api
from rserpool.transport.abc import (
    Address,
    AssociationGone,
    AssociationParams,
    Received,
    SctpMessage,
)

RECV_SIZE = 1 << 16
GONE_ERRNOS = {errno.EINVAL, errno.EPIPE, errno.ENOTCONN, errno.ECONNRESET, errno.ESHUTDOWN}


def _ms(seconds: float | None) -> int:
    return 0 if seconds is None else max(1, round(seconds * 1000))


def apply_params(sock: socket.socket, assoc_id: int, params: AssociationParams) -> None:
    rto = (_ms(params.rto_initial), _ms(params.rto_max), _ms(params.rto_min))
    for option, value in api.params_options(
        assoc_id,
        rto,
        _ms(params.heartbeat_interval),
        params.path_max_retrans or 0,
        params.max_retrans or 0,
    ):
        sock.setsockopt(api.SOL_SCTP, option, value)


class KernelSocket:
    """The shared half of endpoints and associations: one SCTP socket."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._partial: list[bytes] = []
        self._pushback: deque[Received] = deque()
        self._closed = False

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    def _local_addresses(self, assoc_id: int) -> list[Address]:
        return [api.normalize(a) for a in _sctp.getladdrs(self._sock.fileno(), assoc_id)]

    def _peer_addresses(self, assoc_id: int) -> list[Address]:
        try:
            found = _sctp.getpaddrs(self._sock.fileno(), assoc_id)
        except (OSError, RuntimeError):
            return []
        return [api.normalize(a) for a in found]

    def _check_open(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("socket was closed")

    async def _receive(self) -> Received:
        while True:
            self._check_open()
            if self._pushback:
                await trio.lowlevel.checkpoint()
                return self._pushback.popleft()
            await trio.lowlevel.checkpoint_if_cancelled()
            try:
                item = self._read_once()
            except BlockingIOError:
                await trio.lowlevel.wait_readable(self._sock.fileno())
                continue
            except OSError as exc:
                if exc.errno == errno.ENOTCONN:
                    raise trio.EndOfChannel from exc
                raise
            if item is None:
                continue
            await trio.lowlevel.cancel_shielded_checkpoint()
            return item

    def _receive_nowait(self) -> Received | None:
        """The next message or event if the socket has one queued, else None; no checkpoint
        (a caller that drains a batch this way must checkpoint itself)."""
        self._check_open()
        if self._pushback:
            return self._pushback.popleft()
        while True:
            try:
                item = self._read_once()
            except BlockingIOError:
                return None
            except OSError as exc:
                if exc.errno == errno.ENOTCONN:
                    raise trio.EndOfChannel from exc
                raise
            if item is not None:
                return item

    def _read_once(self) -> Received | None:
        """One non-blocking recvmsg; None when it only gave part of a message (or nothing
        worth reporting). Raises BlockingIOError when the socket is empty."""
        data, ancillary, flags, source = self._sock.recvmsg(RECV_SIZE, api.RCVINFO_CMSG_SPACE)
        if not data and not flags and not ancillary:
            raise trio.EndOfChannel  # one-to-one socket after the association ended
        if not flags & api.MSG_EOR:
            self._partial.append(data)
            return None
        if self._partial:
            data = b"".join([*self._partial, data])
            self._partial.clear()
        if flags & api.MSG_NOTIFICATION:
            return api.parse_notification(data)
        sid, ppid, unordered, assoc = 0, 0, False, 0
        for level, kind, value in ancillary:
            if level == api.IPPROTO_SCTP and kind == api.SCTP_RCVINFO:
                sid, _ssn, rflags, ppid, _tsn, _cum, _ctx, assoc = api.RCVINFO.unpack_from(value)
                unordered = bool(rflags & api.SCTP_UNORDERED)
        peer = api.normalize(source) if source else None
        return SctpMessage(data, socket.ntohl(ppid), sid, assoc, unordered, peer)

    async def _send(self, data: bytes, cmsg: bytes) -> None:
        self._check_open()
        ancillary = [(api.IPPROTO_SCTP, api.SCTP_SNDINFO, cmsg)]
        while True:
            await trio.lowlevel.checkpoint_if_cancelled()
            try:
                self._sock.sendmsg([data], ancillary)
            except BlockingIOError:
                await trio.lowlevel.wait_writable(self._sock.fileno())
                continue
            except OSError as exc:
                if exc.errno in GONE_ERRNOS:
                    raise AssociationGone(str(exc)) from exc
                raise
            await trio.lowlevel.cancel_shielded_checkpoint()
            return

    def _send_nowait(self, data: bytes, cmsg: bytes) -> bool:
        """One non-blocking sendmsg without a checkpoint; False when it would block."""
        self._check_open()
        try:
            self._sock.sendmsg([data], [(api.IPPROTO_SCTP, api.SCTP_SNDINFO, cmsg)])
        except BlockingIOError:
            return False
        except OSError as exc:
            if exc.errno in GONE_ERRNOS:
                raise AssociationGone(str(exc)) from exc
            raise
        return True

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            trio.lowlevel.notify_closing(self._sock.fileno())
            self._sock.close()
        await trio.lowlevel.checkpoint()
