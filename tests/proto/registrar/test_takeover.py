"""ENRP takeover: three registrars, two registrars, conflicts, a living target, expiry."""

from __future__ import annotations

from rserpool.proto.common import Send
from rserpool.proto.registrar import (
    PeerLossReason,
    PeerLost,
    TakeoverAborted,
    TakeoverAbortReason,
    TakeoverCompleted,
    TakeoverStarted,
)
from rserpool.testing.registrar import Fake, Sim
from rserpool.wire import (
    PPID,
    EndpointKeepAlive,
    InitTakeover,
    InitTakeoverAck,
    TakeoverServer,
    decode_message_untrusted,
)

from .conftest import PR1, PR2, PR3


def _pes_on(sim: Sim, registrar: str, count: int) -> list[Fake]:
    fakes = []
    for n in range(1, count + 1):
        pe = sim.fake(f"PE{n}", f"10.1.0.{n}")
        pe.send(registrar, pe.registration(b"P", n))
        fakes.append(pe)
    return fakes


def _sent(sim: Sim, name: str, kind: type) -> list:  # type: ignore[type-arg]
    return [
        a.message
        for _, n, a in sim.actions
        if n == name and isinstance(a, Send) and isinstance(a.message, kind)
    ]


def test_takeover_with_three_registrars(trio_: Sim) -> None:
    fakes = _pes_on(trio_, "PR1", 3)
    trio_.crash("PR1")
    trio_.run(30_000)
    completed = [e for _, _, e in trio_.events if isinstance(e, TakeoverCompleted)]
    winners = {e.new_home_id for e in completed}
    assert len(winners) == 1
    [winner] = winners
    winner_name = {PR2: "PR2", PR3: "PR3"}[winner]
    other = "PR3" if winner_name == "PR2" else "PR2"
    assert {(e.target_id, e.pe_count) for e in completed} == {(PR1, 3)}
    assert trio_.pes("PR2") == trio_.pes("PR3") == {(b"P", n, winner) for n in (1, 2, 3)}
    # The winner waited for the other's Init Takeover Ack, then sent Takeover Server.
    assert [m.target_id for m in _sent(trio_, other, InitTakeoverAck)] == [PR1]
    assert [m.target_id for m in _sent(trio_, winner_name, TakeoverServer)] == [PR1]
    for pe in fakes:
        h_bit = [k for k in pe.received(EndpointKeepAlive) if k.home]
        assert h_bit and h_bit[0].server_id == winner
        assert pe.home_assoc is not None
    # The PEs answered, so the new home keeps them and keeps them alive without H.
    core = trio_.registrars[winner_name]
    assert all(core.pe_association(b"P", n) is not None for n in (1, 2, 3))
    trio_.run(20_000)
    assert trio_.pes(winner_name) == {(b"P", n, winner) for n in (1, 2, 3)}
    late = [k for k in fakes[0].received(EndpointKeepAlive) if k.server_id == winner]
    assert len(late) >= 4 and not late[-1].home
    assert PeerLost(PR1, PeerLossReason.TAKEN_OVER) in trio_.events_of(other, PeerLost)


def test_takeover_with_two_registrars_completes_at_expiry(pair: Sim) -> None:
    fakes = _pes_on(pair, "PR1", 2)
    pair.crash("PR1")
    pair.run(30_000)
    [started] = pair.events_of("PR2", TakeoverStarted)
    assert started.awaiting == ()
    [done] = pair.events_of("PR2", TakeoverCompleted)
    assert (done.target_id, done.new_home_id, done.pe_count) == (PR1, PR2, 2)
    start_time = next(t for t, _, e in pair.events if e == started)
    done_time = next(t for t, _, e in pair.events if e == done)
    assert done_time - start_time == 5000  # the takeover expiry interval
    assert pair.pes("PR2") == {(b"P", 1, PR2), (b"P", 2, PR2)}
    assert all(any(k.home for k in pe.received(EndpointKeepAlive)) for pe in fakes)


def test_taken_over_pe_that_does_not_answer_is_removed(pair: Sim) -> None:
    [pe] = _pes_on(pair, "PR1", 1)
    pe.ack_keep_alives = False
    pe.endpoint.port = 5999  # nobody listens at its ASAP transport any more
    pair.crash("PR1")
    pair.run(40_000)
    assert pair.events_of("PR2", TakeoverCompleted)
    assert pair.pes("PR2") == set()


def test_conflicting_takeovers_lower_id_wins(trio_: Sim) -> None:
    _pes_on(trio_, "PR1", 2)
    trio_.crash("PR1")
    pr2, pr3 = trio_.registrars["PR2"], trio_.registrars["PR3"]
    # Both detect the failure at the same instant (white-box: start both processes).
    for name, core in (("PR3", pr3), ("PR2", pr2)):
        target = core._state.peers.get(PR1)
        assert target is not None
        core._takeover.start(target, trio_.now)
        trio_.collect(name)
    trio_.settle()
    assert trio_.events_of("PR3", TakeoverAborted) == [
        TakeoverAborted(PR1, TakeoverAbortReason.LOWER_ID_WINS)
    ]
    [done] = trio_.events_of("PR2", TakeoverCompleted)
    assert done.new_home_id == PR2
    assert trio_.pes("PR3") == trio_.pes("PR2") == {(b"P", 1, PR2), (b"P", 2, PR2)}
    trio_.run(30_000)
    assert trio_.events_of("PR3", TakeoverStarted) == [TakeoverStarted(PR1, (PR2,))]


def test_target_alive_stops_takeover(trio_: Sim) -> None:
    _pes_on(trio_, "PR1", 1)
    # Everything PR1 sends to its peers is lost, until it hears an Init Takeover about itself.
    muted = {"on": True}

    def drop(src: str, dst: str, data: bytes) -> bool:
        if src == "PR1" and dst in ("PR2", "PR3") and muted["on"]:
            return True
        if dst == "PR1" and data[:1] == b"\x07":  # Init Takeover reaches PR1: it un-mutes
            muted["on"] = False
        return False

    trio_.drop = drop
    trio_.run(20_000)
    aborted = [e for _, _, e in trio_.events if isinstance(e, TakeoverAborted)]
    assert TakeoverAborted(PR1, TakeoverAbortReason.TARGET_ALIVE) in aborted
    assert not [e for _, _, e in trio_.events if isinstance(e, TakeoverCompleted)]
    assert trio_.pes("PR2") == {(b"P", 1, PR1)}
    trio_.drop = None
    started = len([e for _, _, e in trio_.events if isinstance(e, TakeoverStarted)])
    trio_.run(30_000)
    assert {p.server_id for p in trio_.registrars["PR2"].peers()} == {PR1, PR3}
    assert {p.server_id for p in trio_.registrars["PR3"].peers()} == {PR1, PR2}
    # Whoever had acked the aborted takeover monitors PR1 normally again: no new takeover.
    assert len([e for _, _, e in trio_.events if isinstance(e, TakeoverStarted)]) == started


def test_takeover_expiry_without_all_acks(trio_: Sim) -> None:
    _pes_on(trio_, "PR1", 1)

    def drop(src: str, dst: str, data: bytes) -> bool:
        try:
            message = decode_message_untrusted(PPID.ENRP, data)
        except Exception:
            return False
        # Neither PR2 nor PR3 ever hears the other's ack: both takeovers expire.
        return isinstance(message, InitTakeoverAck | InitTakeover)

    trio_.crash("PR1")
    trio_.drop = drop
    trio_.run(30_000)
    losses = [e for _, _, e in trio_.events if isinstance(e, PeerLost)]
    assert PeerLost(PR1, PeerLossReason.TAKEOVER_EXPIRED) in losses
    assert not [e for _, _, e in trio_.events if isinstance(e, TakeoverCompleted)]
    assert (b"P", 1, PR1) in trio_.pes("PR2")  # left to expire by its registration life
