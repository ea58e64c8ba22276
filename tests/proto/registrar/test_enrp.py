"""The registrar's ENRP side: startup/mentor, Presence, audit, Handle Table paging, lists."""

from __future__ import annotations

import dataclasses
import itertools
import random

from rserpool.proto.common import Endpoint, Multicast, Send, TransportAddress
from rserpool.proto.registrar import (
    HandleTableSynchronized,
    MentorSelected,
    MessageIgnored,
    PeerAdded,
    PeerChecksumMismatched,
    PeerLossReason,
    PeerLost,
    PoolElementRemoved,
    RegistrarConfig,
    RegistrarCore,
    RemovalReason,
    StartupCompleted,
    TakeoverStarted,
)
from rserpool.testing.registrar import Sim, ip
from rserpool.wire import (
    PPID,
    EnrpError,
    HandleTableRequest,
    HandleTableResponse,
    HandleUpdate,
    ListRequest,
    ListResponse,
    PolicyType,
    PoolElement,
    PoolMemberSelectionPolicy,
    Presence,
    SctpTransport,
    UpdateAction,
    decode_message_untrusted,
    encode_message,
)

from .conftest import PR1, PR2, PR3


def _register_many(sim: Sim, registrar: str, count: int, pools: int = 3) -> None:
    for n in range(1, count + 1):
        pe = sim.fake(f"PE{n}", f"10.1.{n // 250}.{n % 250 + 1}")
        handle = f"Pool-{n % pools}".encode()
        pe.send(registrar, pe.registration(handle, n))


def test_lone_registrar_ends_startup_after_mentor_discovery_timeout(sim: Sim) -> None:
    core = sim.registrar("PR1", "10.0.0.1", PR1)
    sim.run(4999)
    assert (core.in_startup, sim.events_of("PR1", StartupCompleted)) == (True, [])
    sim.run(1)
    assert not core.in_startup
    assert sim.events_of("PR1", StartupCompleted) == [StartupCompleted(None)]


def test_mentor_download_at_startup(pair: Sim) -> None:
    _register_many(pair, "PR1", 20)
    pair.run(1000)
    late = pair.registrar("PR3", "10.0.0.3", PR3)
    pair.settle()
    # PR3's first multicast Presence made PR1 and PR2 send Presence; the first heard is mentor.
    [mentor] = pair.events_of("PR3", MentorSelected)
    assert not late.in_startup  # the last HT Response ended the startup phase at once
    assert pair.events_of("PR3", StartupCompleted) == [StartupCompleted(mentor.server_id)]
    assert pair.pes("PR3") == pair.pes("PR1") and len(pair.pes("PR3")) == 20
    [sync] = pair.events_of("PR3", HandleTableSynchronized)
    assert sync.server_id == mentor.server_id and not sync.own_children_only
    assert sync.pe_count == 20
    assert {p.server_id for p in late.peers()} == {PR1, PR2}


def test_handle_table_paging_300_pes(pair: Sim) -> None:
    _register_many(pair, "PR1", 300, pools=7)
    pair.run(100)
    pair.registrar("PR3", "10.0.0.3", PR3)
    pair.settle()
    responses = [
        a.message
        for _, n, a in pair.actions
        if n in ("PR1", "PR2")
        and isinstance(a, Send)
        and isinstance(a.message, HandleTableResponse)
        and a.message.receiver_id == PR3
    ]
    assert len(responses) >= 3
    assert [r.more_to_send for r in responses] == [True] * (len(responses) - 1) + [False]
    for r in responses:
        assert sum(len(e.pool_elements) for e in r.entries) <= 128
        assert len(encode_message(r)) <= 1400
        for entry in r.entries:
            assert all(pe.asap_transport is not None for pe in entry.pool_elements)
    assert sum(len(e.pool_elements) for r in responses for e in r.entries) == 300
    assert pair.pes("PR3") == pair.pes("PR1") and len(pair.pes("PR3")) == 300


def test_page_limit_by_elements(sim: Sim) -> None:
    sim.registrar("PR1", "10.0.0.1", PR1, max_elements_per_ht_request=4)
    sim.run(5001)
    _register_many(sim, "PR1", 10, pools=1)
    sim.registrar("PR2", "10.0.0.2", PR2)
    sim.settle()
    sizes = [
        sum(len(e.pool_elements) for e in a.message.entries)
        for _, n, a in sim.actions
        if n == "PR1" and isinstance(a, Send) and isinstance(a.message, HandleTableResponse)
    ]
    assert sizes == [4, 4, 2]
    assert len(sim.pes("PR2")) == 10


def test_handle_updates_reach_every_peer(trio_: Sim) -> None:
    pe = trio_.fake("PE1", "10.1.0.1")
    pe.send("PR2", pe.registration(b"P", 1))
    assert trio_.pes("PR1") == trio_.pes("PR2") == trio_.pes("PR3") == {(b"P", 1, PR2)}
    pe.send("PR2", pe.registration(b"P", 1, life=1000))  # re-registration: ADD again
    copy = trio_.registrars["PR3"].handlespace.find(b"P", 1)
    assert copy is not None and copy.registration_life == 1000
    from rserpool.wire import Deregistration

    pe.send("PR2", Deregistration(pool_handle=b"P", pe_id=1))
    assert trio_.pes("PR1") == trio_.pes("PR3") == set()


def test_non_home_pe_expires_after_its_life(pair: Sim) -> None:
    pe = pair.fake("PE1", "10.1.0.1")
    pe.send("PR1", pe.registration(b"P", 1, life=7000))
    pair.run(6999)
    assert pair.pes("PR2")
    pair.run(2)
    assert pair.pes("PR2") == set() and pair.pes("PR1")  # home PEs live by keep-alives
    [removed] = pair.events_of("PR2", PoolElementRemoved)
    assert removed.reason is RemovalReason.EXPIRED


def test_presence_heartbeat_and_multicast(pair: Sim) -> None:
    start = pair.now
    pair.run(30_000)
    unicast = [
        t
        for t, n, a in pair.actions
        if n == "PR1" and t > start and isinstance(a, Send) and isinstance(a.message, Presence)
    ]
    multicast = [
        t
        for t, n, a in pair.actions
        if n == "PR1" and t > start and isinstance(a, Multicast) and a.endpoint is Endpoint.ENRP
    ]
    assert unicast == multicast and 10 <= len(unicast) <= 14  # 30 s / 2444 ms ± 12.5 %
    gaps = [b - a for a, b in itertools.pairwise(unicast)]
    assert all(2138 <= g <= 2750 for g in gaps)


def test_checksum_audit_resynchronises(pair: Sim) -> None:
    _register_many(pair, "PR1", 5, pools=1)
    pr2 = pair.registrars["PR2"]
    # Corrupt PR2's copy: lose one of PR1's PEs, keep a stale one PR1 does not have.
    pr2.handlespace.deregister(b"Pool-0", 3)
    round_robin = PoolMemberSelectionPolicy(PolicyType.ROUND_ROBIN)
    ghost = PoolElement(
        99,
        PR1,
        90_000,
        SctpTransport(7000, (ip("10.1.9.9"),)),
        round_robin,
        SctpTransport(5000, (ip("10.1.9.9"),)),
    )
    pr2.handlespace.register(
        b"Pool-0",
        99,
        home_registrar_id=PR1,
        registration_life=90_000,
        policy=round_robin,
        user_transport=ghost.user_transport,
        transport_protocol=4,
        control_channel=False,
        asap_transport=ghost.asap_transport,
        now=pair.now,
    )
    pair.run(3000)  # PR1's next Presence carries its ownership checksum
    [mismatch] = pair.events_of("PR2", PeerChecksumMismatched)
    assert mismatch.server_id == PR1
    requests = [
        a.message
        for _, n, a in pair.actions
        if n == "PR2" and isinstance(a, Send) and isinstance(a.message, HandleTableRequest)
    ]
    assert requests[-2].own_children_only  # the audit; then the whole table for the rest
    assert not requests[-1].own_children_only
    assert pair.pes("PR2") == pair.pes("PR1")
    [sync] = [e for e in pair.events_of("PR2", HandleTableSynchronized) if e.own_children_only]
    assert (sync.pe_count, sync.purged) == (5, 1)
    [purged] = [
        e
        for e in pair.events_of("PR2", PoolElementRemoved)
        if e.reason is RemovalReason.RESYNC_PURGE
    ]
    assert purged.pe_id == 99
    pair.run(10_000)  # checksums agree now: no more audits
    assert len(pair.events_of("PR2", PeerChecksumMismatched)) == 1


def test_list_exchange_with_static_peers(sim: Sim) -> None:
    sim.multicast = False
    hub = TransportAddress((ip("10.0.0.1"),), 9901)
    sim.registrar("PR1", "10.0.0.1", PR1)
    sim.registrar("PR2", "10.0.0.2", PR2, static_peers=(hub,))
    sim.registrar("PR3", "10.0.0.3", PR3, static_peers=(hub,))
    sim.settle()
    sim.run(6000)
    for name, others in (("PR1", {PR2, PR3}), ("PR2", {PR1, PR3}), ("PR3", {PR1, PR2})):
        assert {p.server_id for p in sim.registrars[name].peers()} == others, name
    # PR3 learned PR2 from PR1's List Response.
    lists = [
        a.message
        for _, n, a in sim.actions
        if n == "PR1"
        and isinstance(a, Send)
        and isinstance(a.message, ListResponse)
        and a.message.receiver_id == PR3
    ]
    assert any(PR2 in {s.server_id for s in m.servers} for m in lists)
    assert any(
        isinstance(a.message, ListRequest)
        for _, n, a in sim.actions
        if n == "PR3" and isinstance(a, Send)
    )


def test_peer_without_pes_is_removed(pair: Sim) -> None:
    crash_at = pair.now
    pair.crash("PR2")
    pair.run(20_000)
    [lost] = pair.events_of("PR1", PeerLost)
    assert lost == PeerLost(PR2, PeerLossReason.NO_RESPONSE)
    assert pair.events_of("PR1", TakeoverStarted) == []
    assert pair.registrars["PR1"].peers() == []
    removed_at = next(t for t, n, e in pair.events if e == lost)
    # last heard (at most one heartbeat cycle before the crash) + 5 s + 5 s
    assert 10_000 - 2750 <= removed_at - crash_at <= 10_000


def test_handle_table_request_from_unknown_peer_is_rejected(lone: Sim) -> None:
    core = lone.registrars["PR1"]
    request = HandleTableRequest(sender_id=0x999, receiver_id=PR1)
    peer = TransportAddress((ip("10.0.0.9"),), 9901)
    core.receive(Endpoint.ENRP, 77, PPID.ENRP, encode_message(request), peer, lone.now)
    [send] = core.outgoing()
    assert isinstance(send, Send) and isinstance(send.message, HandleTableResponse)
    assert send.message.reject and send.assoc_id == 77


def test_own_sender_id_is_dropped(lone: Sim) -> None:
    core = lone.registrars["PR1"]
    presence = Presence(sender_id=PR1, receiver_id=0, pe_checksum=0xFFFF)
    peer = TransportAddress((ip("10.0.0.9"),), 9901)
    core.receive(Endpoint.ENRP, 5, PPID.ENRP, encode_message(presence), peer, lone.now)
    assert core.outgoing() == [] and core.peers() == []
    assert any(isinstance(e, MessageIgnored) for e in core.events())


def test_presence_must_match_association(lone: Sim) -> None:
    core = lone.registrars["PR1"]
    info_transport = SctpTransport(9901, (ip("10.0.0.9"),))
    from rserpool.wire import ServerInformation

    presence = Presence(
        sender_id=0x999,
        pe_checksum=0xFFFF,
        server_information=ServerInformation(0x999, info_transport),
    )
    wrong_port = TransportAddress((ip("10.0.0.9"),), 1234)
    wrong_addr = TransportAddress((ip("10.0.0.8"),), 9901)
    for peer in (wrong_port, wrong_addr):
        core.receive(Endpoint.ENRP, 5, PPID.ENRP, encode_message(presence), peer, lone.now)
    assert core.peers() == []
    good = TransportAddress((ip("10.0.0.9"), ip("10.0.1.9")), 9901)
    core.receive(Endpoint.ENRP, 5, PPID.ENRP, encode_message(presence), good, lone.now)
    [added] = core.peers()
    assert added.transport == TransportAddress((ip("10.0.0.9"),), 9901)
    replies = [a.message for a in core.outgoing() if isinstance(a, Send)]
    assert [type(m) for m in replies] == [Presence, ListRequest]
    assert isinstance(replies[0], Presence) and replies[0].reply_required
    assert any(isinstance(e, PeerAdded) for e in core.events())


def test_enrp_parse_error_gets_enrp_error() -> None:
    core = RegistrarCore(RegistrarConfig(server_id=PR1), random.Random(3), 0)
    core.outgoing()
    peer = TransportAddress((ip("10.0.0.9"),), 9901)
    # Presence without its mandatory PE checksum but with a reportable unknown parameter.
    data = b"\x01\x00\x00\x14" + (0x999).to_bytes(4, "big") + bytes(4) + b"\x40\x99\x00\x08abcd"
    core.receive(Endpoint.ENRP, 9, PPID.ENRP, data, peer, 10)
    [send] = core.outgoing()
    assert isinstance(send, Send) and isinstance(send.message, EnrpError)
    assert send.message.receiver_id == 0x999 and send.message.sender_id == PR1
    assert send.message.error.code == 0x0001


def test_wrong_ppid_on_enrp_aborts() -> None:
    core = RegistrarCore(RegistrarConfig(server_id=PR1), random.Random(3), 0)
    core.outgoing()
    peer = TransportAddress((ip("10.0.0.9"),), 9901)
    core.receive(Endpoint.ENRP, 9, PPID.ASAP, b"\x05\x00\x00\x04", peer, 10)
    from rserpool.proto.common import Abort

    assert core.outgoing() == [Abort(Endpoint.ENRP, 9)]


def test_handle_update_del_for_own_pe_is_ignored(pair: Sim) -> None:
    pe = pair.fake("PE1", "10.1.0.1")
    pe.send("PR1", pe.registration(b"P", 1))
    stored = pair.registrars["PR1"].handlespace.find(b"P", 1)
    assert stored is not None
    wire = pair.registrars["PR1"]._state.wire_pe(stored)
    assert wire is not None
    update = HandleUpdate(
        sender_id=PR2,
        receiver_id=PR1,
        action=UpdateAction.DEL_PE,
        pool_handle=b"P",
        pool_element=dataclasses.replace(wire, home_registrar_id=PR2),
    )
    peer = TransportAddress((ip("10.0.0.2"),), 9901)
    core = pair.registrars["PR1"]
    core.receive(Endpoint.ENRP, 1234, PPID.ENRP, encode_message(update), peer, pair.now)
    assert pair.pes("PR1") == {(b"P", 1, PR1)}
    assert decode_message_untrusted(PPID.ENRP, encode_message(update)) == update
