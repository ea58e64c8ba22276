"""A SACK held by the delayed SACK timer leaves with the next DATA we send (§6.2).

Without it, a request/answer exchange with a peer that holds new data until the old is
acknowledged (Nagle, on by default in usrsctp's echo_server) waits 200 ms per round trip."""

from __future__ import annotations

from tests.sctp_stack.helpers import carry, endpoints, establish, kinds, packets


def test_a_delayed_sack_rides_with_the_answer() -> None:
    a, b = endpoints()
    a_assoc = establish(a, b)
    b_assoc = next(iter(b.associations))
    a.send(a_assoc, 0, 1, b"request", now=10)
    carry(a, b, now=10)
    assert b.datagrams() == []  # one packet with DATA: the SACK waits (delayed)
    b.send(b_assoc, 0, 1, b"answer", now=11)
    (answer,) = packets(b.datagrams())
    assert kinds(answer) == ["Sack", "Data"]


def test_without_data_to_send_the_sack_still_waits_for_its_timer() -> None:
    a, b = endpoints()
    a_assoc = establish(a, b)
    a.send(a_assoc, 0, 1, b"request", now=10)
    carry(a, b, now=10)
    assert b.datagrams() == []
    b.handle_timers(10 + b.config.sack_delay)
    assert [kinds(p) for p in packets(b.datagrams())] == [["Sack"]]
