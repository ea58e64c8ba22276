"""A deterministic simulator of whole pools: :class:`Net`.

:class:`Net` wires real cores together on a lossless zero-latency network in virtual time
(integer milliseconds): registrars (:class:`~rserpool.proto.registrar.RegistrarCore`), pool
elements (:class:`~rserpool.proto.client.pool_element.PoolElementCore`) and one pool user
(:class:`~rserpool.proto.client.pool_user.PoolUserCore`). Every message is encoded, passed as
bytes with its PPID, and decoded by the receiving core, so a test runs the codec and every
state machine of ASAP and ENRP (server hunt, registration, keep-alives, handle resolution,
sessions with cookie failover, takeover) exactly as the Trio drivers do, only without sockets
and without waiting.

* **Nodes.** ``net.registrar("PR1", "10.0.0.1", server_id)``;
  ``net.pool_element("PE1", "10.1.0.1", hunt)`` registers a PE in :data:`POOL` ("PingPongPool")
  and returns its PE id; each PE session runs RSPLIB's ping-pong service
  (:class:`~rserpool.apps.services.PingPongService`). ``net.pool_user(hunt, config)`` adds the
  pool user "PU" (10.9.0.1); ``net.start_pinging()`` opens a session to :data:`POOL` and sends a
  Ping every ``ping_interval`` ms from a :class:`~rserpool.apps.services.PingPongClient`
  (``net.client``), which checks that no Pong is lost or duplicated across failovers.
* **Associations** connect at once when a listener owns the address and port, and fail at
  once otherwise. ``crash(name)`` makes a node vanish (kill -9): its peers' associations fail.
  ``announces_reach_users = False`` keeps ASAP Server Announces from PEs and the PU.
* **Time** moves only in ``run(ms)`` (``pinging_until=`` stops the pings at that time).
* **Evidence**: ``trace`` (one line per ASAP/ENRP message, in RFC terms), ``events``
  (``(time, node, event)``) and ``of(node, kind)``; the cores themselves (``registrars``,
  ``pes``, ``pu``).

A pool user's session survives the crash of the pool element serving it::

    from rserpool.proto.client.hunt_types import RegistrarHuntConfig
    from rserpool.proto.client.pool_user import PoolUserConfig
    from rserpool.proto.client.session import FailoverComplete, SessionConnected
    from rserpool.testing.addresses import ta
    from rserpool.testing.client import Net

    net = Net(seed=3)
    net.registrar("PR1", "10.0.0.1", 0x11111111)
    hunt = RegistrarHuntConfig(static_registrars=(ta("10.0.0.1", 3863),))
    for i in (1, 2):
        net.pool_element(f"PE{i}", f"10.1.0.{i}", hunt)
    net.run(1000)
    net.pool_user(hunt, PoolUserConfig())
    net.start_pinging()
    net.run(1000)
    (connected,) = net.of("PU", SessionConnected)
    net.crash(next(n for n, pe in net.pes.items() if connected.pe_id in pe.pool_elements()))
    net.run(3000)
    (failover,) = net.of("PU", FailoverComplete)
    assert failover.pe_id != connected.pe_id and net.client.clean
"""

from __future__ import annotations

import random
from typing import Any, TypeVar

from rserpool.apps.services import (
    PINGPONG_PPID,
    Close,
    PingPongClient,
    PingPongService,
    Reply,
    SendCookie,
)
from rserpool.proto.client.hunt_types import CancelConnect, ConnectRegistrar, RegistrarHuntConfig
from rserpool.proto.client.pool_element import PoolElementConfig, PoolElementCore
from rserpool.proto.client.pool_user import PoolUserConfig, PoolUserCore
from rserpool.proto.client.session import (
    CloseSession,
    ConnectSession,
    CookieEchoReceived,
    DataReceived,
    FailoverNecessary,
    SessionAccepted,
    SessionSend,
)
from rserpool.proto.common import Abort, Endpoint, Multicast, Send
from rserpool.proto.registrar import RegistrarConfig, RegistrarCore
from rserpool.scope import AddressScope
from rserpool.testing.addresses import ip
from rserpool.testing.wiring import Ep, Wiring

__all__ = ["POOL", "Ep", "Net"]

#: The pool every PE of a :class:`Net` registers in.
POOL = b"PingPongPool"
T = TypeVar("T")


class Net(Wiring):
    """Registrar, pool element and pool user cores on a lossless zero-latency network in
    virtual time; ``seed`` makes a run reproducible (each core's random generator is seeded
    from it)."""

    def __init__(self, seed: int = 1) -> None:
        super().__init__(seed)
        self.services: dict[tuple[str, int], PingPongService] = {}
        self.client = PingPongClient()
        self.session: int | None = None
        self.ping_interval = 100
        self.next_ping: int | None = None
        self.announces_reach_users = True  # ASAP Server Announces reach the PEs and the PU

    # ------------------------------------------------------------------ building

    def registrar(self, name: str, address: str, server_id: int) -> RegistrarCore:
        """Start a registrar core ``name`` at ``address`` (ASAP 3863, ENRP 9901)."""
        config = RegistrarConfig(
            server_id=server_id,
            asap_addresses=(ip(address),),
            enrp_addresses=(ip(address),),
            min_address_scope=AddressScope.SITE_LOCAL,
        )
        core = RegistrarCore(config, random.Random(self.rng.random()), self.now)
        self.registrars[name] = core
        self.eps += [Ep(name, "asap", address, 3863), Ep(name, "enrp", address, 9901)]
        self.flush(name)
        return core

    def pool_element(self, name: str, address: str, hunt: RegistrarHuntConfig) -> int:
        """Start a PE core ``name`` at ``address`` (ASAP 5000, sessions on 7000) that
        registers in :data:`POOL`, finding its registrar by ``hunt``; returns its PE id."""
        core = PoolElementCore(hunt, random.Random(self.rng.random()), self.now)
        self.pes[name] = core
        self.eps += [Ep(name, "asap", address, 5000), Ep(name, "user", address, 7000)]
        config = PoolElementConfig(pool_handle=POOL, addresses=(ip(address),), port=7000)
        pe_id = core.register(config, self.now)
        self.flush(name)
        return pe_id

    def pool_user(self, hunt: RegistrarHuntConfig, config: PoolUserConfig) -> PoolUserCore:
        """Start the pool user core "PU" at 10.9.0.1 (ASAP 6000, sessions from 6001)."""
        self.pu = PoolUserCore(hunt, random.Random(self.rng.random()), self.now, config)
        self.eps += [Ep("PU", "asap", "10.9.0.1", 6000), Ep("PU", "session", "10.9.0.1", 6001)]
        return self.pu

    def start_pinging(self) -> None:
        """Open the PU's session to :data:`POOL`; ping every ``ping_interval`` ms from now."""
        assert self.pu is not None
        self.session = self.pu.open_session(POOL, self.now)
        self.next_ping = self.now
        self.flush("PU")

    def flush(self, node: str) -> None:
        """Take a core's events (to ``events`` and the applications) and carry out its
        actions; what they send is queued, delivered by :meth:`pump` or :meth:`run`."""
        core = self.core(node)
        if core is None:
            return
        for event in core.events():
            self.events.append((self.now, node, event))
            self.on_event(node, event)
        for action in core.outgoing():
            self.perform(node, core, action)

    def perform(self, node: str, core: Any, action: Any) -> None:
        if isinstance(action, Send):
            src = self.ep(node, "asap" if action.endpoint is Endpoint.ASAP else "enrp")
            if action.assoc_id is not None:
                self.send(src, action.assoc_id, action.ppid, action.encode())
            else:
                assert action.to is not None
                dst = self.listener(src.kind, action.to)
                if dst is not None:
                    assoc = self.associate(src, dst, reuse=True)
                    self.send(src, assoc, action.ppid, action.encode())
        elif isinstance(action, Abort):
            src = self.ep(node, "asap" if action.endpoint is Endpoint.ASAP else "enrp")
            self.break_assoc(src, action.assoc_id, notify_local=False)
        elif isinstance(action, Multicast):
            self.multicast(node, action)
        elif isinstance(action, ConnectRegistrar):
            src, dst = self.ep(node, "asap"), self.listener("asap", action.to)
            if dst is None or not isinstance(self.core(dst.node), RegistrarCore):
                self.queue.append(
                    lambda: self._call(node, "registrar_connect_failed", action.attempt, self.now)
                )
            else:
                assoc = self.associate(src, dst, reuse=False)
                self.queue.append(
                    lambda: self._call(node, "registrar_connected", action.attempt, assoc, self.now)
                )
        elif isinstance(action, CancelConnect):
            pass  # connects complete at once
        elif isinstance(action, ConnectSession):
            src, dst = self.ep(node, "session"), self.listener("user", action.to)
            if dst is None:
                self.queue.append(
                    lambda: self._call(node, "session_connect_failed", action.connection, self.now)
                )
            else:
                self.connections[action.connection] = self.associate(src, dst, reuse=False)
                self.queue.append(
                    lambda: self._call(node, "session_connected", action.connection, self.now)
                )
        elif isinstance(action, SessionSend):
            if node == "PU":
                pu_assoc = self.connections.get(action.connection)
                if pu_assoc is not None:
                    self.send(self.ep("PU", "session"), pu_assoc, action.ppid, action.data)
            else:
                self.send(self.ep(node, "user"), action.connection, action.ppid, action.data)
        elif isinstance(action, CloseSession):
            if node == "PU":
                closed = self.connections.pop(action.connection, None)
                if closed is not None:
                    self.break_assoc(self.ep("PU", "session"), closed, notify_local=False)
            else:
                self.break_assoc(self.ep(node, "user"), action.connection, notify_local=False)
        else:  # pragma: no cover
            raise AssertionError(f"unknown action {action}")

    def multicast(self, node: str, action: Multicast) -> None:
        src = self.ep(node, "asap" if action.endpoint is Endpoint.ASAP else "enrp")
        data = action.encode()
        source = (ip(src.address), src.port)
        if action.endpoint is Endpoint.ASAP:
            for name in [*self.pes, "PU"] if self.announces_reach_users else []:
                self._call(name, "receive_announce", data, source, self.now)
        else:
            for name, core in list(self.registrars.items()):
                if name != node:
                    core.receive_multicast(Endpoint.ENRP, data, source, self.now)
                    self.flush(name)

    # ------------------------------------------------------------------ applications

    def on_event(self, node: str, event: Any) -> None:
        if node in self.pes:
            core = self.pes[node]
            if isinstance(event, SessionAccepted):
                self.services[(node, event.session)] = PingPongService()
                return
            service = self.services.get((node, getattr(event, "session", -1)))
            if service is None:
                return
            if isinstance(event, DataReceived):
                outputs = service.received(event.ppid, event.data)
            elif isinstance(event, CookieEchoReceived):
                outputs = service.cookie_echo(event.cookie)
            else:
                return
            for out in outputs:
                if isinstance(out, Reply):
                    core.send(event.session, out.data, out.ppid)
                elif isinstance(out, SendCookie):
                    core.send_cookie(event.session, out.cookie)
                elif isinstance(out, Close):
                    core.close_session(event.session, abort=out.abort)
        elif node == "PU":
            assert self.pu is not None
            if isinstance(event, DataReceived):
                self.client.received(event.ppid, event.data)
            elif isinstance(event, FailoverNecessary):
                for ping in self.client.unanswered():
                    self.pu.send(event.session, ping, PINGPONG_PPID)

    # ------------------------------------------------------------------ time

    def run(self, duration: int, *, pinging_until: int | None = None) -> None:
        """Advance ``duration`` ms, firing timers and pings as they fall due; the pings stop
        at ``pinging_until`` (a time, not a duration) if given."""
        until = self.now + duration
        self.pump()
        while True:
            due = [d for c in self.cores().values() if (d := c.next_deadline()) is not None]
            if self.next_ping is not None:
                due.append(self.next_ping)
            if not due or min(due) > until:
                self.now = until
                return
            self.now = max(self.now, min(due))
            if self.next_ping is not None and self.next_ping <= self.now:
                assert self.pu is not None and self.session is not None
                self.pu.send(self.session, self.client.ping(), PINGPONG_PPID)
                self.flush("PU")
                stop = pinging_until is not None and self.now >= pinging_until
                self.next_ping = None if stop else self.now + self.ping_interval
            for name, core in list(self.cores().items()):
                deadline = core.next_deadline()
                if deadline is not None and deadline <= self.now:
                    core.handle_timers(self.now)
                    self.flush(name)
            self.pump()

    def of(self, node: str, kind: type[T]) -> list[T]:
        """The events of type ``kind`` that ``node`` reported, oldest first."""
        return [e for _, n, e in self.events if n == node and isinstance(e, kind)]
