"""Two endpoints over a lossy, duplicating, reordering link in virtual time.

Below the retransmission budget every user message arrives exactly once, in order on each
ordered stream, and the association shuts down cleanly; once the link dies for good the
sender gives up with COMMUNICATION LOST after Association.Max.Retrans. The runs are
derandomized: each example is a seed for the network, so a failure replays exactly.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rserpool.sctp import (
    CommunicationLost,
    CommunicationUp,
    LostReason,
    SctpConfig,
    ShutdownComplete,
)
from tests.sctp_stack.sim import Network, Sim

messages = st.lists(
    st.tuples(st.integers(0, 3), st.integers(1, 6000), st.booleans()), min_size=1, max_size=25
)
SIM_SETTINGS = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


@SIM_SETTINGS
@given(
    seed=st.integers(0, 2**32),
    loss=st.floats(0.0, 0.2),
    duplicate=st.floats(0.0, 0.2),
    spread=st.integers(0, 80),
    plan=messages,
)
def test_every_message_arrives_once_and_in_order(
    seed: int, loss: float, duplicate: float, spread: int, plan: list[tuple[int, int, bool]]
) -> None:
    sim = Sim(seed=seed, network=Network(loss, duplicate, (5, 5 + spread)))
    assoc = sim.connect()
    sim.run(120_000, lambda: bool(sim.of_type(sim.a, CommunicationUp)))
    assert sim.of_type(sim.a, CommunicationUp), "no association"
    sent = []
    for i, (stream, size, unordered) in enumerate(plan):
        payload = i.to_bytes(4, "big") + bytes([i % 251]) * size
        sim.a.send(assoc, stream, 40 + stream, payload, sim.now, unordered=unordered)
        sent.append((stream, payload, unordered))
        sim.pump()
        sim.step()
    sim.run(sim.now + 600_000, lambda: len(sim.received(sim.b)) >= len(plan))
    got = sim.received(sim.b)
    assert Counter((e.stream, e.data) for e in got) == Counter((s, p) for s, p, _ in sent)
    assert all(e.ppid == 40 + e.stream for e in got)
    for stream in range(4):
        ordered = [
            int.from_bytes(e.data[:4], "big") for e in got if e.stream == stream and not e.unordered
        ]
        assert ordered == sorted(ordered)
    sim.a.shutdown(assoc, sim.now)
    sim.pump()
    sim.run(sim.now + 600_000, lambda: not sim.a.associations and not sim.b.associations)
    assert sim.of_type(sim.a, ShutdownComplete) and not sim.of_type(sim.a, CommunicationLost)
    # B ends with SHUTDOWN COMPLETE; or, when the network reorders its last SACK behind its
    # SHUTDOWN ACK, A (already CLOSED) answers the SACK with an out-of-the-blue ABORT that can
    # overtake A's SHUTDOWN COMPLETE (§8.4): B then reports the ABORT, as RFC 9260 says.
    ends = sim.of_type(sim.b, ShutdownComplete) + [
        e
        for e in sim.of_type(sim.b, CommunicationLost)
        if e.reason is LostReason.ABORTED  # type: ignore[attr-defined]
    ]
    assert len(ends) == 1 and len(sim.of_type(sim.b, CommunicationLost)) <= 1
    assert sim.a.associations == {} and sim.b.associations == {}


@SIM_SETTINGS
@given(seed=st.integers(0, 2**32), cut_after=st.integers(0, 3000), size=st.integers(1, 30_000))
def test_a_dead_link_ends_with_communication_lost(seed: int, cut_after: int, size: int) -> None:
    config = SctpConfig(association_max_retrans=5, hb_interval=2000)
    sim = Sim(seed=seed, config=config, network=Network(delay=(5, 30)))
    assoc = sim.connect()
    sim.run(5000, lambda: bool(sim.of_type(sim.a, CommunicationUp)))
    sim.a.send(assoc, 0, 1, b"z" * size, sim.now)
    sim.pump()
    sim.run(sim.now + cut_after)
    sim.net.loss = 1.0
    sim.a.send(assoc, 1, 1, b"lost", sim.now)
    sim.pump()
    sim.run(sim.now + 1_000_000, lambda: bool(sim.of_type(sim.a, CommunicationLost)))
    (lost,) = sim.of_type(sim.a, CommunicationLost)
    assert lost.reason is LostReason.RETRANSMISSIONS  # type: ignore[attr-defined]
    assert sim.a.associations == {}


def test_a_long_transfer_of_64_kib_messages_over_a_bad_link() -> None:
    sim = Sim(seed=7, network=Network(loss=0.1, duplicate=0.05, delay=(5, 60)))
    assoc = sim.connect()
    sim.run(60_000, lambda: bool(sim.of_type(sim.a, CommunicationUp)))
    payloads = [bytes([i]) * (64 * 1024) for i in range(12)]
    for i, payload in enumerate(payloads):
        sim.a.send(assoc, i % 2, 0, payload, sim.now)
    sim.pump()
    sim.run(sim.now + 3_600_000, lambda: len(sim.received(sim.b)) == len(payloads))
    got = sim.received(sim.b)
    assert sorted(e.data for e in got) == payloads
    for stream in (0, 1):
        assert [e.data[0] for e in got if e.stream == stream] == list(range(stream, 12, 2))
    assert not sim.of_type(sim.a, CommunicationLost)
