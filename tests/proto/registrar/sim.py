"""A tiny deterministic simulator: registrar cores plus fake PEs/PUs on a lossless network.

Every ``Send`` is encoded to bytes and decoded by the receiver (so the codec is exercised),
delivered in FIFO order with zero latency; time advances to the earliest core deadline.
Associations are (endpoint, endpoint) pairs with an id on each side; a ``Send`` with ``to=``
reuses or creates one, as SCTP one-to-many sockets do. ``trace`` records every delivery.
"""

from __future__ import annotations

import ipaddress
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from rserpool.proto.common import (
    Abort,
    Action,
    Endpoint,
    IPAddress,
    Multicast,
    Send,
    TransportAddress,
)
from rserpool.proto.registrar import RegistrarConfig, RegistrarCore
from rserpool.proto.registrar.addresses import AddressScope
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

_PPID = {Endpoint.ASAP: PPID.ASAP, Endpoint.ENRP: PPID.ENRP}


def ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


@dataclass(eq=False)
class SimEndpoint:
    """One SCTP endpoint: a registrar's ASAP or ENRP endpoint, or a fake PE/PU's."""

    name: str
    kind: Endpoint
    addresses: tuple[IPAddress, ...]
    port: int
    owner: Any  # RegistrarCore or Fake
    assocs: dict[int, tuple[SimEndpoint, int]] = field(default_factory=dict)

    @property
    def transport(self) -> TransportAddress:
        return TransportAddress(self.addresses, self.port)


class Fake:
    """A fake PE or PU: records what it receives; acks Endpoint Keep Alives if told to."""

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
        return self.send_raw(registrar, int(message.PPID), encode_message(message))

    def send_raw(self, registrar: str, ppid: int, data: bytes) -> int:
        """Deliver bytes to a registrar's ASAP endpoint; returns the local association id."""
        remote = self.sim.endpoint_of(registrar, Endpoint.ASAP)
        local_id, _ = self.sim.associate(self.endpoint, remote)
        self.sim.deliver(self.endpoint, local_id, ppid, data)
        return local_id

    def received(self, kind: type[Message]) -> list[Any]:
        return [m for _, _, m in self.inbox if isinstance(m, kind)]

    def last(self) -> Message:
        return self.inbox[-1][2]

    def on_message(self, assoc_id: int, message: Message) -> None:
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
    def __init__(self, seed: int = 1) -> None:
        self.now = 0
        self.rng = random.Random(seed)
        self.endpoints: list[SimEndpoint] = []
        self.registrars: dict[str, RegistrarCore] = {}
        self.queue: deque[tuple[SimEndpoint, int, int, bytes]] = deque()
        self.trace: list[str] = []
        self.actions: list[tuple[int, str, Action]] = []
        self.events: list[tuple[int, str, Any]] = []
        self.multicast = True
        self.trace_multicast = True
        # drop(src name, dst name, data) -> True: the message is lost on the way
        self.drop: Callable[[str, str, bytes], bool] | None = None
        self._next_assoc = 100

    # ----------------------------------------------------------------- building

    def registrar(self, name: str, address: str, server_id: int, **overrides: Any) -> RegistrarCore:
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
        return Fake(self, name, address, port)

    def endpoint_of(self, name: str, kind: Endpoint) -> SimEndpoint:
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
        for ep in self.endpoints:
            if ep.kind is kind and ep.port == to.port and set(ep.addresses) & set(to.addresses):
                return ep
        return None

    def break_association(self, ep: SimEndpoint, assoc_id: int, *, notify_local: bool) -> None:
        remote, remote_id = ep.assocs.pop(assoc_id)
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
        """The node vanishes; its peers' SCTP associations with it fail."""
        del self.registrars[name]
        for ep in [e for e in self.endpoints if e.name == name]:
            for assoc_id in list(ep.assocs):
                self.break_association(ep, assoc_id, notify_local=False)
            self.endpoints.remove(ep)

    # ------------------------------------------------------------------ delivery

    def deliver(self, src: SimEndpoint, assoc_id: int, ppid: int, data: bytes) -> None:
        self.queue.append((src, assoc_id, ppid, data))
        self.pump()

    def pump(self) -> None:
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

    def events_of(self, name: str, kind: type[Any]) -> list[Any]:
        return [e for _, n, e in self.events if n == name and isinstance(e, kind)]

    def pes(self, name: str) -> set[tuple[bytes, int, int]]:
        """(pool handle, PE id, home) of every PE in a registrar's handlespace."""
        return {
            (pe.pool_handle, pe.pe_id, pe.home_registrar_id)
            for pe in self.registrars[name].handlespace
        }
