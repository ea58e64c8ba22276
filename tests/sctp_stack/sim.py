"""Two sans-IO SCTP endpoints joined by a simulated network, in virtual time.

The network may lose, duplicate, delay and (through random delays) reorder datagrams; an
address can be cut off to test multi-homing. Everything random comes from one seeded
``random.Random`` so every run can be replayed.
"""

from __future__ import annotations

import heapq
import ipaddress
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from rserpool.sctp import DataArrive, Endpoint, SctpConfig, SctpEvent

IP = ipaddress.ip_address
UDP_PORT = 9899


@dataclass
class Network:
    loss: float = 0.0
    duplicate: float = 0.0
    delay: tuple[int, int] = (5, 5)  # ms, uniform; a spread reorders
    down: set[object] = field(default_factory=set)  # addresses that receive nothing


class Sim:
    def __init__(
        self,
        *,
        seed: int = 1,
        network: Network | None = None,
        config: SctpConfig | None = None,
        config_b: SctpConfig | None = None,
        a_addresses: tuple[str, ...] = ("10.0.0.1",),
        b_addresses: tuple[str, ...] = ("10.0.0.2",),
    ) -> None:
        self.rng = random.Random(seed)
        self.net = network or Network()
        self.now = 0
        self.a = Endpoint(
            5000, [IP(x) for x in a_addresses], config, rng=random.Random(seed * 7 + 1)
        )
        self.b = Endpoint(
            6000, [IP(x) for x in b_addresses], config_b or config, rng=random.Random(seed * 7 + 2)
        )
        self.hosts = {addr: ep for ep in (self.a, self.b) for addr in ep.addresses}
        self.events: dict[Endpoint, list[SctpEvent]] = {self.a: [], self.b: []}
        self._queue: list[tuple[int, int, Endpoint, object, bytes]] = []
        self._seq = 0
        self.sent = 0  # datagrams offered to the network

    def connect(self) -> int:
        assoc = self.a.connect(list(self.b.addresses), self.b.port, UDP_PORT, self.now)
        self.pump()
        return assoc

    def source_of(self, ep: Endpoint, to: object) -> object:
        """The sender's address: the first local address of the same family."""
        for a in ep.addresses:
            if a.version == getattr(to, "version", 4):
                return a
        return ep.addresses[0]

    def pump(self) -> None:
        for ep in (self.a, self.b):
            for d in ep.datagrams():
                self.sent += 1
                target = self.hosts.get(d.address)
                if target is None or d.address in self.net.down:
                    continue
                copies = 1 + (self.rng.random() < self.net.duplicate)
                for _ in range(copies):
                    if self.rng.random() < self.net.loss:
                        continue
                    at = self.now + self.rng.randint(*self.net.delay)
                    self._seq += 1
                    src = self.source_of(ep, d.address)
                    heapq.heappush(self._queue, (at, self._seq, target, src, d.data))
            self.events[ep].extend(ep.events())

    def step(self) -> bool:
        """Advance to the next arrival or deadline; False when nothing is left to happen."""
        times = [t for t in (self.a.next_deadline(), self.b.next_deadline()) if t is not None]
        if self._queue:
            times.append(self._queue[0][0])
        if not times:
            return False
        self.now = max(self.now, min(times))
        while self._queue and self._queue[0][0] <= self.now:
            _, _, target, src, data = heapq.heappop(self._queue)
            target.receive(data, src, UDP_PORT, self.now)  # type: ignore[arg-type]
            self.pump()
        for ep in (self.a, self.b):
            deadline = ep.next_deadline()
            if deadline is not None and deadline <= self.now:
                ep.handle_timers(self.now)
        self.pump()
        return True

    def run(self, until: int, stop: Callable[[], bool] = lambda: False) -> None:
        while self.now <= until and not stop():
            if not self.step():
                return

    def received(self, ep: Endpoint) -> list[DataArrive]:
        return [e for e in self.events[ep] if isinstance(e, DataArrive)]

    def of_type(self, ep: Endpoint, kind: type) -> list[SctpEvent]:
        return [e for e in self.events[ep] if isinstance(e, kind)]
