"""A deterministic simulator of registrars, byte for byte: :class:`Sim`.

:class:`Sim` runs any number of real :class:`~rserpool.proto.registrar.RegistrarCore`\\ s and
scripted pool elements or pool users (:class:`Fake`) on a lossless network with zero latency,
in virtual time (integer milliseconds, like the cores). Nothing is mocked in between: every
message a core sends is encoded to bytes, and the receiver decodes those bytes, so a test
exercises the codec, the ASAP and ENRP state machines and the handlespace together. It runs
in microseconds per message and is fully reproducible from its seed.

* **Nodes.** ``sim.registrar("PR1", "10.0.0.1", server_id)`` adds a registrar (ASAP port
  3863, ENRP port 9901, both on that address; ``**overrides`` replace fields of its
  :class:`~rserpool.proto.registrar.RegistrarConfig`). ``sim.fake("PE1", "10.1.0.1")`` adds
  a fake ASAP endpoint whose messages the test writes itself.
* **Associations** are pairs of endpoints with an id on each side. A core's ``Send`` with
  ``to=`` reuses or creates one, as an SCTP one-to-many socket does; ``Fake.send`` does the
  same. ``crash(name)`` makes a node vanish (its peers' associations fail);
  ``break_association`` ends one.
* **Delivery** is in FIFO order at once (``deliver``, ``pump``, ``settle``); ENRP multicast
  (Presence) reaches every other registrar, ASAP Server Announces reach every fake
  (``Fake.announces``), unless ``sim.multicast`` is False. ``sim.drop`` may lose messages:
  ``drop(source name, destination name, bytes) -> True`` to lose one.
* **Time** moves only in ``run(ms)``, which fires each core's timers as they fall due.
* **Evidence**: ``trace`` (one line per delivered message, in RFC terms), ``events`` and
  ``actions`` (``(time, registrar name, item)``), ``events_of(name, kind)``, ``pes(name)``
  (what a registrar's handlespace holds) and each fake's ``inbox``.

A registration, its handle resolution, and the peer registrar that learns of it::

    from rserpool.testing.registrar import Sim
    from rserpool.wire import HandleResolution, HandleResolutionResponse

    sim = Sim(seed=7)
    sim.registrar("PR1", "10.0.0.1", 0x11111111)
    sim.registrar("PR2", "10.0.0.2", 0x22222222)
    sim.run(5001)  # past the startup phase: the two found each other by multicast
    pe = sim.fake("PE", "10.1.0.1")
    pe.send("PR1", pe.registration(b"EchoPool", 0x2001))
    sim.run(1000)
    assert sim.pes("PR2") == {(b"EchoPool", 0x2001, 0x11111111)}
    pu = sim.fake("PU", "10.2.0.1")
    pu.send("PR2", HandleResolution(pool_handle=b"EchoPool"))
    (answer,) = pu.received(HandleResolutionResponse)
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from rserpool.proto.common import (
    Abort,
    Action,
    Endpoint,
    Event,
    IPAddress,
    Multicast,
    Send,
    TransportAddress,
)
from rserpool.proto.registrar import RegistrarConfig, RegistrarCore
from rserpool.scope import AddressScope
from rserpool.testing.addresses import ip
from rserpool.wire import (
    PPID,
    EndpointKeepAlive,
    EndpointKeepAliveAck,
    Message,
    PolicyType,
    PoolElement,
    PoolMemberSelectionPolicy,
    Registration,
    SctpTransport,
    ServerAnnounce,
    decode_message_untrusted,
    encode_message,
)

__all__ = ["Fake", "Sim", "SimEndpoint", "ip"]

_PPID = {Endpoint.ASAP: PPID.ASAP, Endpoint.ENRP: PPID.ENRP}
M = TypeVar("M", bound=Message)
E = TypeVar("E")


@dataclass(eq=False)
class SimEndpoint:
    """One SCTP endpoint: a registrar's ASAP or ENRP endpoint, or a fake PE/PU's.

    ``assocs`` maps this side's association id to (the other endpoint, its id there).
    """

    name: str
    kind: Endpoint
    addresses: tuple[IPAddress, ...]
    port: int
    owner: RegistrarCore | Fake
    assocs: dict[int, tuple[SimEndpoint, int]] = field(default_factory=dict)

    @property
    def transport(self) -> TransportAddress:
        return TransportAddress(self.addresses, self.port)


class Fake:
    """A scripted PE or PU: sends what the test tells it, records what it receives.

    ``inbox`` holds ``(time, association id, message)`` of everything received (decoded from
    the bytes a registrar sent: undecodable bytes fail the test), ``announces`` the
    ``(time, server id)`` of every ASAP Server Announce, ``aborted`` the ids of its
    associations that failed. It answers an Endpoint Keep Alive with an Ack, as a live PE
    does, while ``ack_keep_alives`` is True (set it False to play a dead PE); ``home_assoc``
    is the association of the last Keep Alive with the H bit (the PE's home registrar).
    """

    def __init__(self, sim: Sim, name: str, address: str, port: int) -> None:
        self.sim = sim
        self.name = name
        self.endpoint = SimEndpoint(name, Endpoint.ASAP, (ip(address),), port, self)
        self.inbox: list[tuple[int, int, Message]] = []
        self.announces: list[tuple[int, int]] = []  # (time, server id)
        self.aborted: list[int] = []
        self.ack_keep_alives = True
        self.home_assoc: int | None = None
        sim.endpoints.append(self.endpoint)

    def send(self, registrar: str, message: Message) -> int:
        """Encode ``message`` and deliver it to a registrar's ASAP endpoint (and everything
        that follows from it, without advancing time); returns the local association id."""
        return self.send_raw(registrar, int(message.PPID), encode_message(message))

    def send_raw(self, registrar: str, ppid: int, data: bytes) -> int:
        """Deliver bytes to a registrar's ASAP endpoint; returns the local association id."""
        remote = self.sim.endpoint_of(registrar, Endpoint.ASAP)
        local_id, _ = self.sim.associate(self.endpoint, remote)
        self.sim.deliver(self.endpoint, local_id, ppid, data)
        return local_id

    def received(self, kind: type[M]) -> list[M]:
        """Every message of type ``kind`` received so far, oldest first."""
        return [m for _, _, m in self.inbox if isinstance(m, kind)]

    def last(self) -> Message:
        """The last message received."""
        return self.inbox[-1][2]

    def on_message(self, assoc_id: int, message: Message) -> None:
        """Called by the simulator for every message delivered to this fake."""
        self.inbox.append((self.sim.now, assoc_id, message))
        if isinstance(message, EndpointKeepAlive) and self.ack_keep_alives:
            if message.home:
                self.home_assoc = assoc_id
            pe_id = message.pe_id if message.pe_id is not None else 0
            ack = EndpointKeepAliveAck(pool_handle=message.pool_handle, pe_id=pe_id)
            self.sim.deliver(self.endpoint, assoc_id, int(PPID.ASAP), encode_message(ack))

    def registration(
        self,
        handle: bytes,
        pe_id: int,
        *,
        policy: PoolMemberSelectionPolicy | None = None,
        user_port: int = 7000,
        addresses: tuple[IPAddress, ...] | None = None,
        life: int = 90_000,
    ) -> Registration:
        """A Registration advertising this fake's address(es) as the user transport."""
        user = SctpTransport(user_port, addresses or self.endpoint.addresses)
        pe = PoolElement(
            pe_id,
            0,
            life,
            user,
            policy or PoolMemberSelectionPolicy(PolicyType.ROUND_ROBIN),
        )
        return Registration(pool_handle=handle, pool_element=pe)


class Sim:
    """Registrar cores and fakes on a lossless zero-latency network in virtual time.

    ``seed`` makes a run reproducible: each registrar's random generator is seeded from it.
    """

    def __init__(self, seed: int = 1) -> None:
        self.now = 0
        self.rng = random.Random(seed)
        self.endpoints: list[SimEndpoint] = []
        self.registrars: dict[str, RegistrarCore] = {}
        self.queue: deque[tuple[SimEndpoint, int, int, bytes]] = deque()
        self.trace: list[str] = []
        self.actions: list[tuple[int, str, Action]] = []
        self.events: list[tuple[int, str, Event]] = []
        self.multicast = True
        self.trace_multicast = True
        # drop(src name, dst name, data) -> True: the message is lost on the way
        self.drop: Callable[[str, str, bytes], bool] | None = None
        self._next_assoc = 100

    # ----------------------------------------------------------------- building

    def registrar(self, name: str, address: str, server_id: int, **overrides: Any) -> RegistrarCore:
        """Start a registrar core ``name`` at ``address``; ``overrides`` are RegistrarConfig
        fields (``max_bad_pe_reports=1``, ...). It is in its startup phase for 5 s."""
        addresses = (ip(address),)
        config = RegistrarConfig(
            server_id=server_id,
            asap_addresses=addresses,
            enrp_addresses=addresses,
            min_address_scope=AddressScope.SITE_LOCAL,
        )
        config = replace(config, **overrides)
        core = RegistrarCore(config, random.Random(self.rng.random()), self.now)
        self.registrars[name] = core
        for kind, port in ((Endpoint.ASAP, config.asap_port), (Endpoint.ENRP, config.enrp_port)):
            self.endpoints.append(SimEndpoint(name, kind, addresses, port, core))
        self.collect(name)
        return core

    def fake(self, name: str, address: str, port: int = 5000) -> Fake:
        """A scripted PE or PU ``name`` with one ASAP endpoint at ``address``:``port``."""
        return Fake(self, name, address, port)

    def endpoint_of(self, name: str, kind: Endpoint) -> SimEndpoint:
        """The ASAP or ENRP endpoint of node ``name`` (KeyError if it has none)."""
        for ep in self.endpoints:
            if ep.name == name and ep.kind is kind:
                return ep
        raise KeyError(name)

    # -------------------------------------------------------------- associations

    def associate(self, a: SimEndpoint, b: SimEndpoint) -> tuple[int, int]:
        """The association between two endpoints (created if needed): (id at a, id at b)."""
        for local_id, (remote, remote_id) in a.assocs.items():
            if remote is b:
                return local_id, remote_id
        self._next_assoc += 1
        a_id = self._next_assoc
        self._next_assoc += 1
        b_id = self._next_assoc
        a.assocs[a_id] = (b, b_id)
        b.assocs[b_id] = (a, a_id)
        return a_id, b_id

    def find_listener(self, kind: Endpoint, to: TransportAddress) -> SimEndpoint | None:
        """The endpoint of ``kind`` that owns an address and the port of ``to``, if any."""
        for ep in self.endpoints:
            if ep.kind is kind and ep.port == to.port and set(ep.addresses) & set(to.addresses):
                return ep
        return None

    def break_association(self, ep: SimEndpoint, assoc_id: int, *, notify_local: bool) -> None:
        """End an association: the remote side is told it is lost (and this side too if
        ``notify_local``, as when the network, not this node, ended it)."""
        link = ep.assocs.pop(assoc_id, None)
        if link is None:
            return  # already ended, e.g. by what the end of another association caused
        remote, remote_id = link
        remote.assocs.pop(remote_id, None)
        self._lost(remote, remote_id)
        if notify_local:
            self._lost(ep, assoc_id)
        self.pump()

    def _lost(self, ep: SimEndpoint, assoc_id: int) -> None:
        if isinstance(ep.owner, RegistrarCore):
            ep.owner.association_lost(ep.kind, assoc_id, self.now)
            self.collect(ep.name)
        else:
            ep.owner.aborted.append(assoc_id)

    def crash(self, name: str) -> None:
        """The registrar ``name`` vanishes; its peers' SCTP associations with it fail."""
        del self.registrars[name]
        gone = [e for e in self.endpoints if e.name == name]
        for ep in gone:  # first, so that nothing reacting below can reach them again
            self.endpoints.remove(ep)
        for ep in gone:
            # Breaking one association makes others react (and perhaps end a further one
            # with this registrar): each id is looked up again when its turn comes.
            while ep.assocs:
                self.break_association(ep, next(iter(ep.assocs)), notify_local=False)

    # ------------------------------------------------------------------ delivery

    def deliver(self, src: SimEndpoint, assoc_id: int, ppid: int, data: bytes) -> None:
        """Send ``data`` on an association and deliver everything queued."""
        self.queue.append((src, assoc_id, ppid, data))
        self.pump()

    def pump(self) -> None:
        """Deliver queued messages (and what they cause) until nothing is in flight."""
        while self.queue:
            src, assoc_id, ppid, data = self.queue.popleft()
            link = src.assocs.get(assoc_id)
            if link is None:
                continue
            dst, dst_id = link
            if self.drop is not None and self.drop(src.name, dst.name, data):
                continue
            self._trace(src.name, dst.name, ppid, data)
            if isinstance(dst.owner, RegistrarCore):
                dst.owner.receive(dst.kind, dst_id, ppid, data, src.transport, self.now)
                self.collect(dst.name)
            else:
                try:
                    message = decode_message_untrusted(ppid, data)
                except Exception as exc:  # a fake PE/PU: keep the bytes as evidence
                    raise AssertionError(f"registrar sent undecodable bytes: {exc}") from exc
                dst.owner.on_message(dst_id, message)

    def _trace(self, src: str, dst: str, ppid: int, data: bytes) -> None:
        try:
            text = decode_message_untrusted(ppid, data).summary()
        except Exception as exc:
            text = f"<undecodable PPID {ppid}: {exc}>"
        self.trace.append(f"{self.now:>7} {src:>4} -> {dst:<4} {text}")

    def collect(self, name: str) -> None:
        """Take a registrar core's events and actions, and carry the actions out."""
        core = self.registrars.get(name)
        if core is None:
            return
        for event in core.events():
            self.events.append((self.now, name, event))
        for action in core.outgoing():
            self.actions.append((self.now, name, action))
            self._perform(name, action)

    def _perform(self, name: str, action: Action) -> None:
        if isinstance(action, Send):
            src = self.endpoint_of(name, action.endpoint)
            data = action.encode()
            if action.assoc_id is not None:
                self.queue.append((src, action.assoc_id, action.ppid, data))
                return
            assert action.to is not None
            dst = self.find_listener(action.endpoint, action.to)
            if dst is None:
                return  # nobody there: the send fails silently
            local_id, _ = self.associate(src, dst)
            self.queue.append((src, local_id, action.ppid, data))
        elif isinstance(action, Abort):
            src = self.endpoint_of(name, action.endpoint)
            if action.assoc_id in src.assocs:
                self.break_association(src, action.assoc_id, notify_local=False)
        elif isinstance(action, Multicast):
            self._multicast(name, action)

    def _multicast(self, name: str, action: Multicast) -> None:
        if not self.multicast:
            return
        data = action.encode()
        src = self.endpoint_of(name, action.endpoint)
        if self.trace_multicast:
            self._trace(name, "*", _PPID[action.endpoint], data)
        if action.endpoint is Endpoint.ASAP:
            message = decode_message_untrusted(PPID.ASAP, data)
            assert isinstance(message, ServerAnnounce)
            for ep in self.endpoints:
                if isinstance(ep.owner, Fake):
                    ep.owner.announces.append((self.now, message.server_id))
            return
        for other, core in list(self.registrars.items()):
            if other != name and not (self.drop and self.drop(name, other, data)):
                core.receive_multicast(Endpoint.ENRP, data, (src.addresses[0], src.port), self.now)
                self.collect(other)

    # ------------------------------------------------------------------ time

    def run(self, duration: int) -> None:
        """Advance ``duration`` ms, firing every core's timers as they fall due."""
        until = self.now + duration
        self.pump()
        while True:
            deadlines = [
                (d, n) for n, c in self.registrars.items() if (d := c.next_deadline()) is not None
            ]
            if not deadlines or min(deadlines)[0] > until:
                self.now = until
                return
            self.now = max(self.now, min(deadlines)[0])
            for name, core in list(self.registrars.items()):
                deadline = core.next_deadline()
                if deadline is not None and deadline <= self.now:
                    core.handle_timers(self.now)
                    self.collect(name)
                    self.pump()

    def settle(self) -> None:
        """Deliver everything queued without advancing time."""
        self.pump()

    def events_of(self, name: str, kind: type[E]) -> list[E]:
        """The events of type ``kind`` that registrar ``name`` reported, oldest first."""
        return [e for _, n, e in self.events if n == name and isinstance(e, kind)]

    def pes(self, name: str) -> set[tuple[bytes, int, int]]:
        """(pool handle, PE id, home) of every PE in a registrar's handlespace."""
        return {
            (pe.pool_handle, pe.pe_id, pe.home_registrar_id)
            for pe in self.registrars[name].handlespace
        }
