"""Conventions shared by the sans-IO cores: the registrar, the pool element and the pool user.

A core never touches the network, a clock or global randomness. Every core (``RegistrarCore``,
``PoolElementCore``, ``PoolUserCore``) keeps the same contract, :class:`Core`; its inputs are
its role's own methods. Its driver:

1. feeds it input: ``receive(...)`` with the bytes of one SCTP message, the association it
   arrived on and the association's peer transport address; ``association_lost(...)``;
   ``handle_timers(now)`` once ``now >= next_deadline()``. ``now`` is **integer milliseconds**
   on any monotonic clock (the unit of the Registration Life field);
2. drains the **actions** it asked for (:class:`Send`, :class:`Abort`, :class:`Multicast`) and
   performs them in order;
3. drains the **events** (:class:`Event` subclasses, past tense) and logs or forwards them;
4. sleeps until ``next_deadline()`` or the next input.

Actions carry :class:`~rserpool.wire.Message` objects, not bytes: the driver encodes them with
:func:`rserpool.wire.encode_message` and sends them with PPID :func:`rserpool.wire.ppid_of`.
"""

from __future__ import annotations

import enum
import heapq
import ipaddress
import random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeAlias, TypeVar

from rserpool.wire import Message, SctpTransport, encode_message, ppid_of
from rserpool.wire.params import normalize_address
from rserpool.wire.quickinit import quick_init

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

AssocId: TypeAlias = int
"""An SCTP association id as the driver numbers them (unique per endpoint while it lives)."""


class Endpoint(enum.Enum):
    """Which of a node's SCTP endpoints (or multicast groups) a message belongs to."""

    ASAP = "ASAP"  # PPID 11; multicast: the Server Announce group (239.0.0.50:3863)
    ENRP = "ENRP"  # PPID 12; multicast: the ENRP Presence group (239.0.0.51:9901)


@dataclass(frozen=True, slots=True)
class TransportAddress:
    """A multi-homed SCTP transport address: IP addresses plus one port.

    Used for an association's peer (``sctp_getpaddrs`` plus the peer port) and for a
    destination to connect to. IPv4-mapped IPv6 addresses are normalised to IPv4.
    """

    addresses: tuple[IPAddress, ...]
    port: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "addresses", tuple(normalize_address(a) for a in self.addresses))

    @classmethod
    def of(cls, transport: SctpTransport) -> TransportAddress:
        return cls(transport.addresses, transport.port)

    def __str__(self) -> str:
        addrs = ",".join(f"[{a}]" if a.version == 6 else str(a) for a in self.addresses)
        return f"{addrs}:{self.port}"


# ------------------------------------------------------------------------------- actions


@quick_init
@dataclass(frozen=True, slots=True)
class Send:
    """Send ``message`` on ``endpoint``.

    * ``assoc_id`` set: on that association (if it is gone, drop the message: the core
      learns of the loss through ``association_lost``);
    * ``assoc_id`` None: on the association to ``to`` — reuse one if the endpoint already has
      an association with any of those addresses and that port, otherwise connect (SCTP
      one-to-many implicit setup, or ``sctp_connectx``). Used for ENRP peers whose association
      is not known yet and for Endpoint Keep Alive with the H flag to a taken-over PE.
      A send that cannot be delivered is dropped silently; the protocol's timers handle it.
    """

    endpoint: Endpoint
    assoc_id: AssocId | None
    message: Message
    to: TransportAddress | None = None

    @property
    def ppid(self) -> int:
        return int(ppid_of(self.message))

    def encode(self) -> bytes:
        return encode_message(self.message)

    def __str__(self) -> str:
        where = f"assoc {self.assoc_id}" if self.assoc_id is not None else f"to {self.to}"
        return f"send {self.endpoint.value} {where}: {self.message.summary()}"


@dataclass(frozen=True, slots=True)
class Abort:
    """ABORT the association (RSPLIB: wrong PPID, keep-alive timeout).

    The core has already forgotten everything that lived on the association; the driver need
    not call ``association_lost`` for it (doing so is harmless).
    """

    endpoint: Endpoint
    assoc_id: AssocId

    def __str__(self) -> str:
        return f"abort {self.endpoint.value} assoc {self.assoc_id}"


@dataclass(frozen=True, slots=True)
class Multicast:
    """Send ``message`` as one UDP datagram to the endpoint's announce group.

    ASAP: Server Announce, from a UDP socket bound to the ASAP SCTP port (RSPLIB PEs/PUs take
    the source port as the registrar's ASAP port when the announce has no transport).
    ENRP: Presence to the ENRP multicast group.
    """

    endpoint: Endpoint
    message: Message

    def encode(self) -> bytes:
        return encode_message(self.message)

    def __str__(self) -> str:
        return f"multicast {self.endpoint.value}: {self.message.summary()}"


Action: TypeAlias = Send | Abort | Multicast


ActionT_co = TypeVar("ActionT_co", covariant=True)


class Core(Protocol[ActionT_co]):
    """What every sans-IO core offers its driver, whatever its role's inputs are."""

    def next_deadline(self) -> int | None:
        """When ``handle_timers`` is due next (integer ms), None if no timer runs."""
        ...

    def handle_timers(self, now: int) -> None:
        """Run every timer due at ``now``."""
        ...

    def outgoing(self) -> Sequence[ActionT_co]:
        """Take the actions asked for since the last call, in order."""
        ...

    def events(self) -> Sequence[Event]:
        """Take the events observed since the last call, in order."""
        ...


# -------------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened, in RFC terms; ``str(event)`` is a log line."""

    def __str__(self) -> str:
        return type(self).__name__


class Channel(enum.Enum):
    """Where a pool element or pool user hears input that is not on an :class:`Endpoint`."""

    ANNOUNCE = "announce"  # a datagram from the ASAP announce group (Server Announce)
    SESSION = "session"  # a PU-PE session association (the PE's user transport)


@dataclass(frozen=True, slots=True)
class MessageIgnored(Event):
    """Input that was dropped without effect: a message that has no business where it arrived
    (wrong endpoint, own id, off the home registrar, ...) or, at a PE or PU, one that could not
    be decoded.

    ``channel`` is the :class:`Endpoint` it came in on (a registrar's ASAP or ENRP endpoint; a
    PE's or PU's ASAP endpoint, where its registrar associations live) or a client's
    :class:`Channel`; ``assoc_id`` the association (None: a multicast datagram).
    """

    channel: Endpoint | Channel
    assoc_id: AssocId | None
    reason: str

    def __str__(self) -> str:
        return f"ignored {self.channel.value} message: {self.reason}"


# -------------------------------------------------------------------------------- timers

K = TypeVar("K", bound=Hashable)


class TimerTable(Generic[K]):
    """Deadlines (integer ms) keyed by ``K``, typically ``(TimerEnum, subject)``.

    Setting a key again replaces its deadline; :meth:`pop_due` returns due keys in deadline
    order (ties: first set, first out). A heap with lazy deletion: O(log n) per operation.
    """

    __slots__ = ("_counter", "_deadlines", "_heap")

    def __init__(self) -> None:
        self._deadlines: dict[K, tuple[int, int]] = {}  # key -> (deadline, sequence)
        self._heap: list[tuple[int, int, K]] = []
        self._counter = 0

    def __len__(self) -> int:
        return len(self._deadlines)

    def __contains__(self, key: K) -> bool:
        return key in self._deadlines

    def get(self, key: K) -> int | None:
        entry = self._deadlines.get(key)
        return None if entry is None else entry[0]

    def set(self, key: K, deadline: int) -> None:
        self._counter += 1
        self._deadlines[key] = (deadline, self._counter)
        heapq.heappush(self._heap, (deadline, self._counter, key))
        if len(self._heap) > 2 * len(self._deadlines) + 64:
            self._compact()

    def cancel(self, key: K) -> None:
        self._deadlines.pop(key, None)

    def next_deadline(self) -> int | None:
        heap = self._heap
        while heap:
            deadline, seq, key = heap[0]
            entry = self._deadlines.get(key)
            if entry is not None and entry[1] == seq:  # the sequence number says it all
                return deadline
            heapq.heappop(heap)
        return None

    def pop_due(self, now: int) -> list[K]:
        """Remove and return the keys whose deadline is at or before ``now``."""
        return [key for _, key in self.pop_due_timed(now)]

    def pop_due_timed(self, now: int) -> list[tuple[int, K]]:
        """Remove and return (deadline, key) of every key due at or before ``now``."""
        due: list[tuple[int, K]] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, seq, key = heapq.heappop(heap)
            if self._deadlines.get(key) == (deadline, seq):
                del self._deadlines[key]
                due.append((deadline, key))
        return due

    def _compact(self) -> None:
        self._heap = [(d, s, k) for k, (d, s) in self._deadlines.items()]
        heapq.heapify(self._heap)


def randomized(interval: int, rng: random.Random) -> int:
    """RSPLIB's ``registrarRandomizeCycle``: ``interval`` × [0.875, 1.125], at least 1 ms."""
    return max(1, round(interval * rng.uniform(0.875, 1.125)))


def earliest(*deadlines: int | None) -> int | None:
    """The smallest of the deadlines that are not None."""
    present = [d for d in deadlines if d is not None]
    return min(present) if present else None
