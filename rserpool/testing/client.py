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
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rserpool.apps.services import (
    PINGPONG_PPID,
    Close,
    PingPongClient,
    PingPongService,
    Reply,
    SendCookie,
)
from rserpool.proto.client.hunt import RegistrarClient
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
from rserpool.proto.common import Abort, Endpoint, Event, Multicast, Send, TransportAddress
from rserpool.proto.registrar import RegistrarConfig, RegistrarCore
from rserpool.scope import AddressScope
from rserpool.testing.addresses import ip
from rserpool.wire import PPID, decode_message_untrusted

__all__ = ["POOL", "Ep", "Net"]

#: The pool every PE of a :class:`Net` registers in.
POOL = b"PingPongPool"
T = TypeVar("T")


@dataclass(eq=False)
class Ep:
    """One endpoint of a node; ``assocs`` maps this side's association id to (the other
    endpoint, its id there)."""

    node: str
    kind: str  # "asap", "enrp", "user" (PE sessions), "session" (PU side)
    address: str
    port: int
    assocs: dict[int, tuple[Ep, int]] = field(default_factory=dict)

    @property
    def transport(self) -> TransportAddress:
        return TransportAddress((ip(self.address),), self.port)


class Net:
    """Registrar, pool element and pool user cores on a lossless zero-latency network in
    virtual time; ``seed`` makes a run reproducible (each core's random generator is seeded
    from it)."""

    def __init__(self, seed: int = 1) -> None:
        self.now = 0
        self.rng = random.Random(seed)
        self.eps: list[Ep] = []
        self.registrars: dict[str, RegistrarCore] = {}
        self.pes: dict[str, PoolElementCore] = {}
        self.services: dict[tuple[str, int], PingPongService] = {}
        self.pu: PoolUserCore | None = None
        self.client = PingPongClient()
        self.session: int | None = None
        self.ping_interval = 100
        self.next_ping: int | None = None
        self.queue: deque[Callable[[], None]] = deque()
        self.events: list[tuple[int, str, Event]] = []
        self.trace: list[str] = []
        self.connections: dict[int, int] = {}  # PU connection -> PU-side assoc id
        self.announces_reach_users = True  # ASAP Server Announces reach the PEs and the PU
        self._next_assoc = 1000

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

    # ------------------------------------------------------------------ plumbing

    def ep(self, node: str, kind: str) -> Ep:
        """The endpoint of ``kind`` ("asap", "enrp", "user", "session") of ``node``."""
        return next(e for e in self.eps if e.node == node and e.kind == kind)

    def core(self, node: str) -> Any:
        """The core of ``node`` ("PU" for the pool user); None once it crashed."""
        if node == "PU":
            return self.pu
        return self.pes.get(node) or self.registrars.get(node)

    def associate(self, a: Ep, b: Ep, *, reuse: bool) -> int:
        if reuse:
            for local, (remote, _) in a.assocs.items():
                if remote is b:
                    return local
        self._next_assoc += 2
        a_id, b_id = self._next_assoc, self._next_assoc + 1
        a.assocs[a_id], b.assocs[b_id] = (b, b_id), (a, a_id)
        if b.kind == "user":
            self.queue.append(lambda: self._call(b.node, "session_accepted", b_id, self.now))
        return a_id

    def listener(self, kind: str, to: TransportAddress) -> Ep | None:
        for e in self.eps:
            if e.kind == kind and e.port == to.port and ip(e.address) in to.addresses:
                return e
        return None

    def send(self, src: Ep, assoc: int, ppid: int, data: bytes) -> None:
        self.queue.append(lambda: self._deliver(src, assoc, ppid, data))

    def _deliver(self, src: Ep, assoc: int, ppid: int, data: bytes) -> None:
        link = src.assocs.get(assoc)
        if link is None:
            return
        dst, dst_id = link
        if ppid in (PPID.ASAP, PPID.ENRP):
            try:
                text = decode_message_untrusted(ppid, data).summary()
            except Exception as exc:  # pragma: no cover - evidence only
                text = f"<bad: {exc}>"
            self.trace.append(f"{self.now:>6} {src.node}->{dst.node} {text}")
        core = self.core(dst.node)
        if isinstance(core, RegistrarCore):
            kind = Endpoint.ASAP if dst.kind == "asap" else Endpoint.ENRP
            core.receive(kind, dst_id, ppid, data, src.transport, self.now)
        elif dst.kind == "asap":
            core.receive_registrar(dst_id, ppid, data, self.now, src.transport)
        elif dst.kind == "user":
            core.receive_session(dst_id, ppid, data, self.now)
        else:
            conn = next(c for c, a in self.connections.items() if a == dst_id)
            core.receive_session(conn, ppid, data, self.now)
        self.flush(dst.node)

    def break_assoc(self, ep: Ep, assoc: int, *, notify_local: bool) -> None:
        link = ep.assocs.pop(assoc, None)
        if link is None:
            return
        remote, remote_id = link
        remote.assocs.pop(remote_id, None)
        self._lost(remote, remote_id)
        if notify_local:
            self._lost(ep, assoc)

    def _lost(self, ep: Ep, assoc: int) -> None:
        core = self.core(ep.node)
        if core is None:
            return
        if isinstance(core, RegistrarCore):
            kind = Endpoint.ASAP if ep.kind == "asap" else Endpoint.ENRP
            core.association_lost(kind, assoc, self.now)
        elif ep.kind == "asap":
            core.registrar_lost(assoc, self.now)
        elif ep.kind == "user":
            core.session_lost(assoc, self.now)
        else:
            for conn, a in list(self.connections.items()):
                if a == assoc:
                    del self.connections[conn]
                    core.session_lost(conn, self.now)
        self.flush(ep.node)

    def _call(self, node: str, method: str, *args: Any) -> None:
        core = self.core(node)
        if core is not None:
            getattr(core, method)(*args)
            self.flush(node)

    def crash(self, node: str) -> None:
        """The node vanishes (kill -9); its peers' associations with it fail."""
        self.registrars.pop(node, None)
        self.pes.pop(node, None)
        for ep in [e for e in self.eps if e.node == node]:
            for assoc in list(ep.assocs):
                self.break_assoc(ep, assoc, notify_local=False)
            self.eps.remove(ep)
        self.pump()

    # ------------------------------------------------------------------ actions

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

    def pump(self) -> None:
        """Deliver what is queued (and what that causes) without advancing time."""
        for _ in range(1_000_000):
            if not self.queue:
                return
            self.queue.popleft()()
        raise AssertionError("the network does not settle")

    def cores(self) -> dict[str, RegistrarCore | RegistrarClient]:
        """Every live core by node name."""
        cores: dict[str, RegistrarCore | RegistrarClient] = {**self.registrars, **self.pes}
        if self.pu is not None:
            cores["PU"] = self.pu
        return cores

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
