"""Random hostile ASAP input from several associations against two registrars with honest PEs.

Inputs are valid messages retargeted at the honest PEs (their handle and ids, other ids, other
handles, oversized unknown parameters, life 0) and byte-mutations of them, from three hostile
hosts (one sharing a host with nobody, one a PU's neighbour), interleaved with time. The
invariants: no exception anywhere, every registrar sends only decodable bytes, and every honest
PE is unchanged (transport, home, supervision) and resolvable at every registrar.

``RSERPOOL_FUZZ_EXAMPLES`` raises the example count (default 60).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rserpool.testing.registrar import Fake, Sim, ip
from rserpool.wire import (
    PPID,
    Deregistration,
    EndpointKeepAliveAck,
    EndpointUnreachable,
    HandleResolution,
    HandleResolutionResponse,
    Message,
    PolicyType,
    PoolElement,
    PoolMemberSelectionPolicy,
    Registration,
    SctpTransport,
    encode_message,
)
from rserpool.wire.tlv import UnknownParameter

from .conftest import PR1, PR2

EXAMPLES = int(os.environ.get("RSERPOOL_FUZZ_EXAMPLES", "60"))
HANDLE = b"EchoPool"
HONEST = {1: "PR1", 2: "PR1", 3: "PR2"}
ATTACKERS = ("A1", "A2", "A3")
MAX_ALL = 0xFFFFFFFF

handles = st.sampled_from([HANDLE, b"Other", b"x" * 32])
pe_ids = st.one_of(st.sampled_from(sorted(HONEST)), st.integers(0, 0xFFFFFFFF))
extensions = st.lists(
    st.builds(
        UnknownParameter,
        st.sampled_from([0x8123, 0xC123, 0x8001, 0xFFFF]),
        st.sampled_from([b"", b"z", bytes(1020), bytes(8000)]),
        st.integers(0, 2),
    ),
    max_size=8,
)
policies = st.builds(
    PoolMemberSelectionPolicy,
    st.sampled_from([PolicyType.ROUND_ROBIN, PolicyType.WEIGHTED_RANDOM]),
    st.integers(0, 3),
)


@st.composite
def registrations(draw: st.DrawFn, address: str) -> Message:
    where = ip(draw(st.sampled_from([address, "10.1.0.1", "10.2.0.1"])))
    user = SctpTransport(draw(st.integers(0, 9000)), (where,), extensions=tuple(draw(extensions)))
    life = draw(st.sampled_from([0, 1, 1000, 90_000]))
    element = PoolElement(draw(pe_ids), 0, life, user, draw(policies))
    return Registration(pool_handle=draw(handles), pool_element=element)


def messages(address: str) -> st.SearchStrategy[Message]:
    return st.one_of(
        registrations(address),
        st.builds(Deregistration, pool_handle=handles, pe_id=pe_ids),
        st.builds(EndpointUnreachable, pool_handle=handles, pe_id=pe_ids),
        st.builds(EndpointKeepAliveAck, pool_handle=handles, pe_id=pe_ids),
        st.builds(HandleResolution, pool_handle=handles),
    )


@st.composite
def steps(draw: st.DrawFn) -> tuple[str, str, bytes, int]:
    attacker = draw(st.sampled_from(ATTACKERS))
    address = {"A1": "10.9.0.1", "A2": "10.9.0.2", "A3": "10.2.0.1"}[attacker]
    data = bytearray(encode_message(draw(messages(address))))
    if draw(st.booleans()):  # mutate a few bytes, or truncate
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(data) - 1))
            data[at] = draw(st.integers(0, 255))
        if draw(st.booleans()):
            del data[draw(st.integers(1, len(data))) :]
    return attacker, draw(st.sampled_from(["PR1", "PR2"])), bytes(data), draw(
        st.sampled_from([0, 0, 0, 100, 3000, 6000]))  # fmt: skip


def _world() -> tuple[Sim, dict[str, Fake]]:
    sim = Sim(seed=11)
    sim.registrar("PR1", "10.0.0.1", PR1)
    sim.registrar("PR2", "10.0.0.2", PR2)
    sim.run(5001)
    for pe_id, home in HONEST.items():
        pe = sim.fake(f"PE{pe_id}", f"10.1.0.{pe_id}")
        pe.send(home, pe.registration(HANDLE, pe_id))
    addresses = ("10.9.0.1", "10.9.0.2", "10.2.0.1")
    fakes = {name: sim.fake(name, a) for name, a in zip(ATTACKERS, addresses, strict=True)}
    return sim, fakes


def _honest_view(sim: Sim) -> dict[tuple[str, int], object]:
    view: dict[tuple[str, int], object] = {}
    for name, core in sim.registrars.items():
        for pe_id in HONEST:
            pe = core.handlespace.find(HANDLE, pe_id)
            assert pe is not None, (name, pe_id)
            view[name, pe_id] = (
                pe.user_transport,
                pe.home_registrar_id,
                pe.policy,
                core.pe_association(HANDLE, pe_id),
            )
    return view


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(steps(), min_size=1, max_size=25))
def test_hostile_asap_input_leaves_honest_pes_alone(
    script: list[tuple[str, str, bytes, int]],
) -> None:
    sim, fakes = _world()
    before = _honest_view(sim)
    for attacker, registrar, data, pause in script:
        fakes[attacker].send_raw(registrar, int(PPID.ASAP), data)
        if pause:
            sim.run(pause)
    sim.run(12_000)  # keep-alive rounds: honest PEs answer, nothing else may remove them
    assert _honest_view(sim) == before
    pu = sim.fake("PU", "10.3.0.1")
    for registrar in ("PR1", "PR2"):
        pu.send(registrar, HandleResolution(pool_handle=HANDLE, items=MAX_ALL))
        answer = pu.last()
        assert isinstance(answer, HandleResolutionResponse) and answer.error is None
        assert set(HONEST) <= {p.pe_id for p in answer.pool_elements}
