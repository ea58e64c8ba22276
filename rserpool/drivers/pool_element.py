"""The pool element's Trio API: :func:`open_pool_element`.

    async with open_pool_element(host, "EchoPool", registrars=["198.51.100.1:3863"]) as pe:
        await pe.wait_registered()                 # ASAP Registration accepted
        async for session in pe.sessions():        # a PU associated with our user transport
            nursery.start_soon(serve, session)     # session.receive() / send() / send_cookie()

or with ``handler=serve`` each session is served by ``serve(session)`` in the PE's nursery.

The PE (:class:`~rserpool.proto.client.pool_element.PoolElementCore` underneath) registers with its
home registrar, re-registers every ``reregistration_interval`` ms, answers Endpoint Keep Alives,
follows a takeover (a Keep Alive with the H flag on a new association), hunts for a new home via
Server Announces or the static ``registrars`` when the old one fails, and deregisters when the
``async with`` block ends (at most ``deregister_timeout`` s, shielded from cancellation).

Sessions are one-to-one SCTP associations accepted on the PE's user transport (a listening
socket; its port and addresses are what the PE registers, with transport use DATA+CONTROL):
PPID 11 is ASAP control (Cookie Echo, Business Card), everything else application data.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import replace

import trio

from rserpool.drivers._asap_client import (
    GONE,
    AsapClientDriver,
    Connection,
    SessionGone,
    registrar_addresses,
)
from rserpool.drivers._pe_session import PoolElementSession, SessionItem
from rserpool.drivers._support import Throttle, background_nursery
from rserpool.drivers.associations import parse_ip, transport_of
from rserpool.proto.client.hunt import HomeRegistrar, HomeRegistrarLost, RegistrarHuntConfig
from rserpool.proto.client.pool_element import (
    Deregistered,
    PoolElementConfig,
    PoolElementCore,
    Registered,
    RegistrationFailed,
)
from rserpool.proto.client.session import (
    BusinessCardReceived,
    CookieEchoReceived,
    DataReceived,
    SessionClosed,
)
from rserpool.proto.common import Event, IPAddress, TransportAddress
from rserpool.scope import AddressScope, advertisable
from rserpool.transport import (
    ASAP_ANNOUNCE_GROUP,
    Address,
    AssociationParams,
    Host,
    SctpListener,
    SctpMessage,
    TransportError,
)
from rserpool.wire import (
    Policy,
    PolicyType,
    PoolMemberSelectionPolicy,
    TransportUse,
)

__all__ = [
    "PoolElementNode",
    "PoolElementSession",
    "SessionHandler",
    "SessionItem",
    "open_pool_element",
]

log = logging.getLogger("rserpool.pe")

SessionHandler = Callable[[PoolElementSession], Awaitable[None]]


class PoolElementNode(AsapClientDriver):
    """A running pool element; made by :func:`open_pool_element`."""

    def __init__(
        self,
        host: Host,
        core: PoolElementCore,
        *,
        handler: SessionHandler | None,
        addresses: Sequence[str] | None = None,
        announces: bool = True,
        announce_group: Address = ASAP_ANNOUNCE_GROUP,
        session_params: AssociationParams | None = None,
        event_buffer: int = 256,
        new_session_buffer: int = 16,
    ) -> None:
        super().__init__(
            host,
            core,
            log=log,
            addresses=addresses,
            announces=announces,
            announce_group=announce_group,
            session_params=session_params,
            event_buffer=event_buffer,
        )
        self.pe_core = core
        self.handler = handler
        self.sessions_by_id: dict[int, PoolElementSession] = {}
        self._new_send, self._new_receive = trio.open_memory_channel[PoolElementSession](
            new_session_buffer
        )
        self._listener: SctpListener | None = None
        self._config: PoolElementConfig | None = None
        self._pe_id = 0
        self._next_session = 1
        self._changed = trio.Event()
        self.last_failure: RegistrationFailed | None = None
        # which core events the node acts on, by type (the rest only go to ``events``)
        self._dispatchers.update(
            {
                DataReceived: self._to_session,
                CookieEchoReceived: self._to_session,
                BusinessCardReceived: self._to_session,
                SessionClosed: self._session_closed,
                Registered: self._registration_changed,
                Deregistered: self._registration_changed,
                HomeRegistrarLost: self._registration_changed,
                RegistrationFailed: self._registration_changed,
            }
        )

    # ------------------------------------------------------------------ queries

    @property
    def pe_id(self) -> int:
        return self._pe_id

    @property
    def config(self) -> PoolElementConfig:
        assert self._config is not None, "not started"
        return self._config

    @property
    def user_transport(self) -> TransportAddress:
        """Where PUs reach us: what we register."""
        return TransportAddress(self.config.addresses, self.config.port)

    @property
    def registered(self) -> bool:
        return self.pe_core.is_registered(self._pe_id)

    @property
    def home(self) -> HomeRegistrar | None:
        return self.pe_core.home

    async def wait_registered(self) -> None:
        """Until the registrar has accepted our (re-)registration."""
        while not self.registered:
            await self._changed.wait()

    async def wait_unregistered(self) -> None:
        """Until we are not registered (home registrar lost, or deregistered)."""
        while self.registered:
            await self._changed.wait()

    def sessions(self) -> trio.MemoryReceiveChannel[PoolElementSession]:
        """New sessions, when no ``handler`` was given (a full channel refuses sessions)."""
        return self._new_receive

    # ------------------------------------------------------------------ running

    async def start_pe(
        self,
        nursery: trio.Nursery,
        pool_handle: bytes,
        *,
        port: int,
        policy: Policy,
        pe_id: int,
        reregistration_interval: int,
        registration_life: int,
        min_address_scope: AddressScope = AddressScope.SITE_LOCAL,
    ) -> None:
        self._listener = await self.host.sctp_listen(port, self.addresses, self.session_params)
        await self.start(nursery)
        local = self.addresses or [a for a, _ in self.asap_endpoint.local_addresses()]
        ips: list[IPAddress] = []
        for text in advertisable(local, min_address_scope):
            ip = parse_ip(text)
            if ip is not None and ip not in ips:
                ips.append(ip)
        if not ips:  # RSPLIB: "No addresses of at least site-local scope found"
            scope = min_address_scope.name.lower().replace("_", "-")
            raise TransportError(
                f"no address of at least {scope} scope among {local}: registrars drop "
                "addresses below their minimum scope (RSPLIB: loopback and link-local), so no "
                "registration is possible"
            )
        self._config = PoolElementConfig(
            pool_handle=pool_handle,
            addresses=tuple(ips),
            port=self._listener.port,
            policy=policy,
            pe_id=pe_id,
            transport_use=TransportUse.DATA_PLUS_CONTROL,
            reregistration_interval=reregistration_interval,
            registration_life=registration_life,
        )
        self._pe_id = self.pe_core.register(self._config, self.now())
        nursery.start_soon(self._accept_loop, self._listener)
        await self.flush()

    async def stop_pe(self, deregister_timeout: float) -> None:
        """Deregister (within ``deregister_timeout`` s), then close every socket. Shielded."""
        with trio.CancelScope(shield=True):
            with trio.move_on_after(deregister_timeout):
                self.guarded(self.pe_core.close, self.now())
                await self.flush()
                while not self.pe_core.closed:
                    await self._changed.wait()
            for conn in list(self.connections.values()):  # SHUTDOWN: PUs fail over
                conn.scope.cancel()
            if self._listener is not None:
                with suppress(*GONE):
                    await self._listener.aclose()
            await self.close_sockets()

    async def _accept_loop(self, listener: SctpListener) -> None:
        while True:
            try:
                assoc = await listener.accept()
            except (trio.ClosedResourceError, TransportError):
                return
            except OSError as exc:  # e.g. out of file descriptors: try again later
                log.warning("accepting a session failed: %s", exc)
                await trio.sleep(0.1)
                continue
            number = self._next_session
            self._next_session += 1
            try:
                peer = transport_of(assoc.peer_addresses())
            except (OSError, TransportError):
                peer = None
            conn = Connection(number, assoc, peer=peer)
            self.connections[number] = conn
            session = PoolElementSession(self, number, peer)
            self.sessions_by_id[number] = session
            self.guarded(self.pe_core.session_accepted, number, self.now(), peer)
            self.nursery.start_soon(self.run_connection, conn)
            await self.flush()
            if self.handler is not None:
                self.nursery.start_soon(self._serve, self.handler, session)
            else:
                try:
                    self._new_send.send_nowait(session)
                except trio.WouldBlock:
                    log.warning("session %d refused: nobody accepts sessions", number)
                    await session.close(abort=True)

    async def _serve(self, handler: SessionHandler, session: PoolElementSession) -> None:
        try:
            await handler(session)
        except SessionGone:
            pass
        except Exception:
            log.exception("session handler failed on session %d", session.id)
            await session.close(abort=True)
            return
        if not session.closed:
            await session.close()

    # ------------------------------------------------------------------ driver hooks

    def session_input(self, conn: Connection, item: SctpMessage) -> None:
        self.pe_core.receive_session(conn.number, item.ppid, item.data, self.now())

    def session_ended(self, conn: Connection) -> None:
        self.pe_core.session_lost(conn.number, self.now())

    def inbox_room(self, conn: Connection) -> Throttle | None:
        session = self.sessions_by_id.get(conn.number)
        return None if session is None else session.inbox

    def _to_session(self, event: Event) -> None:
        assert isinstance(event, SessionItem)
        session = self.sessions_by_id.get(event.session)
        if session is not None:
            session.inbox.put(event)

    def _session_closed(self, event: Event) -> None:
        assert isinstance(event, SessionClosed)
        session = self.sessions_by_id.pop(event.session, None)
        if session is not None:
            session.inbox.close()

    def _registration_changed(self, event: Event) -> None:
        if isinstance(event, RegistrationFailed):
            self.last_failure = event
        self._changed.set()
        self._changed = trio.Event()


@asynccontextmanager
async def open_pool_element(
    host: Host,
    pool_handle: bytes | str,
    *,
    registrars: Sequence[TransportAddress | str] = (),
    announces: bool = True,
    announce_group: Address = ASAP_ANNOUNCE_GROUP,
    policy: Policy | None = None,
    pe_id: int = 0,
    addresses: Sequence[str] | None = None,
    port: int = 0,
    reregistration_interval: int = 30_000,
    registration_life: int = 0,
    hunt: RegistrarHuntConfig | None = None,
    handler: SessionHandler | None = None,
    session_params: AssociationParams | None = None,
    deregister_timeout: float = 5.0,
    event_buffer: int = 256,
    rng: random.Random | None = None,
    min_address_scope: AddressScope = AddressScope.SITE_LOCAL,
) -> AsyncIterator[PoolElementNode]:
    """Run a pool element on ``host`` for the duration of the block (module docstring).

    ``registrars``: static registrars (``"ADDR:PORT"`` or ``"ADDR:PORT,ADDR2"`` as RSPLIB's
    ``-registrar=``, or :class:`TransportAddress`); ``announces``: also learn registrars from
    Server Announces. ``addresses``/``port``: the local addresses to bind (default: the host's)
    and the user transport's port (0: any). ``pe_id`` 0 picks a random id. Times in ms, as
    RSPLIB's ``-rereginterval``; the registration life defaults to 3 × the interval.
    ``min_address_scope``: the smallest scope of address registered (RSPLIB's registrars take
    site-local and up by default; ``AddressScope.LOOPBACK`` for a system on one machine).
    """
    handle = pool_handle.encode() if isinstance(pool_handle, str) else pool_handle
    static = registrar_addresses(registrars)
    hunt_config = hunt or RegistrarHuntConfig()
    if static:
        hunt_config = replace(hunt_config, static_registrars=static)
    rng = rng or random.Random()
    core = PoolElementCore(hunt_config, rng, int(trio.current_time() * 1000))
    node = PoolElementNode(
        host,
        core,
        handler=handler,
        addresses=addresses,
        announces=announces,
        announce_group=announce_group,
        session_params=session_params,
        event_buffer=event_buffer,
    )
    async with background_nursery() as nursery:
        try:
            await node.start_pe(
                nursery,
                handle,
                port=port,
                policy=policy or PoolMemberSelectionPolicy(PolicyType.ROUND_ROBIN),
                pe_id=pe_id,
                reregistration_interval=reregistration_interval,
                registration_life=registration_life,
                min_address_scope=min_address_scope,
            )
            yield node
        finally:
            await node.stop_pe(deregister_timeout)
