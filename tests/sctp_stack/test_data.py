"""Reliable data: reassembly and ordering, SACK contents and timing, RTO (§6.3.1), fast
retransmit (§7.2.4), congestion windows (§7.2), failure detection and failover (§8)."""

from __future__ import annotations

import ipaddress
import random

import pytest

from rserpool.sctp import (
    CommunicationLost,
    DataArrive,
    Endpoint,
    LostReason,
    NetworkStatusChange,
    SctpConfig,
    SctpUsageError,
)
from rserpool.sctp.chunks import Data, Error, Sack
from rserpool.sctp.constants import CauseCode
from rserpool.sctp.inbound import Inbound, Verdict
from rserpool.sctp.outbound import Outbound
from rserpool.sctp.packet import encode_packet
from rserpool.sctp.path import Path, RtoEstimator
from tests.sctp_stack.helpers import B2, PORT, A, B, carry, endpoints, establish, kinds, packets
from tests.sctp_stack.sim import Network, Sim

CONFIG = SctpConfig()


# ------------------------------------------------------------------------ RTO (§6.3.1)


def test_rto_follows_rfc_9260_6_3_1() -> None:
    rto = RtoEstimator(SctpConfig(rto_min=100))
    assert rto.rto == 1000  # C1: RTO.Initial
    rto.measure(200)  # C2: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4 RTTVAR
    assert (rto.srtt, rto.rttvar, rto.rto) == (200, 100, 600)
    rto.measure(100)  # C3: RTTVAR with the old SRTT, then SRTT
    assert rto.rttvar == pytest.approx(0.75 * 100 + 0.25 * 100)
    assert rto.srtt == pytest.approx(0.875 * 200 + 0.125 * 100)
    assert rto.rto == round(187.5 + 4 * 100)
    for _ in range(10):
        rto.back_off()
    assert rto.rto == 60_000  # RTO.Max
    rto.measure(1)
    assert rto.rto == 100 or rto.rto > 100  # never below RTO.Min
    assert RtoEstimator(CONFIG).rto >= CONFIG.rto_min


# ------------------------------------------------------------------- receiving (§6.2)


def _data(tsn: int, data: bytes = b"x", stream: int = 0, ssn: int = 0, **flags: bool) -> Data:
    return Data(tsn, stream, ssn, 99, data, **flags)


def test_sack_reports_gap_blocks_and_duplicates() -> None:
    inbound = Inbound(CONFIG, 100, 4)
    for tsn in (100, 102, 103, 106, 103):
        inbound.receive(_data(tsn, ssn=tsn - 100, stream=1))
    sack = inbound.make_sack()
    assert sack.cumulative_tsn_ack == 100
    assert sack.gap_blocks == ((2, 3), (6, 6))
    assert sack.duplicate_tsns == (103,)
    assert inbound.make_sack().duplicate_tsns == ()  # reported once


def test_tsn_wraps_around() -> None:
    inbound = Inbound(CONFIG, 0xFFFFFFFE, 1)
    for ssn, tsn in enumerate((0xFFFFFFFE, 0xFFFFFFFF, 0, 1)):
        assert inbound.receive(_data(tsn, ssn=ssn))[0] == Verdict.NEW
    assert inbound.make_sack().cumulative_tsn_ack == 1


def test_reassembly_and_ordering_per_stream() -> None:
    inbound = Inbound(CONFIG, 10, 2)
    # stream 0: message 0 in three fragments (TSN 10-12), message 1 (TSN 13)
    # stream 1: message 0 (TSN 14); unordered (TSN 15)
    chunks = {
        10: _data(10, b"a", 0, 0, ending=False),
        11: _data(11, b"b", 0, 0, beginning=False, ending=False),
        12: _data(12, b"c", 0, 0, beginning=False),
        13: _data(13, b"d", 0, 1),
        14: _data(14, b"e", 1, 0),
        15: _data(15, b"u", 0, 0, unordered=True),
    }
    delivered: list[tuple[int, bytes]] = []
    for tsn in (15, 13, 14, 12, 10, 11):
        delivered += [(m.stream, m.data) for m in inbound.receive(chunks[tsn])[1]]
    assert delivered == [(0, b"u"), (1, b"e"), (0, b"abc"), (0, b"d")]


def test_invalid_stream_is_acked_and_reported() -> None:
    a, b = endpoints()
    assoc = establish(a, b)
    b.events()
    s = a.association(assoc)
    b.receive(encode_packet(5000, 6000, s.peer_tag, [_data(s.local_tsn, stream=500)]), A, PORT, 0)
    (answer,) = packets(b.datagrams())
    assert kinds(answer) == ["Error", "Sack"]
    assert answer.chunks[0].causes[0].code == CauseCode.INVALID_STREAM_IDENTIFIER  # type: ignore[union-attr]
    assert answer.chunks[1].cumulative_tsn_ack == s.local_tsn  # type: ignore[union-attr]


def test_delayed_sack_every_second_packet_or_200_ms() -> None:
    a, b = endpoints()
    assoc = establish(a, b)
    a.send(assoc, 0, 1, b"one", 0)
    carry(a, b, 0)
    assert b.datagrams() == [] and b.next_deadline() == 200
    b.handle_timers(200)
    assert [kinds(p) for p in packets(b.datagrams())] == [["Sack"]]
    a.send(assoc, 0, 1, b"two", 300)
    carry(a, b, 300)
    a.send(assoc, 0, 1, b"three", 301)
    carry(a, b, 301)  # the second packet: SACK at once
    assert [kinds(p) for p in packets(b.datagrams())] == [["Sack"]]


def test_64_kib_message_is_fragmented_and_reassembled() -> None:
    sim = Sim()
    assoc = sim.connect()
    sim.run(1000, lambda: bool(sim.a.association(assoc).outbound))
    message = bytes(range(256)) * 256
    sim.a.send(assoc, 3, 1234, message, sim.now)
    sim.pump()
    sim.run(10_000, lambda: bool(sim.received(sim.b)))
    (got,) = sim.received(sim.b)
    assert (got.stream, got.ppid, got.data) == (3, 1234, message)


def test_send_checks_its_arguments() -> None:
    a, b = endpoints()
    assoc = establish(a, b)
    with pytest.raises(SctpUsageError):
        a.send(assoc, 16, 0, b"x", 0)  # 16 streams: 0..15
    with pytest.raises(SctpUsageError):
        a.send(assoc, 0, 0, b"", 0)
    a.shutdown(assoc, 0)
    with pytest.raises(SctpUsageError):
        a.send(assoc, 0, 0, b"x", 0)


# ---------------------------------------------------------------- sending (§6.1, §7.2)


def _path() -> Path:
    return Path(ipaddress.ip_address("192.0.2.1"), PORT, CONFIG, confirmed=True)


def test_fast_retransmit_on_the_third_miss_indication() -> None:
    path = _path()
    out = Outbound(CONFIG, 1000, 1, 1 << 20)
    for i in range(6):
        out.enqueue(0, 0, bytes([i]) * 100, False)
    sent = out.fill(path, 1200, 0)
    assert [d.tsn for d in sent] == list(range(1000, 1006))
    cwnd = path.cwnd
    samples: list[tuple[Path, int]] = []
    for k in range(1, 4):  # TSN 1000 lost; SACKs for 1001, 1001-1002, 1001-1003
        outcome = out.on_sack(Sack(999, 1 << 20, ((2, 1 + k),)), 10 * k, samples)
    assert outcome.fast_retransmit == {path}
    assert path.cwnd == max(cwnd // 2, 4 * path.pmdcs)  # §7.2.3
    again = out.fill(path, 1200, 40, ignore_cwnd=True)
    assert [d.tsn for d in again] == [1000]
    out.on_sack(Sack(1005, 1 << 20), 50, samples)
    assert out.idle and out.fast_recovery_exit is None


def test_slow_start_then_congestion_avoidance() -> None:
    path = _path()
    mss = path.pmdcs
    assert path.cwnd == min(4 * mss, max(2 * mss, 4404))
    path.ssthresh = path.cwnd + 1
    before = path.cwnd
    path.on_acked(5000, flight_before=path.cwnd, in_fast_recovery=False)
    assert path.cwnd == before + mss  # slow start: at most one MSS per SACK (L = 1)
    path.on_acked(100, flight_before=path.cwnd, in_fast_recovery=False)
    assert path.cwnd == before + mss  # above ssthresh: partial_bytes_acked accumulates
    path.on_acked(path.cwnd, flight_before=path.cwnd, in_fast_recovery=False)
    assert path.cwnd == before + 2 * mss
    path.on_timeout()
    assert path.cwnd == mss and path.rto.rto == 2000


def test_rwnd_limits_new_data_but_allows_a_zero_window_probe() -> None:
    path = _path()
    out = Outbound(CONFIG, 1, 1, 0)
    out.enqueue(0, 0, b"a" * 100, False)
    out.enqueue(0, 0, b"b" * 100, False)
    assert len(out.fill(path, 1200, 0)) == 1  # the probe
    assert out.fill(path, 1200, 0) == []


# ----------------------------------------------------------------- failure (§8.1, §8.2)


def test_unreachable_peer_ends_with_communication_lost() -> None:
    sim = Sim(config=SctpConfig(association_max_retrans=4, path_max_retrans=2, hb_interval=5000))
    assoc = sim.connect()
    sim.run(1000, lambda: bool(sim.a.association(assoc).outbound))
    sim.net.down.add(B)
    sim.a.send(assoc, 0, 1, b"into the void", sim.now)
    sim.pump()
    sim.run(300_000, lambda: bool(sim.of_type(sim.a, CommunicationLost)))
    (lost,) = sim.of_type(sim.a, CommunicationLost)
    assert lost.reason is LostReason.RETRANSMISSIONS and lost.unacked == 1  # type: ignore[attr-defined]
    (down,) = sim.of_type(sim.a, NetworkStatusChange)
    assert not down.active  # type: ignore[attr-defined]


def test_failover_to_the_second_address_and_back() -> None:
    config = SctpConfig(path_max_retrans=1, hb_interval=1000, association_max_retrans=20)
    sim = Sim(config=config, b_addresses=("10.0.0.2", "10.0.1.2"))
    assoc = sim.connect()
    sim.run(5000)  # the second address gets confirmed by a HEARTBEAT
    s = sim.a.association(assoc)
    assert s.paths[B2].confirmed and s.primary == B
    sim.net.down.add(B)
    for i in range(20):
        sim.a.send(assoc, 0, 1, bytes([i]) * 2000, sim.now)
        sim.pump()
        sim.run(sim.now + 500)
    sim.run(sim.now + 20_000, lambda: len(sim.received(sim.b)) == 20)
    assert [e.data[0] for e in sim.received(sim.b)] == list(range(20))
    changes = [(e.address, e.active) for e in sim.of_type(sim.a, NetworkStatusChange)]  # type: ignore[attr-defined]
    assert (B, False) in changes
    sim.net.down.clear()
    sim.run(sim.now + 10_000)
    assert s.paths[B].active and s.data_path().address == B  # back to the primary
    assert not sim.of_type(sim.a, CommunicationLost)


def test_sack_acking_what_was_never_sent_is_ignored() -> None:
    path = _path()
    out = Outbound(CONFIG, 1, 1, 1 << 20)
    out.enqueue(0, 0, b"a", False)
    out.fill(path, 1200, 0)
    assert not out.on_sack(Sack(50, 1000), 1, []).valid
    assert out.on_sack(Sack(1, 1000), 1, []).valid


def test_error_chunk_is_reported_to_the_user() -> None:
    from rserpool.sctp import CommunicationError
    from rserpool.sctp.causes import ErrorCause

    a, b = endpoints()
    assoc = establish(a, b)
    a.events()
    tag = b.association(next(iter(b.associations))).peer_tag
    a.receive(encode_packet(6000, 5000, tag, [Error((ErrorCause.no_user_data(1),))]), B, PORT, 0)
    (event,) = a.events()
    assert isinstance(event, CommunicationError) and event.assoc_id == assoc


def test_data_arrive_carries_the_ppid() -> None:
    a, b = endpoints()
    assoc = establish(a, b)
    b.events()
    a.send(assoc, 2, 0xDEADBEEF, b"payload", 0, unordered=True)
    carry(a, b, 0)
    (event,) = b.events()
    assert event == DataArrive(1, 2, 0xDEADBEEF, b"payload", True, source=A)


def test_network_defaults() -> None:
    assert Network().loss == 0.0


def test_a_confirmed_address_is_next_probed_after_the_heartbeat_interval() -> None:
    """§5.4 then §8.3: an address the peer listed is probed at once; once the HEARTBEAT ACK
    confirms it, the next probe goes out HB.interval + RTO later, not one RTO later."""
    a2 = ipaddress.ip_address("10.0.1.1")
    a = Endpoint(5000, [A, a2], rng=random.Random(1))
    b = Endpoint(6000, [B], rng=random.Random(2))
    establish(a, b)  # b's COOKIE ACK went out with a HEARTBEAT to a2, which a answered
    assoc = next(iter(b.associations.values()))
    assert not assoc.paths[a2].confirmed
    carry(a, b, 20)  # the HEARTBEAT ACK: a2 is confirmed
    assert assoc.paths[a2].confirmed
    b.handle_timers(20_000)  # RTO (1 s) ± 50 % has long passed; HB.interval (30 s) has not
    assert not [d for d in b.datagrams() if d.address == a2]
    b.handle_timers(50_000)
    probes = [d for d in b.datagrams() if d.address == a2]
    assert [kinds(p) for p in packets(probes)] == [["Heartbeat"]]
