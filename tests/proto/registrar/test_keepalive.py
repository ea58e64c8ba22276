"""The home PEs' keep-alive deadlines: one slot per PE, PEs due in one millisecond share a list."""

from __future__ import annotations

import ipaddress

from rserpool.handlespace import PoolElement
from rserpool.proto.registrar.keepalive import PeDeadlines
from rserpool.wire import PolicyType, PoolMemberSelectionPolicy, SctpTransport


def _pe(pe_id: int) -> PoolElement:
    user = SctpTransport(7000, (ipaddress.IPv4Address("192.0.2.1"),))
    policy = PoolMemberSelectionPolicy(PolicyType.ROUND_ROBIN)
    return PoolElement(b"P", pe_id, 1, 5000, policy, user, None, 0)


def test_due_in_deadline_order_then_in_arming_order() -> None:
    timers = PeDeadlines("keep_alive_transmission_due")
    a, b, c = _pe(1), _pe(2), _pe(3)
    timers.set(b, 200)
    timers.set(a, 100)
    timers.set(c, 100)
    assert timers.next_deadline() == 100 and timers.get(a) == 100
    assert timers.pop_due(150) == [(100, a), (100, c)]
    assert timers.get(a) is None and timers.get(b) == 200
    assert timers.pop_due(199) == [] and timers.pop_due(200) == [(200, b)]
    assert timers.next_deadline() is None and len(timers) == 0


def test_rearmed_and_cancelled_timers_leave_only_stale_entries() -> None:
    timers = PeDeadlines("keep_alive_timeout_due")
    a, b = _pe(1), _pe(2)
    timers.set(a, 100)
    timers.set(b, 100)
    timers.set(a, 300)  # re-armed later: its entry at 100 is stale
    timers.cancel(b)
    assert timers.next_deadline() == 300  # the stale bucket is dropped on the way
    timers.set(b, 300)
    timers.set(b, 300)  # armed there already: no second entry
    assert timers.pop_due(1000) == [(300, a), (300, b)]


def test_cancelled_then_rearmed_at_the_same_deadline_fires_once() -> None:
    timers = PeDeadlines("keep_alive_timeout_due")
    a, b = _pe(1), _pe(2)
    timers.set(b, 100)
    timers.set(a, 100)
    timers.cancel(b)
    timers.set(b, 100)
    assert timers.next_deadline() == 100
    assert timers.pop_due(100) == [(100, b), (100, a)]  # at its first entry, only there


def test_next_deadline_forgets_the_stale_head_of_a_bucket() -> None:
    timers = PeDeadlines("keep_alive_transmission_due")
    pes = [_pe(i) for i in range(1, 101)]
    for pe in pes:
        timers.set(pe, 100)
    for pe in pes[:-1]:
        timers.set(pe, 500)
    assert timers.next_deadline() == 100
    assert len(timers) == 100  # one left at 100, 99 at 500
    assert timers.pop_due(100) == [(100, pes[-1])]
