"""The registrar's state machines: complete tables, the docs show them as rendered, and the
cores keep the states in step with their timers whatever the network does."""

from __future__ import annotations

import enum
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rserpool.proto.common import Endpoint
from rserpool.proto.registrar import RegistrarCore
from rserpool.proto.registrar.machines import (
    IMPOSSIBLE,
    MACHINES,
    STARTUP,
    TAKEOVER,
    Machine,
    PeerState,
    StartupState,
    TakeoverInput,
    TakeoverState,
    render_markdown,
)
from rserpool.proto.registrar.state import Timer
from rserpool.testing.registrar import Sim

from .conftest import PR1, PR2, PR3

DOCS = Path(__file__).resolve().parents[3] / "docs" / "registrar.md"
INITIAL = {
    "startup": StartupState.INITIALIZING,
    "peer": PeerState.NEW,
    "takeover": TakeoverState.IDLE,
}
TERMINAL = {PeerState.REMOVED, TakeoverState.COMPLETED, TakeoverState.ABORTED}
E = TypeVar("E", bound=enum.Enum)


def test_docs_show_every_table_as_rendered() -> None:
    text = DOCS.read_text()
    for machine in MACHINES:
        found = re.search(
            rf"<!-- state table: {machine.name} -->\n(.*?)\n<!-- end state table -->", text, re.S
        )
        assert found is not None, f"docs/registrar.md lacks the {machine.name} table"
        assert found.group(1) == render_markdown(machine), (
            f"{machine.name}: paste rserpool.proto.registrar.machines.render_all() into the docs"
        )


def _every_state(machine: Machine[E, Any]) -> set[E]:
    return set(machine.states)


def _reachable(machine: Machine[Any, Any]) -> set[Any]:
    seen, todo = {INITIAL[machine.name]}, [INITIAL[machine.name]]
    while todo:
        state = todo.pop()
        for event in machine.inputs:
            new = machine.table[state, event]
            if new is not IMPOSSIBLE and new not in seen:
                seen.add(new)
                todo.append(new)
    return seen


def test_every_state_is_reachable_and_the_ends_are_final() -> None:
    for machine in MACHINES:
        assert _reachable(machine) == _every_state(machine), machine.name
        for state in machine.states:
            if state in TERMINAL:
                assert all(machine.table[state, i] is IMPOSSIBLE for i in machine.inputs)
    # only the initial takeover state starts one, and nothing else happens there
    for event in TakeoverInput:
        starts = event.name.startswith("START")
        assert (TAKEOVER.table[TakeoverState.IDLE, event] is IMPOSSIBLE) is not starts


def test_an_incomplete_table_is_refused() -> None:
    table = dict(STARTUP.table)
    del table[StartupState.IN_SERVICE, next(iter(STARTUP.inputs))]
    with pytest.raises(TypeError, match="missing"):
        Machine("broken", StartupState, STARTUP.inputs, table)


@st.composite
def _pairs(draw: st.DrawFn) -> tuple[Machine[Any, Any], Any, Any]:
    machine = draw(st.sampled_from(MACHINES))
    return (
        machine,
        draw(st.sampled_from(list(machine.states))),
        draw(st.sampled_from(list(machine.inputs))),
    )


@given(_pairs())
def test_every_pair_follows_the_table(pair: tuple[Machine[Any, Any], Any, Any]) -> None:
    machine, state, event = pair
    expected = machine.table[state, event]
    if expected is IMPOSSIBLE:
        with pytest.raises(AssertionError, match=f"{event.name} cannot happen in {state.name}"):
            machine.next(state, event)
        return
    new = machine.next(state, event)
    assert new is expected and new in machine.states
    assert new is not INITIAL[machine.name]  # nothing leads back to the start


# ------------------------------------------------------------------ cores on a network


@contextmanager
def _recording() -> Iterator[Counter[tuple[str, str, str]]]:
    """Count every transition any core makes, by (machine, state, input)."""
    seen: Counter[tuple[str, str, str]] = Counter()
    original = Machine.next

    def next_(self: Machine[Any, Any], state: Any, event: Any) -> Any:
        seen[self.name, state.name, event.name] += 1
        return original(self, state, event)

    Machine.next = next_  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        Machine.next = original  # type: ignore[method-assign]


def check_invariants(core: RegistrarCore) -> None:
    """What each state promises about the core's timers and bookkeeping."""
    state = core._state
    timers = state.timers
    startup = state.startup
    assert startup is not StartupState.INITIALIZING
    assert (startup is StartupState.MENTOR_DISCOVERY) is (
        state.mentor_id is None and startup is not StartupState.IN_SERVICE
    )
    assert ((Timer.MENTOR_DISCOVERY, None) in timers) is (startup is not StartupState.IN_SERVICE)
    for peer in state.peers:
        last_heard = (Timer.PEER_MAX_TIME_LAST_HEARD, peer.server_id) in timers
        no_response = (Timer.PEER_MAX_TIME_NO_RESPONSE, peer.server_id) in timers
        expected = {
            PeerState.ALIVE: (True, False),
            PeerState.AWAITING_RESPONSE: (False, True),
            PeerState.BEING_TAKEN_OVER: (False, True),
            PeerState.FAILED: (False, False),
        }
        assert peer.state in expected, peer
        assert (last_heard, no_response) == expected[peer.state], peer
        assert (peer.taken_over_by is not None) is (peer.state is PeerState.BEING_TAKEN_OVER)
    for target_id, process in core._takeover.processes.items():
        assert process.state in (TakeoverState.AWAITING_ACKS, TakeoverState.PROPOSED)
        assert bool(process.awaiting) is (process.state is TakeoverState.AWAITING_ACKS)
        assert (Timer.TAKEOVER_EXPIRY, target_id) in timers


NAMES = ("PR1", "PR2", "PR3")
STEP = st.one_of(
    st.tuples(st.just("run"), st.integers(1, 9000)),
    st.tuples(st.just("crash"), st.sampled_from(NAMES)),
    st.tuples(st.just("cut"), st.sampled_from(NAMES)),  # its messages are lost from now on
    st.tuples(st.just("heal"), st.sampled_from(NAMES)),
    st.tuples(st.just("register"), st.sampled_from(NAMES)),
)


def scenario(
    steps: list[tuple[str, Any]], late: int, static: bool
) -> Counter[tuple[str, str, str]]:
    """Three registrars (found by multicast, or by a static peer), PEs, crashes and lost
    messages; after every step each live core's states must agree with its timers. Returns
    the transitions made."""
    with _recording() as seen:
        sim = Sim(seed=late)
        sim.registrar("PR1", "10.0.0.1", PR1)
        sim.run(late * 1500)  # PR2 and PR3 join later: a running PR1 becomes their mentor
        overrides: dict[str, Any] = {}
        if static:
            sim.multicast = False
            overrides["static_peers"] = (sim.endpoint_of("PR1", Endpoint.ENRP).transport,)
        sim.registrar("PR2", "10.0.0.2", PR2, **overrides)
        sim.registrar("PR3", "10.0.0.3", PR3, **overrides)
        cut: set[str] = set()
        sim.drop = lambda src, dst, data: bool({src, dst} & cut)
        pes = 0
        for op, arg in steps:
            if op == "run":
                sim.run(arg)
            elif op == "crash" and arg in sim.registrars and len(sim.registrars) > 1:
                sim.crash(arg)
            elif op == "cut":
                cut.add(arg)
            elif op == "heal":
                cut.discard(arg)
            elif op == "register" and arg in sim.registrars:
                pes += 1
                pe = sim.fake(f"PE{pes}", f"10.1.0.{pes}")
                pe.send(arg, pe.registration(b"P", pes))
                sim.settle()
            for core in sim.registrars.values():
                check_invariants(core)
    return seen


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STEP, min_size=1, max_size=14), st.integers(0, 3), st.booleans())
def test_cores_keep_states_and_timers_in_step(
    steps: list[tuple[str, Any]], late: int, static: bool
) -> None:
    for (machine, state, event), _count in scenario(steps, late, static).items():
        table = {m.name: m for m in MACHINES}[machine].table
        new = next(n for (s, i), n in table.items() if s.name == state and i.name == event)
        assert new is not IMPOSSIBLE, (machine, state, event)


def test_the_network_reaches_the_main_transitions() -> None:
    """A few fixed runs go through the transitions that matter, invariants checked."""
    seen: Counter[tuple[str, str, str]] = Counter()
    seen += scenario(
        [("register", "PR1"), ("run", 6000), ("crash", "PR1"), ("run", 30_000)], 0, False
    )
    seen += scenario(
        [("run", 6000), ("cut", "PR3"), ("run", 30_000), ("heal", "PR3"), ("run", 9000)], 4, True
    )
    seen += scenario(
        [
            ("register", "PR2"),
            ("run", 6000),
            ("cut", "PR2"),
            ("run", 12_000),
            ("heal", "PR2"),
            ("run", 9000),
        ],
        1,
        False,
    )
    wanted = {
        ("startup", "INITIALIZING", "START"),
        ("startup", "MENTOR_DISCOVERY", "DISCOVERY_TIMEOUT"),
        ("startup", "MENTOR_DISCOVERY", "PEER_HEARD"),
        ("startup", "SYNCHRONIZING", "MENTOR_TABLE_COMPLETE"),
        ("peer", "NEW", "HEARD"),
        ("peer", "ALIVE", "PRESENCE"),
        ("peer", "ALIVE", "LAST_HEARD_TIMEOUT"),
        ("peer", "AWAITING_RESPONSE", "NO_RESPONSE_TIMEOUT"),
        ("peer", "FAILED", "REMOVE"),
        ("peer", "BEING_TAKEN_OVER", "REMOVE"),
        ("takeover", "IDLE", "START_ACKS_OWED"),
        ("takeover", "AWAITING_ACKS", "LAST_ACK"),
    }
    assert wanted <= set(seen), sorted(wanted - set(seen))
    assert any(event == "TAKEOVER_ANNOUNCED" for _, _, event in seen)
