"""The PU session's state table: every (state, input) pair against the core, random walks
through the table, and the table in docs/client.md as the code prints it."""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rserpool.proto.client.hunt import ConnectRegistrar, RegistrarHuntConfig
from rserpool.proto.client.hunt_types import SessionConnectTimeout, SessionRetry
from rserpool.proto.client.pool_user import PoolUserConfig, PoolUserCore
from rserpool.proto.client.session import (
    ConnectSession,
    FailoverComplete,
    SessionConnected,
)
from rserpool.proto.client.session_states import (
    CONNECTING_STATES,
    RESOLVING_STATES,
    TRANSITIONS,
    WAITING_STATES,
    WITH_ASSOCIATION,
    SessionInput,
    SessionState,
    SessionStateError,
    next_state,
    transition_table,
)
from rserpool.wire import (
    HandleResolutionResponse,
    PolicyType,
    PoolElement,
    PoolMemberSelectionPolicy,
    SctpTransport,
    TransportUse,
)

from .helpers import PR_A, deliver, ip, only

S, I = SessionState, SessionInput  # noqa: E741
H = b"StatePool"
RR = PoolMemberSelectionPolicy(PolicyType.ROUND_ROBIN)
DOCS = Path(__file__).parents[3] / "docs" / "client.md"


class Scripted:
    """A PU core with one session, a scripted registrar, and a stimulus for every input."""

    def __init__(self) -> None:
        hunt = RegistrarHuntConfig(static_registrars=(PR_A,))
        self.core = PoolUserCore(hunt, random.Random(7), 0, PoolUserConfig())
        self.now = 0
        self.pe_ids = itertools.count(1)
        self.session = self.core.open_session(H, self.now)
        (connect,) = only(self.core.outgoing(), ConnectRegistrar)
        self.core.registrar_connected(connect.attempt, 50, self.tick())
        self.connection: int | None = None
        self.state = S.RESOLVING
        self.stimuli: dict[SessionInput, Callable[[], None]] = {
            I.PE_CHOSEN: self.answer_with_pe,
            I.NO_PE: lambda: deliver(self.core, 50, self.answer(), self.tick()),
            I.RETRY_TIMER: self.retry_due,
            I.CONNECTED: lambda: self.core.session_connected(self.conn(), self.tick()),
            I.CONNECT_FAILED: lambda: self.core.session_connect_failed(self.conn(), self.tick()),
            I.ASSOCIATION_LOST: lambda: self.core.session_lost(self.conn(), self.tick()),
            I.FORCE_FAILOVER: lambda: self.core.force_failover(self.session, self.tick()),
            I.CLOSE: lambda: self.core.close_session(self.session),
        }

    def tick(self) -> int:
        self.now += 1
        return self.now

    def conn(self) -> int:
        return -1 if self.connection is None else self.connection

    @staticmethod
    def answer(*pe_ids: int) -> HandleResolutionResponse:
        elements = tuple(
            PoolElement(
                n,
                0x11,
                90_000,
                SctpTransport(7000, (ip(f"10.1.0.{n % 250 + 1}"),), TransportUse.DATA_ONLY),
                RR,
            )
            for n in pe_ids
        )
        return HandleResolutionResponse(pool_handle=H, policy=RR, pool_elements=elements)

    def answer_with_pe(self) -> None:
        deliver(self.core, 50, self.answer(next(self.pe_ids)), self.tick())

    def retry_due(self) -> None:
        deadline = self.core.next_deadline()
        assert deadline is not None
        self.now = max(self.now, deadline)
        self.core.handle_timers(self.now)

    def apply(self, event: SessionInput) -> None:
        """Apply ``event`` (which the table allows in the current state) and check the core."""
        expected = TRANSITIONS[self.state, event]
        before = self.state
        self.core.events()
        self.stimuli[event]()
        actions = self.core.outgoing()
        connects = only(actions, ConnectSession)
        if connects:
            self.connection = connects[-1].connection
        events = self.core.events()
        if event is I.CONNECTED and expected is not before:
            done = FailoverComplete if before is S.FAILOVER_CONNECTING else SessionConnected
            assert len(only(events, done)) == 1
        self.state = expected
        self.check()

    def check(self) -> None:
        """The state is the table's, and the session's bookkeeping agrees with it."""
        core, state = self.core, self.state
        if state is S.CLOSED:
            assert core.session_state(self.session) is None
            return
        assert core.session_state(self.session) is state
        s = core._sessions[self.session]
        assert (s.connection is not None) == (state in WITH_ASSOCIATION)
        if s.connection is not None:
            assert s.connection == self.connection and s.pe is not None
            assert core._by_connection[s.connection] is s
            connect_timer = SessionConnectTimeout(s.connection) in core._timers
            assert connect_timer == (state in CONNECTING_STATES)
        assert (SessionRetry(self.session) in core._timers) == (state in WAITING_STATES)
        awaiting = any(self.session in p.sessions for p in core._resolutions.values())
        assert awaiting == (state in RESOLVING_STATES)
        if state is S.ESTABLISHED:
            assert not s.queue


#: The shortest way from a new session into each state.
ROUTES: dict[SessionState, list[SessionInput]] = {
    S.RESOLVING: [],
    S.WAITING: [I.NO_PE],
    S.CONNECTING: [I.PE_CHOSEN],
    S.ESTABLISHED: [I.PE_CHOSEN, I.CONNECTED],
    S.FAILOVER_RESOLVING: [I.PE_CHOSEN, I.CONNECTED, I.ASSOCIATION_LOST],
    S.FAILOVER_WAITING: [I.PE_CHOSEN, I.CONNECTED, I.ASSOCIATION_LOST, I.NO_PE],
    S.FAILOVER_CONNECTING: [I.PE_CHOSEN, I.CONNECTED, I.ASSOCIATION_LOST, I.PE_CHOSEN],
    S.CLOSED: [I.CLOSE],
}


def into(state: SessionState) -> Scripted:
    scripted = Scripted()
    scripted.check()
    for event in ROUTES[state]:
        scripted.apply(event)
    assert scripted.state is state
    return scripted


def test_routes_cover_every_state() -> None:
    assert set(ROUTES) == set(SessionState)


@pytest.mark.parametrize(
    ("state", "event"), list(itertools.product(SessionState, SessionInput)), ids=str
)
def test_every_pair(state: SessionState, event: SessionInput) -> None:
    scripted = into(state)
    if (state, event) in TRANSITIONS:
        scripted.apply(event)  # the new state is the table's, the invariants hold
        return
    with pytest.raises(SessionStateError, match="cannot happen"):
        next_state(state, event)
    if event in (I.CONNECTED, I.CONNECT_FAILED, I.ASSOCIATION_LOST, I.CLOSE):
        # the core routes these by association or session: none reaches this state
        scripted.stimuli[event]()
        scripted.check()


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_random_walks_follow_the_table(data: st.DataObject) -> None:
    scripted = Scripted()
    for _ in range(data.draw(st.integers(0, 30))):
        allowed = sorted((i for s, i in TRANSITIONS if s is scripted.state), key=list(I).index)
        if not allowed:
            break
        scripted.apply(data.draw(st.sampled_from(allowed)))


def test_closed_is_final_and_every_other_state_can_close() -> None:
    assert not [pair for pair in TRANSITIONS if pair[0] is S.CLOSED]
    for state in SessionState:
        if state is not S.CLOSED:
            assert TRANSITIONS[state, I.CLOSE] is S.CLOSED


def test_docs_show_the_table_the_code_uses() -> None:
    text = DOCS.read_text()
    match = re.search(
        r"<!-- session-states:begin -->\n(.*?)<!-- session-states:end -->", text, re.S
    )
    assert match, "docs/client.md lost its session-states markers"
    assert match.group(1) == transition_table()
