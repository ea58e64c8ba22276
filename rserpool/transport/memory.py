"""An in-memory network with the interface of :mod:`rserpool.transport.abc`, in virtual time.

    net = MemoryNetwork(seed=1, latency=0.001)
    pr = net.add_host("pr", ["192.0.2.1", "198.51.100.1"])
    pe = net.add_host("pe", ["192.0.2.2", "198.51.100.2"])
    endpoint = await pr.sctp_endpoint(port=3863)
    association = await pe.sctp_connect([("192.0.2.1", 3863), ("198.51.100.1", 3863)])
    net.set_path_down("192.0.2.1", "192.0.2.2")         # one path fails ...
    net.set_address_down("198.51.100.1")                 # ... or a whole interface

Every address can reach every other one (a routed network) until paths are taken down; a path
is an unordered address pair, so it fails in both directions at once. Latency and loss are
global or per path; loss draws from ``random.Random(seed)``. Everything happens in callbacks of
one scheduler task (a Trio system task) at Trio's current time, so a run under
``trio.testing.MockClock`` is deterministic. The SCTP model is described in
:mod:`rserpool.transport._memsctp`; multicast goes to every socket joined to the group, one copy
per sender address (interface) that reaches the receiving host, as on veth links.
"""

from __future__ import annotations

import heapq
import ipaddress
import itertools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import trio

from rserpool.transport._memsctp import Settings
from rserpool.transport._memstack import (
    MemoryAssociation,
    MemoryEndpoint,
    MemoryListener,
    SctpSocket,
)
from rserpool.transport._memudp import MemoryUdpSocket

__all__ = [
    "LINUX_DEFAULTS",
    "TUNED",
    "MemoryAssociation",
    "MemoryEndpoint",
    "MemoryHost",
    "MemoryListener",
    "MemoryNetwork",
    "MemoryUdpSocket",
]
from rserpool.transport.abc import Address, AssociationParams, TransportError

#: Linux's defaults (net.sctp.* sysctls).
LINUX_DEFAULTS = AssociationParams(3.0, 1.0, 60.0, 30.0, 5, 10)
#: The test harness's profile (interop.topology.TUNED_SCTP).
TUNED = AssociationParams(0.5, 0.1, 0.5, 1.0, 2, 10)
MAX_INIT_RETRANS = 8
EPHEMERAL = range(49152, 65536)


@dataclass(order=True)
class Timer:
    when: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class MemoryNetwork:
    def __init__(
        self,
        seed: int = 0,
        latency: float = 0.001,
        loss: float = 0.0,
        sctp: AssociationParams = LINUX_DEFAULTS,
    ) -> None:
        self.random = random.Random(seed)
        self.latency = latency
        self.loss = loss
        defaults = Settings(3.0, 1.0, 60.0, 30.0, 5, 10)
        self.settings = defaults.updated(sctp)
        self.hosts: dict[str, MemoryHost] = {}
        self._owner: dict[str, MemoryHost] = {}
        self._down_paths: set[frozenset[str]] = set()
        self._down_addresses: set[str] = set()
        self._path_latency: dict[frozenset[str], float] = {}
        self._path_loss: dict[frozenset[str], float] = {}
        self._timers: list[Timer] = []
        self._seq = itertools.count()
        self._assoc_ids = itertools.count(1)
        self._lot = trio.lowlevel.ParkingLot()
        self._token: trio.lowlevel.TrioToken | None = None
        self.udp: list[MemoryUdpSocket] = []

    # --- topology --------------------------------------------------------------------------
    def add_host(self, name: str, addresses: Sequence[str]) -> MemoryHost:
        if name in self.hosts:
            raise ValueError(f"host {name} exists")
        normalized = [str(ipaddress.ip_address(a)) for a in addresses]
        for address in normalized:
            if address in self._owner:
                raise ValueError(f"{address} belongs to {self._owner[address].name}")
        host = MemoryHost(self, name, normalized)
        self.hosts[name] = host
        for address in normalized:
            self._owner[address] = host
        return host

    def host_of(self, address: str) -> MemoryHost | None:
        return self._owner.get(address)

    def set_path_down(self, a: str, b: str) -> None:
        self._down_paths.add(frozenset((a, b)))

    def set_path_up(self, a: str, b: str) -> None:
        self._down_paths.discard(frozenset((a, b)))

    def set_address_down(self, address: str) -> None:
        """Like taking the interface with ``address`` down: every path through it fails."""
        self._down_addresses.add(address)

    def set_address_up(self, address: str) -> None:
        self._down_addresses.discard(address)

    def set_latency(self, latency: float, a: str | None = None, b: str | None = None) -> None:
        if a is None or b is None:
            self.latency = latency
        else:
            self._path_latency[frozenset((a, b))] = latency

    def set_loss(self, loss: float, a: str | None = None, b: str | None = None) -> None:
        if a is None or b is None:
            self.loss = loss
        else:
            self._path_loss[frozenset((a, b))] = loss

    def path_is_up(self, a: str, b: str) -> bool:
        if a in self._down_addresses or b in self._down_addresses:
            return False
        return frozenset((a, b)) not in self._down_paths

    def transmit(self, a: str, b: str) -> float | None:
        """The delay of one packet from ``a`` to ``b``, or None when it is lost."""
        if not self.path_is_up(a, b):
            return None
        key = frozenset((a, b))
        loss = self._path_loss.get(key, self.loss)
        if loss > 0 and self.random.random() < loss:
            return None
        return self._path_latency.get(key, self.latency)

    # --- time ------------------------------------------------------------------------------
    def now(self) -> float:
        return trio.current_time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        self._ensure_scheduler()
        timer = Timer(self.now() + max(delay, 0.0), next(self._seq), callback)
        earliest = self._timers[0].when if self._timers else math.inf
        heapq.heappush(self._timers, timer)
        if timer.when < earliest:
            self._lot.unpark_all()
        return timer

    def _ensure_scheduler(self) -> None:
        token = trio.lowlevel.current_trio_token()
        if self._token is not token:
            self._token = token
            self._timers.clear()
            self._lot = trio.lowlevel.ParkingLot()
            trio.lowlevel.spawn_system_task(self._scheduler, name="MemoryNetwork scheduler")

    async def _scheduler(self) -> None:
        while True:
            now = trio.current_time()
            while self._timers and self._timers[0].when <= now:
                timer = heapq.heappop(self._timers)
                if not timer.cancelled:
                    timer.callback()
            deadline = self._timers[0].when if self._timers else math.inf
            with trio.move_on_at(deadline):
                await self._lot.park()

    def next_assoc_id(self) -> int:
        return next(self._assoc_ids)


class MemoryHost:
    """A simulated machine with several addresses (see :class:`rserpool.transport.abc.Host`)."""

    def __init__(self, net: MemoryNetwork, name: str, addresses: list[str]) -> None:
        self.net = net
        self.name = name
        self._addresses = addresses
        self.sctp_ports: dict[int, SctpSocket] = {}
        self._ephemeral = itertools.cycle(EPHEMERAL)

    def __repr__(self) -> str:
        return f"MemoryHost({self.name!r}, {self._addresses})"

    def addresses(self) -> list[str]:
        return list(self._addresses)

    def _bind(self, port: int, addresses: Sequence[str] | None) -> tuple[int, list[str]]:
        local = [str(ipaddress.ip_address(a)) for a in addresses or self._addresses]
        foreign = [a for a in local if a not in self._addresses]
        if foreign:
            raise TransportError(f"{self.name} has no address {foreign[0]}")
        if port == 0:
            port = next(p for p in self._ephemeral if p not in self.sctp_ports)
        elif port in self.sctp_ports:
            raise TransportError(f"{self.name}: SCTP port {port} is in use")
        return port, local

    def _settings(self, params: AssociationParams | None) -> Settings:
        return self.net.settings.updated(params)

    async def sctp_endpoint(
        self,
        port: int = 0,
        addresses: Sequence[str] | None = None,
        params: AssociationParams | None = None,
    ) -> MemoryEndpoint:
        await trio.lowlevel.checkpoint()
        port, local = self._bind(port, addresses)
        endpoint = MemoryEndpoint(self, port, local, self._settings(params))
        self.sctp_ports[port] = endpoint
        return endpoint

    async def sctp_listen(
        self,
        port: int = 0,
        addresses: Sequence[str] | None = None,
        params: AssociationParams | None = None,
    ) -> MemoryListener:
        await trio.lowlevel.checkpoint()
        port, local = self._bind(port, addresses)
        listener = MemoryListener(self, port, local, self._settings(params))
        self.sctp_ports[port] = listener
        return listener

    async def sctp_connect(
        self,
        remote: Sequence[Address],
        addresses: Sequence[str] | None = None,
        params: AssociationParams | None = None,
    ) -> MemoryAssociation:
        port, local = self._bind(0, addresses)
        association = MemoryAssociation(self, port, local, self._settings(params))
        self.sctp_ports[port] = association
        try:
            await association.connect_and_wait(remote)
        except BaseException:
            association.close_now()
            raise
        return association

    async def udp_socket(self, port: int = 0, group: str | None = None) -> MemoryUdpSocket:
        await trio.lowlevel.checkpoint()
        if port == 0:
            used = {s.port for s in self.net.udp if s.host is self}
            port = next(p for p in self._ephemeral if p not in used)
        udp = MemoryUdpSocket(self, port, group)
        self.net.udp.append(udp)
        return udp

    def crash(self) -> None:
        """Every socket of this host disappears without a word to its peers (a power cut):
        peers notice by timeouts, and a new association from a new endpoint on the same port
        RESTARTs theirs."""
        for sock in list(self.sctp_ports.values()):
            sock.crash()
        for udp in [u for u in self.net.udp if u.host is self]:
            udp.crash()
