"""SCTP sockets of the in-memory network: endpoints, associations, listeners (UDP is in
:mod:`rserpool.transport._memudp`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import trio

from rserpool.transport._inbox import Inbox
from rserpool.transport._memsctp import Settings, Side
from rserpool.transport.abc import (
    ENDING_EVENTS,
    Address,
    AssociationGone,
    AssociationParams,
    CannotConnect,
    CantStartAssociation,
    CommUp,
    Received,
    Restart,
    SctpMessage,
)

if TYPE_CHECKING:
    from rserpool.transport.memory import MemoryHost

STREAMS = 10  # Linux's default number of outbound streams


class SctpSocket:
    """What every in-memory SCTP socket shares: a host, a port, addresses and sides."""

    accepts = False

    def __init__(self, host: MemoryHost, port: int, local: list[str], settings: Settings) -> None:
        self.host = host
        self.net = host.net
        self._port = port
        self.local = local
        self.settings = settings
        self.sides: dict[int, Side] = {}
        self.inbox = Inbox()

    @property
    def port(self) -> int:
        return self._port

    def _check_open(self) -> None:
        if self.inbox.closed:
            raise trio.ClosedResourceError("socket was closed")

    def deliver(self, item: Received) -> None:
        self.inbox.put(item)

    def forget(self, side: Side) -> None:
        if self.sides.get(side.assoc_id) is side:
            del self.sides[side.assoc_id]

    # --- association set-up ---------------------------------------------------------------
    def initiate(self, remote: Sequence[Address]) -> Side:
        if not remote:
            raise ValueError("no address to connect to")
        side = Side(
            self.net, self, self.net.next_assoc_id(), self.local, self.port, remote[0][1],
            self.settings,
        )  # fmt: skip
        self.sides[side.assoc_id] = side
        self._attempt(side, list(remote), 0, self.settings.rto_initial)
        return side

    def _attempt(self, side: Side, remote: list[Address], attempt: int, rto: float) -> None:
        if not side.alive or side.established:
            return
        for ip, port in remote:
            source = next((s for s in self.local if self.net.path_is_up(s, ip)), None)
            if source is None:
                continue
            delay = self.net.transmit(source, ip)
            if delay is not None:
                self._schedule_init(side, source, (ip, port), delay)
            break
        if attempt >= 8:
            self.net.call_later(rto, lambda: self._give_up(side))
            return
        next_rto = min(2 * rto, self.settings.rto_max)
        self.net.call_later(rto, lambda: self._attempt(side, remote, attempt + 1, next_rto))

    def _schedule_init(self, side: Side, source: str, to: Address, delay: float) -> None:
        self.net.call_later(delay, lambda: self._init_arrives(side, source, *to, delay))

    def _give_up(self, side: Side) -> None:
        if side.alive and not side.established:
            side.end(CantStartAssociation(side.assoc_id, 0))

    def _init_arrives(self, side: Side, source: str, ip: str, port: int, delay: float) -> None:
        if not side.alive or side.peer is not None:
            return
        host = self.net.host_of(ip)
        target = host.sctp_ports.get(port) if host is not None else None
        if target is None or not target.accepts or ip not in target.local:
            self.net.call_later(delay, lambda: self._give_up(side))
            return
        target.accept_init(side, source, ip, delay)

    def accept_init(self, initiator: Side, source: str, ip: str, delay: float) -> None:
        restarted = self._restartable(initiator)
        assoc_id = restarted.assoc_id if restarted else self.net.next_assoc_id()
        if restarted is not None:
            restarted.vanish()
            self.forget(restarted)
        owner = self._owner_for_new()
        side = Side(self.net, owner, assoc_id, self.local, self.port, initiator.port, self.settings)
        owner.sides[assoc_id] = side
        peer_addresses = [source, *(a for a in initiator.local if a != source)]
        side.start(initiator, peer_addresses)
        initiator.start(side, [ip, *(a for a in self.local if a != ip)])
        up: Received = Restart(assoc_id) if restarted else CommUp(assoc_id, STREAMS, STREAMS)

        def server_up() -> None:
            if side.alive and initiator.alive:
                side.establish()
                self._announce(owner, side, up)

        def client_up() -> None:
            if initiator.alive and side.alive:
                initiator.establish()
                initiator.owner.deliver(CommUp(initiator.assoc_id, STREAMS, STREAMS))

        self.net.call_later(2 * delay, server_up)
        self.net.call_later(3 * delay, client_up)

    def _restartable(self, initiator: Side) -> Side | None:
        for side in self.sides.values():
            peer = side.peer
            crashed = peer is not None and not peer.alive
            same = side.peer_port == initiator.port and {p.address for p in side.paths} & set(
                initiator.local
            )
            if side.alive and crashed and same:
                return side
        return None

    def _owner_for_new(self) -> SctpSocket:
        return self

    def _announce(self, owner: SctpSocket, side: Side, up: Received) -> None:
        owner.deliver(up)

    # --- closing --------------------------------------------------------------------------
    def close_now(self) -> None:
        """Close: shut every association down gracefully, free the port."""
        for side in list(self.sides.values()):
            if side.alive and side.established and not side.closing:
                side.send(None)
            elif side.alive and not side.established:
                side.vanish()
        self.inbox.close()
        if self.host.sctp_ports.get(self.port) is self:
            del self.host.sctp_ports[self.port]

    def crash(self) -> None:
        for side in list(self.sides.values()):
            side.vanish()
        self.inbox.close()
        if self.host.sctp_ports.get(self.port) is self:
            del self.host.sctp_ports[self.port]

    async def aclose(self) -> None:
        self.close_now()
        await trio.lowlevel.checkpoint()


class MemoryEndpoint(SctpSocket):
    accepts = True

    def local_addresses(self) -> list[Address]:
        return [(a, self.port) for a in self.local]

    def peer_addresses(self, assoc_id: int) -> list[Address]:
        side = self.sides.get(assoc_id)
        return side.peer_addresses() if side is not None and side.peer is not None else []

    async def connect(self, addresses: Sequence[Address]) -> int:
        self._check_open()
        await trio.lowlevel.checkpoint()
        return self.initiate(addresses).assoc_id

    def _side(self, assoc_id: int) -> Side:
        self._check_open()
        side = self.sides.get(assoc_id)
        if side is None:
            raise AssociationGone(f"no association {assoc_id}")
        return side

    async def send(
        self, assoc_id: int, data: bytes, ppid: int, stream: int = 0, unordered: bool = False
    ) -> None:
        await trio.lowlevel.checkpoint()
        self._side(assoc_id).send(SctpMessage(bytes(data), ppid, stream, assoc_id, unordered))

    async def receive(self) -> Received:
        self._check_open()
        item = await self.inbox.get()
        assert isinstance(item, Received)
        return item

    def set_association_params(self, assoc_id: int, params: AssociationParams) -> None:
        if assoc_id == 0:
            self.settings = self.settings.updated(params)
            return
        side = self._side(assoc_id)
        side.settings = side.settings.updated(params)

    async def shutdown(self, assoc_id: int) -> None:
        await trio.lowlevel.checkpoint()
        self._side(assoc_id).send(None)

    async def abort(self, assoc_id: int) -> None:
        await trio.lowlevel.checkpoint()
        self._side(assoc_id).abort()


class MemoryAssociation(SctpSocket):
    """One-to-one: one side at most."""

    def __init__(self, host: MemoryHost, port: int, local: list[str], settings: Settings) -> None:
        super().__init__(host, port, local, settings)
        self._assoc_id = 0
        self._ended = False

    @property
    def assoc_id(self) -> int:
        return self._assoc_id

    def _only(self) -> Side | None:
        return next(iter(self.sides.values()), None)

    def local_addresses(self) -> list[Address]:
        return [(a, self.port) for a in self.local]

    def peer_addresses(self) -> list[Address]:
        side = self._only()
        return side.peer_addresses() if side is not None else []

    async def connect_and_wait(self, remote: Sequence[Address]) -> None:
        self._assoc_id = self.initiate(remote).assoc_id
        item = await self.inbox.get()
        if not isinstance(item, CommUp):
            raise CannotConnect(f"association failed to start: {item}")

    async def send(self, data: bytes, ppid: int, stream: int = 0, unordered: bool = False) -> None:
        self._check_open()
        await trio.lowlevel.checkpoint()
        side = self._only()
        if side is None:
            raise AssociationGone("the association ended")
        side.send(SctpMessage(bytes(data), ppid, stream, side.assoc_id, unordered))

    async def receive(self) -> Received:
        self._check_open()
        if self._ended and not self.inbox:
            await trio.lowlevel.checkpoint()
            raise trio.EndOfChannel
        item = await self.inbox.get()
        assert isinstance(item, Received)
        if isinstance(item, ENDING_EVENTS):
            self._ended = True
        return item

    def set_association_params(self, params: AssociationParams) -> None:
        self.settings = self.settings.updated(params)
        for side in self.sides.values():
            side.settings = side.settings.updated(params)

    async def shutdown(self) -> None:
        self._check_open()
        await trio.lowlevel.checkpoint()
        side = self._only()
        if side is None:
            raise AssociationGone("the association ended")
        side.send(None)

    async def abort(self) -> None:
        side = self._only()
        if side is not None and side.alive:
            side.abort()
        await self.aclose()


class MemoryListener(SctpSocket):
    accepts = True

    def __init__(self, host: MemoryHost, port: int, local: list[str], settings: Settings) -> None:
        super().__init__(host, port, local, settings)
        # associations handed out by accept(): a crash of the host takes them down too
        self.accepted: list[MemoryAssociation] = []

    def _owner_for_new(self) -> SctpSocket:
        owner = MemoryAssociation(self.host, self.port, self.local, self.settings)
        self.accepted = [a for a in self.accepted if not a.inbox.closed]
        self.accepted.append(owner)
        return owner

    def crash(self) -> None:
        for owner in self.accepted:
            owner.crash()
        super().crash()

    def _announce(self, owner: SctpSocket, side: Side, up: Received) -> None:
        assert isinstance(owner, MemoryAssociation)
        owner._assoc_id = side.assoc_id
        self.inbox.put(owner)

    async def accept(self) -> MemoryAssociation:
        self._check_open()
        owner = await self.inbox.get()
        assert isinstance(owner, MemoryAssociation)
        return owner
