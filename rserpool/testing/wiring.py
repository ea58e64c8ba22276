"""The network under :class:`~rserpool.testing.client.Net`: endpoints (:class:`Ep`), the
associations between them, and message delivery to the cores in virtual time.

:class:`Wiring` knows the nodes (registrar, PE and PU cores) and carries bytes between their
endpoints: an association connects at once when a listener owns the address and port, a
delivered message is traced (ASAP and ENRP, in RFC terms) and handed to the receiving core,
and a broken association is reported to the cores on either side. What a core then does
(its actions, its events, the applications) is :class:`~rserpool.testing.client.Net`'s.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rserpool.proto.client.hunt import RegistrarClient
from rserpool.proto.client.pool_element import PoolElementCore
from rserpool.proto.client.pool_user import PoolUserCore
from rserpool.proto.common import Endpoint, Event, TransportAddress
from rserpool.proto.registrar import RegistrarCore
from rserpool.testing.addresses import ip
from rserpool.wire import PPID, decode_message_untrusted

__all__ = ["Ep", "Wiring"]


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


class Wiring:
    """The nodes' cores and endpoints, and the associations and messages between them;
    :meth:`flush` (a core's actions and events) is the subclass's."""

    def __init__(self, seed: int) -> None:
        self.now = 0
        self.rng = random.Random(seed)
        self.eps: list[Ep] = []
        self.registrars: dict[str, RegistrarCore] = {}
        self.pes: dict[str, PoolElementCore] = {}
        self.pu: PoolUserCore | None = None
        self.queue: deque[Callable[[], None]] = deque()
        self.events: list[tuple[int, str, Event]] = []
        self.trace: list[str] = []
        self.connections: dict[int, int] = {}  # PU connection -> PU-side assoc id
        self._next_assoc = 1000

    def flush(self, node: str) -> None:
        raise NotImplementedError

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
