"""The vocabulary of a pool user core: the ``NoPoolElement`` event and the record it keeps
per session. The logic is in :mod:`rserpool.proto.client.pool_user`; its configuration and
the resolution events are in :mod:`rserpool.proto.client.resolution`."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from rserpool.proto.client.session_states import SessionInput, SessionState, next_state
from rserpool.proto.common import Event
from rserpool.wire import BusinessCard, PoolElement


@dataclass(frozen=True, slots=True)
class NoPoolElement(Event):
    """A session found no PE to connect to (``cause``: the registrar's Operation Error cause,
    0x0009 unknown pool handle; None: an empty answer, every PE avoided after a failure, or no
    registrar answered); it resolves again in ``retry_in`` ms."""

    session: int
    pool_handle: bytes
    cause: int | None
    reason: str
    retry_in: int

    def __str__(self) -> str:
        cause = "" if self.cause is None else f" cause {self.cause:#06x}"
        return (
            f"NoPoolElement: session {self.session} {self.pool_handle!r}{cause}: {self.reason}, "
            f"retry in {self.retry_in} ms"
        )


@dataclass(slots=True, eq=False)
class SessionRecord:
    """One session. Invariants (checked by the tests): ``connection`` is set exactly in
    CONNECTING, FAILOVER_CONNECTING and ESTABLISHED; ``pe`` is set there too; the queue is
    empty while ESTABLISHED."""

    session: int
    pool_handle: bytes
    business_card: BusinessCard | None
    state: SessionState = SessionState.RESOLVING
    connection: int | None = None
    pe: PoolElement | None = None
    cookie: bytes | None = None
    preferred: list[PoolElement] = field(default_factory=list)
    avoid: dict[int, int] = field(default_factory=dict)  # PE id -> until
    queue: deque[tuple[int, bytes]] = field(default_factory=deque)

    def apply(self, event: SessionInput) -> bool:
        """Move to the state the table gives; False when the table says the state stays
        (the input is ignored). :class:`SessionStateError` if it has no entry (a bug)."""
        old = self.state
        self.state = next_state(old, event)
        return self.state is not old
