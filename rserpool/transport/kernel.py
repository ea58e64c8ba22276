"""Kernel SCTP on Trio: non-blocking sockets driven by ``trio.lowlevel.wait_readable``.

Sockets are created with the stdlib (pysctp's wrapper adds nothing we use there); pysctp's C
module does bindx and reads the address lists per association; messages go through
``sendmsg``/``recvmsg`` with SCTP_SNDINFO/SCTP_RCVINFO, which pysctp lacks (it cannot send by
association id). Notifications are parsed in :mod:`rserpool.transport._sockapi`.

The receiving and sending shared by endpoints and associations is in
:mod:`rserpool.transport._kernel_socket`. Cancellation safety: a receive or send touches the
socket only in one non-blocking call after readiness, and a partly read message (bigger than the
receive buffer) stays in the object, so a cancelled ``receive`` loses nothing; every socket is
closed by ``aclose`` or on setup failure.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext

import _sctp
import trio

from rserpool.transport import _sockapi as api
from rserpool.transport._kernel_socket import KernelSocket, apply_params
from rserpool.transport.abc import (
    Address,
    AssociationGone,
    AssociationParams,
    CannotConnect,
    CantStartAssociation,
    CommLost,
    CommUp,
    Received,
    ShutdownComplete,
)
from rserpool.transport.udp import KernelUdpSocket

BINDX_ADD = _sctp.getconstant("BINDX_ADD")
Enter = Callable[[], AbstractContextManager[object]]


class KernelEndpoint(KernelSocket):
    """One-to-many endpoint (see :class:`rserpool.transport.abc.SctpEndpoint`)."""

    def local_addresses(self) -> list[Address]:
        return self._local_addresses(0)

    def peer_addresses(self, assoc_id: int) -> list[Address]:
        return self._peer_addresses(assoc_id)

    async def connect(self, addresses: Sequence[Address]) -> int:
        self._check_open()
        await trio.lowlevel.checkpoint()
        return api.connectx(self._sock, addresses)

    async def send(
        self, assoc_id: int, data: bytes, ppid: int, stream: int = 0, unordered: bool = False
    ) -> None:
        flags = api.SCTP_UNORDERED if unordered else 0
        await self._send(data, api.sndinfo(assoc_id, ppid, stream, flags))

    async def receive(self) -> Received:
        return await self._receive()

    def receive_nowait(self) -> Received | None:
        """What :meth:`receive` would return if it is already queued, else None; not a
        checkpoint (for draining a batch after ``receive``)."""
        return self._receive_nowait()

    def send_nowait(self, assoc_id: int, data: bytes, ppid: int) -> bool:
        """Send at once if the socket takes it (True), else False (then use :meth:`send`);
        not a checkpoint. Raises like :meth:`send`."""
        return self._send_nowait(data, api.sndinfo(assoc_id, ppid, 0, 0))

    def set_association_params(self, assoc_id: int, params: AssociationParams) -> None:
        self._check_open()
        apply_params(self._sock, assoc_id, params)

    async def shutdown(self, assoc_id: int) -> None:
        await self._send(b"", api.sndinfo(assoc_id, 0, 0, api.SCTP_EOF))

    async def abort(self, assoc_id: int) -> None:
        await self._send(b"", api.sndinfo(assoc_id, 0, 0, api.SCTP_ABORT))


class KernelAssociation(KernelSocket):
    """One-to-one association (see :class:`rserpool.transport.abc.SctpAssociation`)."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
        self._assoc_id = 0
        self._ended = False

    @property
    def assoc_id(self) -> int:
        return self._assoc_id

    def local_addresses(self) -> list[Address]:
        return self._local_addresses(0)

    def peer_addresses(self) -> list[Address]:
        return self._peer_addresses(0)

    async def _wait_up(self) -> None:
        """Consume the COMM_UP that starts the association (keeping anything else)."""
        held: list[Received] = []
        while True:
            item = await self._receive()
            if isinstance(item, CommUp):
                self._assoc_id = item.assoc_id
                self._pushback.extend(held)
                return
            if isinstance(item, CantStartAssociation | CommLost):
                raise CannotConnect(f"association failed to start: {item}")
            held.append(item)

    async def send(self, data: bytes, ppid: int, stream: int = 0, unordered: bool = False) -> None:
        if self._ended:
            raise AssociationGone("the association ended")
        flags = api.SCTP_UNORDERED if unordered else 0
        await self._send(data, api.sndinfo(0, ppid, stream, flags))

    async def receive(self) -> Received:
        if self._ended and not self._pushback:
            await trio.lowlevel.checkpoint()
            raise trio.EndOfChannel
        item = await self._receive()
        if isinstance(item, CommLost | ShutdownComplete):
            self._ended = True
        return item

    def set_association_params(self, params: AssociationParams) -> None:
        self._check_open()
        apply_params(self._sock, 0, params)

    async def shutdown(self) -> None:
        self._check_open()
        await trio.lowlevel.checkpoint()
        try:
            self._sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            raise AssociationGone(str(exc)) from exc

    async def abort(self) -> None:
        if not self._closed:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        await self.aclose()


class KernelListener(KernelSocket):
    async def accept(self) -> KernelAssociation:
        while True:
            self._check_open()
            await trio.lowlevel.checkpoint_if_cancelled()
            try:
                sock, _ = self._sock.accept()
            except BlockingIOError:
                await trio.lowlevel.wait_readable(self._sock.fileno())
                continue
            break
        association = KernelAssociation(sock)
        try:
            api.subscribe(sock)
            with trio.CancelScope(shield=True):  # the COMM_UP is already queued on it
                with trio.move_on_after(10):
                    await association._wait_up()
        except BaseException:
            await association.aclose()
            raise
        return association


class KernelHost:
    """The kernel network of this process, or of a namespace entered by ``enter`` (e.g.
    ``interop.topology.Host.entered``). ``addresses`` are what endpoints bind by default
    (bindx); without them they bind the IPv4 wildcard."""

    def __init__(self, addresses: Sequence[str] | None = None, enter: Enter | None = None) -> None:
        self._addresses = list(addresses or [])
        self._enter: Enter = enter or nullcontext

    def addresses(self) -> list[str]:
        return list(self._addresses)

    def _make(
        self,
        kind: socket.SocketKind,
        port: int,
        addresses: Sequence[str] | None,
        params: AssociationParams | None,
        remote: Sequence[Address] = (),
    ) -> socket.socket:
        local = list(addresses if addresses is not None else self._addresses)
        family = api.family_of([*local, *(host for host, _ in remote)])
        with self._enter():
            sock = socket.socket(family, kind, api.IPPROTO_SCTP)
        try:
            api.subscribe(sock)
            if params is not None:
                apply_params(sock, 0, params)
            if local:
                _sctp.bindx(sock.fileno(), [(a, port) for a in local], BINDX_ADD)
            elif port or kind == socket.SOCK_SEQPACKET:
                sock.bind(("0.0.0.0" if family == socket.AF_INET else "::", port))
        except BaseException:
            sock.close()
            raise
        return sock

    async def sctp_endpoint(
        self,
        port: int = 0,
        addresses: Sequence[str] | None = None,
        params: AssociationParams | None = None,
    ) -> KernelEndpoint:
        sock = self._make(socket.SOCK_SEQPACKET, port, addresses, params)
        sock.listen(128)
        await trio.lowlevel.checkpoint()
        return KernelEndpoint(sock)

    async def sctp_listen(
        self,
        port: int = 0,
        addresses: Sequence[str] | None = None,
        params: AssociationParams | None = None,
    ) -> KernelListener:
        sock = self._make(socket.SOCK_STREAM, port, addresses, params)
        sock.listen(128)
        await trio.lowlevel.checkpoint()
        return KernelListener(sock)

    async def sctp_connect(
        self,
        remote: Sequence[Address],
        addresses: Sequence[str] | None = None,
        params: AssociationParams | None = None,
    ) -> KernelAssociation:
        sock = self._make(socket.SOCK_STREAM, 0, addresses, params, remote)
        association = KernelAssociation(sock)
        try:
            sock.setblocking(False)
            api.connectx(sock, remote)
            await association._wait_up()
        except BaseException:
            await trio.lowlevel.cancel_shielded_checkpoint()
            association._closed = True
            sock.close()
            raise
        return association

    async def udp_socket(self, port: int = 0, group: str | None = None) -> KernelUdpSocket:
        with self._enter():
            udp = KernelUdpSocket.open(port, group)
        await trio.lowlevel.checkpoint()
        return udp
