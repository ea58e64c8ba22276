"""What the pool element and pool user drivers share: the ASAP side and the session plumbing.

:class:`AsapClientDriver` runs a :class:`~rserpool.proto.client.hunt.RegistrarClient` core
(a :class:`~rserpool.proto.client.pool_element.PoolElementCore` or a
:class:`~rserpool.proto.client.pool_user.PoolUserCore`) on a transport ``Host``:

* one **one-to-many SCTP endpoint** for ASAP (RSPLIB's registrar hunt socket): connects to
  registrars for :class:`ConnectRegistrar`, and accepts the association a new home registrar
  opens to send an Endpoint Keep Alive with the H flag after a takeover;
* optionally a **UDP socket joined to 239.0.0.50:3863** for Server Announces;
* one receive task per socket, a **timer task** sleeping until ``core.next_deadline()``;
* **session connections** (:class:`~rserpool.drivers._session_io.Connection`, run by
  :mod:`rserpool.drivers._session_io`): one one-to-one association each.

Every input is followed by :meth:`AsapClientDriver.flush`, the loop every driver shares
(:func:`rserpool.drivers._loop.flush`): under one lock, the core's events are dispatched
(:meth:`AsapClientDriver.dispatch`, by the event's type, then a bounded public channel, an
:class:`~rserpool.drivers._loop.EventStream`; when it is full, events are counted as dropped,
never waited for) and its actions performed in order, each by the performer for its type. Time
is ``int(trio.current_time() * 1000)`` ms, never decreasing. An exception inside the core is
logged and counted, never fatal; bad bytes from the network are the core's business.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress

import trio

from rserpool.drivers import _loop
from rserpool.drivers._clock import CoreClock
from rserpool.drivers._session_io import GONE, Connection, SessionConnections, SessionGone
from rserpool.drivers.associations import parse_ip, transport_of
from rserpool.proto.client.hunt import (
    CancelConnect,
    ConnectRegistrar,
    EndpointAction,
    RegistrarClient,
)
from rserpool.proto.client.session import CloseSession, ConnectSession, SessionSend
from rserpool.proto.common import Abort, Event, Send, TransportAddress
from rserpool.transport import (
    ASAP_ANNOUNCE_GROUP,
    ENDING_EVENTS,
    Address,
    AssociationParams,
    CantStartAssociation,
    CommLost,
    CommUp,
    Host,
    PeerAddressChange,
    PeerShutdown,
    Restart,
    SctpEndpoint,
    SctpMessage,
    ShutdownComplete,
    TransportError,
    UdpSocket,
)

__all__ = [
    "GONE",
    "AsapClientDriver",
    "Connection",
    "SessionGone",
    "connect_failure",
    "registrar_addresses",
]

_Performer = Callable[[EndpointAction], Awaitable[None]]
_Dispatcher = Callable[[Event], None]


def registrar_addresses(
    registrars: Sequence[TransportAddress | str],
) -> tuple[TransportAddress, ...]:
    """Static registrars as RSPLIB's ``-registrar=ADDR:PORT{,ADDR}`` spells them (the port is
    required, as in RSPLIB), or as :class:`TransportAddress` already."""
    result: list[TransportAddress] = []
    for item in registrars:
        if isinstance(item, TransportAddress):
            result.append(item)
            continue
        first, *rest = item.split(",")
        host, sep, port = first.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) <= 0xFFFF:
            raise ValueError(f"registrar {item!r}: ADDR:PORT{{,ADDR}} with a port 1..65535")
        ips = [parse_ip(a.strip("[]")) for a in (host, *rest)]
        if any(ip is None for ip in ips):
            raise ValueError(f"registrar {item!r}: not an IP address")
        result.append(TransportAddress(tuple(ip for ip in ips if ip is not None), int(port)))
    return tuple(result)


def connect_failure(cause: object) -> str:
    """Why a connect attempt failed, in a few words for the user: the SCTP notification that
    ended it, or the exception ``connect`` raised."""
    if isinstance(cause, CantStartAssociation):
        # an ABORT answered our INIT (nothing listens there), or INIT was never answered
        return (
            "connection refused"
            if cause.error in (0, errno.ECONNREFUSED)
            else (f"association could not be started ({os.strerror(cause.error).lower()})")
        )
    if isinstance(cause, CommLost):
        return "connection aborted while being set up"
    if isinstance(cause, (ShutdownComplete, PeerShutdown)):
        return "connection shut down while being set up"
    if isinstance(cause, Restart):
        return "association restarted while being set up"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror[:1].lower() + cause.strerror[1:]
    return str(cause) or type(cause).__name__


class AsapClientDriver(SessionConnections):
    """The common driver of a PE or PU core (see the module docstring). Subclasses add the
    session side (:meth:`connect_session`, :meth:`dispatch`)."""

    def __init__(
        self,
        host: Host,
        core: RegistrarClient,
        *,
        log: logging.Logger,
        addresses: Sequence[str] | None = None,
        announces: bool = True,
        announce_group: Address = ASAP_ANNOUNCE_GROUP,
        session_params: AssociationParams | None = None,
        event_buffer: int = 256,
    ) -> None:
        self.host = host
        self.core = core
        self.log = log
        self.addresses = list(addresses) if addresses else None
        self.announces = announces
        self.announce_group = announce_group
        self.session_params = session_params
        self.internal_errors = 0
        self.connections: dict[int, Connection] = {}
        self._stream = _loop.EventStream(event_buffer)
        # opened now, not when first read: the channel holds the node's events from its start
        self.events: trio.MemoryReceiveChannel[Event] = self._stream.events
        self._lock = trio.Lock()
        self._clock = CoreClock()
        self._asap: SctpEndpoint | None = None
        self._udp: UdpSocket | None = None
        self._attempt_assoc: dict[int, int] = {}  # registrar connect attempt -> assoc id
        self._assoc_attempt: dict[int, int] = {}
        self._up_early: set[int] = set()  # CommUp seen before connect() returned the id
        self._peers: dict[int, TransportAddress] = {}
        self._nursery: trio.Nursery | None = None
        self._connections_changed = trio.Event()
        # how each action the core asks for is carried out, by its type
        self._performers: dict[type[EndpointAction], _Performer] = {
            Send: self._send,
            Abort: self._abort,
            ConnectRegistrar: self._connect_registrar,
            CancelConnect: self._cancel_connect,
            SessionSend: self.perform_session,
            CloseSession: self.perform_session,
            ConnectSession: self.perform_session,
        }
        # which core events the node acts on, by type (subclasses add theirs; every event
        # goes to ``events`` as well)
        self._dispatchers: dict[type[Event], _Dispatcher] = {}

    # ------------------------------------------------------------------ running

    def now(self) -> int:
        return self._clock.now()

    @property
    def events_dropped(self) -> int:
        """Events that found :attr:`events` full (nobody read it)."""
        return self._stream.dropped

    @property
    def nursery(self) -> trio.Nursery:
        assert self._nursery is not None, "not started"
        return self._nursery

    @property
    def asap_endpoint(self) -> SctpEndpoint:
        assert self._asap is not None, "not started"
        return self._asap

    async def start(self, nursery: trio.Nursery) -> None:
        """Open the ASAP endpoint and the announce socket; start the tasks."""
        self._nursery = nursery
        self._asap = await self.host.sctp_endpoint(0, self.addresses)
        if self.announces:
            group, port = self.announce_group
            try:
                self._udp = await self.host.udp_socket(port, group=group)
            except (TransportError, OSError) as exc:  # RSPLIB warns and carries on
                group_text = "{}:{}".format(*self.announce_group)
                self.log.warning("no Server Announces from %s: %s", group_text, exc)
        nursery.start_soon(self._asap_loop, self._asap)
        if self._udp is not None:
            nursery.start_soon(self._announce_loop, self._udp)
        nursery.start_soon(self._clock.run, self.core, self._timers_due)

    async def close_sockets(self) -> None:
        """Close the ASAP endpoint and the announce socket (shielded; errors ignored)."""
        with trio.CancelScope(shield=True):
            for sock in (self._asap, self._udp):
                if sock is not None:
                    with suppress(*GONE):
                        await sock.aclose()

    def guarded(self, call: Callable[..., None], *args: object) -> None:
        """Run a core method; an exception there is a bug: log it and carry on."""
        try:
            call(*args)
        except Exception:
            self.internal_errors += 1
            self.log.exception("core failed on input")

    # ------------------------------------------------------------------ ASAP input

    async def _asap_loop(self, endpoint: SctpEndpoint) -> None:
        core = self.core
        while True:
            try:
                item = await endpoint.receive()
            except (trio.ClosedResourceError, TransportError):
                return
            now = self.now()
            if isinstance(item, SctpMessage):
                peer = self._peers.get(item.assoc_id) or self._refresh_peer(item.assoc_id)
                self.guarded(core.receive_registrar, item.assoc_id, item.ppid, item.data, now, peer)
            elif isinstance(item, CommUp):
                peer = self._refresh_peer(item.assoc_id)
                attempt = self._assoc_attempt.pop(item.assoc_id, None)
                if attempt is not None:
                    self._attempt_assoc.pop(attempt, None)
                    self.guarded(core.registrar_connected, attempt, item.assoc_id, now, peer)
                else:  # ours before connect() returned, or a registrar connecting to us
                    self._up_early.add(item.assoc_id)
            elif isinstance(item, PeerAddressChange):
                self._refresh_peer(item.assoc_id)
            elif isinstance(item, (*ENDING_EVENTS, PeerShutdown, Restart)):
                self._peers.pop(item.assoc_id, None)
                self._up_early.discard(item.assoc_id)
                attempt = self._assoc_attempt.pop(item.assoc_id, None)
                if attempt is not None:
                    self._attempt_assoc.pop(attempt, None)
                    reason = connect_failure(item)
                    self.guarded(core.registrar_connect_failed, attempt, now, reason)
                elif not isinstance(item, CantStartAssociation):
                    self.guarded(core.registrar_lost, item.assoc_id, now)
            await self.flush()

    def _refresh_peer(self, assoc_id: int) -> TransportAddress | None:
        try:
            peer = transport_of(self.asap_endpoint.peer_addresses(assoc_id))
        except (OSError, TransportError):
            peer = None
        if peer is not None:
            self._peers[assoc_id] = peer
        return peer

    async def _announce_loop(self, udp: UdpSocket) -> None:
        while True:
            try:
                datagram = await udp.receive()
            except (trio.ClosedResourceError, TransportError):
                return
            source = parse_ip(datagram.source[0])
            if source is None:
                continue
            self.guarded(
                self.core.receive_announce, datagram.data, (source, datagram.source[1]), self.now()
            )
            await self.flush()

    async def _timers_due(self, now: int) -> None:
        self.guarded(self.core.handle_timers, now)
        await self.flush()

    # ------------------------------------------------------------------ output

    async def flush(self) -> None:
        """Dispatch the core's events and perform its actions, until both are drained."""
        await _loop.flush(self.core, self._lock, self._clock, self._publish, self._perform)

    def _publish(self, event: Event) -> None:
        self.log.debug("%s", event)
        try:
            self.dispatch(event)
        except Exception:
            self.internal_errors += 1
            self.log.exception("dispatching %s failed", event)
        self._stream.publish(event)

    def dispatch(self, event: Event) -> None:
        """Route an event to whoever waits for it (the subclass's dispatcher for its type);
        never blocks."""
        dispatcher = self._dispatchers.get(type(event))
        if dispatcher is not None:
            dispatcher(event)

    async def _perform(self, action: EndpointAction) -> None:
        self.log.debug("%s", action)
        await self._performers[type(action)](action)

    async def _send(self, action: EndpointAction) -> None:
        assert isinstance(action, Send) and action.assoc_id is not None
        try:
            await self.asap_endpoint.send(action.assoc_id, action.encode(), action.ppid)
        except GONE as exc:
            self.log.debug("dropped %s: %s", action, exc)
            self.guarded(self.core.registrar_lost, action.assoc_id, self.now())

    async def _abort(self, action: EndpointAction) -> None:
        assert isinstance(action, Abort)
        self._peers.pop(action.assoc_id, None)
        with suppress(*GONE):
            await self.asap_endpoint.abort(action.assoc_id)

    async def _cancel_connect(self, action: EndpointAction) -> None:
        assert isinstance(action, CancelConnect)
        assoc_id = self._attempt_assoc.pop(action.attempt, None)
        if assoc_id is not None:
            self._assoc_attempt.pop(assoc_id, None)
            with suppress(*GONE):
                await self.asap_endpoint.abort(assoc_id)

    async def _connect_registrar(self, action: EndpointAction) -> None:
        assert isinstance(action, ConnectRegistrar)
        remote = [(str(a), action.to.port) for a in action.to.addresses]
        try:
            assoc_id = await self.asap_endpoint.connect(remote)
        except GONE as exc:
            self.log.debug("connect to registrar %s failed: %s", action.to, exc)
            reason = connect_failure(exc)
            self.guarded(self.core.registrar_connect_failed, action.attempt, self.now(), reason)
            return
        if assoc_id in self._up_early:  # COMM_UP was faster than we were
            self._up_early.discard(assoc_id)
            peer = self._peers.get(assoc_id)
            self.guarded(self.core.registrar_connected, action.attempt, assoc_id, self.now(), peer)
            return
        self._attempt_assoc[action.attempt] = assoc_id
        self._assoc_attempt[assoc_id] = action.attempt
