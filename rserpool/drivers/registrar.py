"""The registrar's Trio driver: :class:`~rserpool.proto.registrar.RegistrarCore` on real sockets.

    async with trio.open_nursery() as nursery:
        registrar = await nursery.start(serve_registrar, host, RegistrarConfig(...))
        ...                                   # registrar.core.handlespace, .statistics
        nursery.cancel_scope.cancel()         # clean shutdown: every socket is closed

What the driver owns (the core owns everything else, error replies included):

* an ASAP and an ENRP **one-to-many SCTP endpoint**, each bound to every configured address
  (multi-homed; the host's addresses when none are configured). The core is told the addresses
  it may advertise: the endpoints' local addresses of at least the minimum address scope;
* a **UDP socket bound to the ASAP port** that sends Server Announces to 239.0.0.50:3863
  (RSPLIB PEs and PUs take the registrar's ASAP port from the source port);
* a **UDP socket joined to 239.0.0.51:9901** that sends and receives ENRP Presence;
* one receive task per socket, a timer task, and an :class:`AssociationTable` per endpoint
  that maps ``Send(to=...)`` onto an existing association or a new ``connect``.

Every input is followed by a flush: the core's events are logged and its actions performed in
order under a lock (:mod:`rserpool.drivers.registrar_actions`). Where the transport offers
``receive_nowait``/``send_nowait`` (kernel SCTP), a receive task feeds the core everything
already queued on its socket (up to :data:`BATCH` items) before one flush, and a flush sends
without a checkpoint per message while the socket takes them: one pass through Trio's scheduler
per batch instead of several per message. The actions, and their order, are the same. Time is
``int(trio.current_time() * 1000)`` milliseconds, never decreasing.
A message that cannot be sent is dropped (the protocol's timers deal with it). No single input
can stop the registrar: an exception inside the core while it handles one input, or while the
driver encodes, sends or logs one action or event, is logged with the endpoint and association
and counted (``internal_errors``, ``send_errors``); that input or action is lost, every other
association goes on. Aborting an association is the core's decision (an ``Abort`` action),
never the driver's.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import replace

import trio
from trio_typing import TaskStatus

from rserpool.drivers._clock import CoreClock
from rserpool.drivers._loop import EventStream, flush
from rserpool.drivers.associations import parse_ip, transport_of
from rserpool.drivers.registrar_actions import ActionPerformer
from rserpool.drivers.registrar_sockets import Socket, advertised, close
from rserpool.drivers.registrar_stats import RegistrarStatistics, statistics_document
from rserpool.presentation.eventlog import LEVELS, event_text, refusal_text
from rserpool.proto.common import (
    Endpoint,
    Event,
    IPAddress,
    TransportAddress,
)
from rserpool.proto.registrar import (
    RegistrarConfig,
    RegistrarCore,
    RegistrationRefused,
)
from rserpool.transport import (
    ASAP_ANNOUNCE_GROUP,
    ENDING_EVENTS,
    ENRP_ANNOUNCE_GROUP,
    Address,
    CommUp,
    Host,
    PeerAddressChange,
    PeerShutdown,
    Received,
    Restart,
    SctpEndpoint,
    SctpMessage,
    SendFailed,
    TransportError,
    UdpSocket,
)
from rserpool.wire.text import ident

log = logging.getLogger("rserpool.registrar")

BATCH = 64  # inputs fed to the core between two flushes (and two checkpoints), at most


class Registrar:
    """A running registrar: the core plus its sockets. Made by :func:`serve_registrar`."""

    def __init__(
        self,
        host: Host,
        config: RegistrarConfig,
        *,
        rng: random.Random | None = None,
        asap_announce_group: Address = ASAP_ANNOUNCE_GROUP,
        enrp_announce_group: Address = ENRP_ANNOUNCE_GROUP,
        event_buffer: int = 256,
    ) -> None:
        self.host = host
        self.requested_config = config
        self.rng = rng or random.Random()
        self.asap_announce_group = asap_announce_group
        self.enrp_announce_group = enrp_announce_group
        self.statistics = RegistrarStatistics()
        self._core: RegistrarCore | None = None
        self._sockets: dict[Endpoint, Socket] = {}
        self._udp: dict[Endpoint, UdpSocket] = {}
        groups = {Endpoint.ASAP: asap_announce_group, Endpoint.ENRP: enrp_announce_group}
        self._actions = ActionPerformer(self._sockets, self._udp, groups, self.statistics)
        self._lock = trio.Lock()
        self._stream = EventStream(event_buffer)
        self._clock = CoreClock()
        self._started = time.monotonic()

    # ------------------------------------------------------------------ queries

    @property
    def core(self) -> RegistrarCore:
        if self._core is None:
            raise RuntimeError("the registrar is not running yet")
        return self._core

    @property
    def server_id(self) -> int:
        return self.core.server_id

    @property
    def config(self) -> RegistrarConfig:
        """The configuration in effect (real ports and advertised addresses filled in)."""
        return self.core.config

    @property
    def asap_address(self) -> TransportAddress:
        return TransportAddress(self.config.asap_addresses, self.config.asap_port)

    @property
    def enrp_address(self) -> TransportAddress:
        return TransportAddress(self.config.enrp_addresses, self.config.enrp_port)

    def associations(self, endpoint: Endpoint) -> int:
        """How many associations the endpoint has (up or starting)."""
        return len(self._sockets[endpoint].table)

    def statistics_document(self) -> dict[str, object]:
        """The statistics as a JSON-ready document (``rserpool registrar --stats-file``)."""
        return statistics_document(self.statistics, self.core, time.monotonic() - self._started)

    @property
    def events(self) -> trio.MemoryReceiveChannel[Event]:
        """The core's events, as the PE and PU drivers offer theirs: a bounded channel that
        fills from the first time this is read (events that find it full are counted in
        ``events_dropped``; the registrar never waits for a reader)."""
        return self._stream.events

    @property
    def events_dropped(self) -> int:
        return self._stream.dropped

    # ------------------------------------------------------------------ running

    async def run(self, task_status: TaskStatus[Registrar] = trio.TASK_STATUS_IGNORED) -> None:
        config = self.requested_config
        async with AsyncExitStack() as stack:
            asap = await self._endpoint(config.asap_addresses, config.asap_port)
            stack.push_async_callback(close, asap)
            enrp = await self._endpoint(config.enrp_addresses, config.enrp_port)
            stack.push_async_callback(close, enrp)
            types = self.statistics.received_types, self.statistics.sent_types
            self._sockets.update({
                kind: Socket(kind, sctp, received_types=types[0][kind.value],
                              sent_types=types[1][kind.value])
                for kind, sctp in ((Endpoint.ASAP, asap), (Endpoint.ENRP, enrp))
            })  # fmt: skip
            if config.asap_announce:  # the announce leaves from the ASAP port (RSPLIB)
                self._udp[Endpoint.ASAP] = await self.host.udp_socket(asap.port)
                stack.push_async_callback(close, self._udp[Endpoint.ASAP])
            if config.enrp_announce:
                group, port = self.enrp_announce_group
                self._udp[Endpoint.ENRP] = await self.host.udp_socket(port, group=group)
                stack.push_async_callback(close, self._udp[Endpoint.ENRP])
            effective = replace(
                config,
                asap_addresses=advertised(asap.local_addresses(), config.min_address_scope),
                asap_port=asap.port,
                enrp_addresses=advertised(enrp.local_addresses(), config.min_address_scope),
                enrp_port=enrp.port,
            )
            self._core = RegistrarCore(effective, self.rng, self._clock.now())
            self._started = time.monotonic()
            log.debug(
                "Registrar %s: ASAP at %s, ENRP at %s",
                ident(self.server_id),
                self.asap_address,
                self.enrp_address,
            )
            async with trio.open_nursery() as nursery:
                for sock in self._sockets.values():
                    nursery.start_soon(self._sctp_loop, sock)
                for kind, udp in self._udp.items():
                    nursery.start_soon(self._udp_loop, kind, udp)
                await self._flush()  # the core's startup Presences
                nursery.start_soon(self._clock.run, self.core, self._timers_due)
                task_status.started(self)

    async def _endpoint(self, addresses: tuple[IPAddress, ...], port: int) -> SctpEndpoint:
        bind = [str(a) for a in addresses] or None
        return await self.host.sctp_endpoint(port, bind)

    # ------------------------------------------------------------------ input

    async def _sctp_loop(self, sock: Socket) -> None:
        immediate = sock.immediate
        while True:
            try:
                item = await sock.sctp.receive()
            except trio.ClosedResourceError:  # closed under us (a simulated crash)
                return
            self._guarded_input(sock, item)
            if immediate is not None:  # what else is queued already, without a checkpoint
                for _ in range(BATCH - 1):
                    try:
                        queued = immediate.receive_nowait()
                    except (trio.ClosedResourceError, trio.EndOfChannel, OSError):
                        break  # the next receive() reports it
                    if queued is None:
                        break
                    self._guarded_input(sock, queued)
            await self._flush()

    def _guarded_input(self, sock: Socket, item: Received) -> None:
        """Feed one item; an exception (a bug in the core or here) is logged with the
        association and counted, and the next item is served as usual."""
        try:
            self._input(sock, item)
        except Exception:
            self.statistics.internal_errors += 1
            assoc = getattr(item, "assoc_id", None)
            log.exception("%s assoc %s: handling %s failed", sock.kind.value, assoc,
                          type(item).__name__)  # fmt: skip

    def _input(self, sock: Socket, item: Received) -> None:
        """Feed one received item to the core (or to the association table)."""
        kind, table = sock.kind, sock.table
        now = self._clock.now()
        if isinstance(item, SctpMessage):
            self.statistics.received[sock.name] += 1
            if item.data:
                sock.received_types[item.data[0]] += 1
            peer = self._peer_of(sock, item)
            self.core.receive(kind, item.assoc_id, item.ppid, item.data, peer, now)
        elif isinstance(item, CommUp):
            self.statistics.associations_up[kind.value] += 1
            self._refresh_peer(sock, item.assoc_id)
        elif isinstance(item, PeerAddressChange):
            if item.assoc_id in table:
                self._refresh_peer(sock, item.assoc_id)
        elif isinstance(item, (*ENDING_EVENTS, PeerShutdown, Restart)):
            # RSPLIB treats SHUTDOWN_EVENT like COMM_LOST; after a RESTART the peer is a
            # new incarnation whose old registrations are void.
            self.statistics.associations_lost[kind.value] += 1
            table.lost(item.assoc_id)
            self.core.association_lost(kind, item.assoc_id, now)
            if isinstance(item, Restart):
                self._refresh_peer(sock, item.assoc_id)
        elif isinstance(item, SendFailed):
            log.debug("%s assoc %d: send failed (error %d)", kind.value, item.assoc_id, item.error)

    async def _udp_loop(self, kind: Endpoint, udp: UdpSocket) -> None:
        while True:
            try:
                datagram = await udp.receive()
            except trio.ClosedResourceError:
                return
            source = parse_ip(datagram.source[0])
            if source is None:
                continue
            self.statistics.received[f"{kind.value} multicast"] += 1
            now = self._clock.now()
            self._guarded(
                self.core.receive_multicast, kind, datagram.data, (source, datagram.source[1]), now
            )
            await self._flush()

    async def _timers_due(self, now: int) -> None:
        self._guarded(self.core.handle_timers, now)
        await self._flush()

    def _guarded(self, call: Callable[..., None], *args: object) -> None:
        """Run a core method; a core exception is a bug: log it and carry on."""
        try:
            call(*args)
        except Exception:
            self.statistics.internal_errors += 1
            log.exception("registrar core failed on input")

    def _peer_of(self, sock: Socket, message: SctpMessage) -> TransportAddress:
        peer = sock.table.peer(message.assoc_id)
        if peer is None or sock.table.is_starting(message.assoc_id):
            peer = self._refresh_peer(sock, message.assoc_id)
        if peer is None and message.source is not None:
            peer = transport_of([message.source])
        return peer or TransportAddress((), 0)

    def _refresh_peer(self, sock: Socket, assoc_id: int) -> TransportAddress | None:
        try:
            peer = transport_of(sock.sctp.peer_addresses(assoc_id))
        except (OSError, TransportError):
            peer = None
        if peer is not None:
            sock.table.set_peer(assoc_id, peer)
        return peer

    # ------------------------------------------------------------------ output

    async def _flush(self) -> None:
        actions = self._actions
        await flush(
            self.core, self._lock, self._clock, self._on_event, actions.perform, actions.perform_now
        )

    def _on_event(self, event: Event) -> None:
        self.statistics.count(event)
        try:
            level = LEVELS.get(type(event), logging.INFO)  # event_level, without a call
            if not isinstance(level, int):
                level = level(event)
            if log.isEnabledFor(level):  # render only what is written
                log.log(level, "%s", self._event_text(event))
        except Exception:
            self.statistics.internal_errors += 1
            log.exception("rendering %s failed", type(event).__name__)
        self._stream.publish(event)

    def _event_text(self, event: Event) -> str:
        if isinstance(event, RegistrationRefused):
            sock = self._sockets[Endpoint.ASAP]
            peer = sock.table.peer(event.assoc_id) or self._refresh_peer(sock, event.assoc_id)
            return refusal_text(event, peer, self.config.min_address_scope)
        return event_text(event)


async def serve_registrar(
    host: Host,
    config: RegistrarConfig,
    *,
    rng: random.Random | None = None,
    asap_announce_group: Address = ASAP_ANNOUNCE_GROUP,
    enrp_announce_group: Address = ENRP_ANNOUNCE_GROUP,
    task_status: TaskStatus[Registrar] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run a registrar on ``host`` until cancelled; ``nursery.start`` returns its
    :class:`Registrar` once the sockets are bound and the startup Presences are out."""
    registrar = Registrar(
        host,
        config,
        rng=rng,
        asap_announce_group=asap_announce_group,
        enrp_announce_group=enrp_announce_group,
    )
    await registrar.run(task_status=task_status)
