"""ENRP under hostile and unlucky input: sender ids claimed from foreign associations, forged
takeovers, spoofed multicast Presences, two registrars failing together, healed partitions and
lost Handle Table Requests (issue 12, points 4, 5, 7 and 8)."""

from __future__ import annotations

import dataclasses

from rserpool.proto.common import Endpoint, Send, TransportAddress
from rserpool.proto.registrar import (
    MessageIgnored,
    PoolElementRemoved,
    RemovalReason,
    TakeoverAborted,
    TakeoverCompleted,
)
from rserpool.testing.registrar import Fake, Sim, ip
from rserpool.wire import (
    PPID,
    EndpointKeepAlive,
    HandleResolution,
    HandleResolutionResponse,
    HandleTableRequest,
    HandleTableResponse,
    HandleUpdate,
    InitTakeover,
    ListRequest,
    Message,
    Presence,
    SctpTransport,
    ServerInformation,
    TakeoverServer,
    UpdateAction,
    decode_message_untrusted,
    encode_message,
)

from .conftest import PR1, PR2, PR3

EVIL = 0x66666666


class Rogue(Fake):
    """A hostile host with an ENRP endpoint (port 9901): it sends whatever ENRP it likes."""

    def __init__(self, sim: Sim, name: str, address: str) -> None:
        super().__init__(sim, name, address, 9901)
        self.endpoint.kind = Endpoint.ENRP

    def send(self, registrar: str, message: Message) -> int:
        remote = self.sim.endpoint_of(registrar, Endpoint.ENRP)
        local_id, _ = self.sim.associate(self.endpoint, remote)
        self.sim.deliver(self.endpoint, local_id, int(PPID.ENRP), encode_message(message))
        return local_id

    def presence(self, sender_id: int, checksum: int = 0xFFFF) -> Presence:
        info = ServerInformation(sender_id, SctpTransport(9901, self.endpoint.addresses))
        return Presence(sender_id=sender_id, pe_checksum=checksum, server_information=info)


def spoof_multicast(sim: Sim, registrar: str, message: Message, source: str) -> None:
    """A multicast Presence datagram with any source address reaches ``registrar``."""
    core = sim.registrars[registrar]
    core.receive_multicast(Endpoint.ENRP, encode_message(message), (ip(source), 9901), sim.now)
    sim.collect(registrar)
    sim.pump()


def pes_on(sim: Sim, registrar: str, count: int, first: int = 1, pool: bytes = b"P") -> list[Fake]:
    fakes = []
    for n in range(first, first + count):
        pe = sim.fake(f"PE{n}", f"10.1.{n // 250}.{n % 250 + 1}")
        pe.send(registrar, pe.registration(pool, n))
        fakes.append(pe)
    sim.settle()
    return fakes


def resolvable(sim: Sim, registrar: str, pool: bytes, pe_ids: set[int]) -> bool:
    """Every id of ``pe_ids`` is in ``registrar``'s handlespace (what resolution serves)."""
    return {pe.pe_id for pe in sim.registrars[registrar].handlespace if pe.pool_handle == pool} >= (
        pe_ids
    )


def ignored(sim: Sim, name: str, text: str) -> bool:
    return any(text in e.reason for e in sim.events_of(name, MessageIgnored))


# --------------------------------------------------------------------- point 4: ownership


def test_foreign_handle_update_cannot_move_or_remove_a_pe(pair: Sim) -> None:
    pes_on(pair, "PR1", 1)
    stored = pair.registrars["PR2"].handlespace.find(b"P", 1)
    assert stored is not None
    wire = pair.registrars["PR2"]._state.wire_pe(stored)
    assert wire is not None
    rogue = Rogue(pair, "EVIL", "10.9.0.9")
    for sender in (PR1, EVIL):  # the real home's id, and a fresh one
        for action, home in ((UpdateAction.ADD_PE, EVIL), (UpdateAction.DEL_PE, PR1)):
            moved = dataclasses.replace(wire, home_registrar_id=home)
            update = HandleUpdate(
                sender_id=sender, action=action, pool_handle=b"P", pool_element=moved
            )
            rogue.send("PR2", update)
            rogue.send("PR1", update)
    assert pair.pes("PR1") == pair.pes("PR2") == {(b"P", 1, PR1)}
    assert ignored(pair, "PR2", "HandleUpdate from 0x11111111, not a peer on this association")
    assert ignored(pair, "PR2", "HandleUpdate from 0x66666666, not a peer on this association")
    # The real peer's association is still PR1's.
    assert pair.registrars["PR2"]._state.peers.get(PR1).assoc_id is not None  # type: ignore[union-attr]


def test_forged_takeover_server_naming_the_registrar_itself_is_refused(pair: Sim) -> None:
    fakes = pes_on(pair, "PR1", 2)
    rogue = Rogue(pair, "EVIL", "10.9.0.9")
    rogue.send("PR1", TakeoverServer(sender_id=EVIL, receiver_id=PR1, target_id=PR1))
    rogue.send("PR1", TakeoverServer(sender_id=PR2, receiver_id=PR1, target_id=PR1))
    rogue.send("PR2", TakeoverServer(sender_id=EVIL, receiver_id=PR2, target_id=PR1))
    rogue.send("PR2", InitTakeover(sender_id=EVIL, receiver_id=PR2, target_id=PR1))
    pair.run(20_000)
    assert pair.pes("PR1") == pair.pes("PR2") == {(b"P", 1, PR1), (b"P", 2, PR1)}
    assert not [e for _, _, e in pair.events if isinstance(e, TakeoverCompleted)]
    assert all(not any(k.home for k in pe.received(EndpointKeepAlive)) for pe in fakes)


def test_takeover_server_about_itself_from_a_real_peer_keeps_the_pes(pair: Sim) -> None:
    pes_on(pair, "PR1", 1)
    peer = pair.registrars["PR1"]._state.peers.get(PR2)
    assert peer is not None and peer.assoc_id is not None
    message = TakeoverServer(sender_id=PR2, receiver_id=PR1, target_id=PR1)
    core = pair.registrars["PR1"]
    source = pair.endpoint_of("PR2", Endpoint.ENRP).transport
    core.receive(Endpoint.ENRP, peer.assoc_id, PPID.ENRP, encode_message(message), source, 1)
    pair.collect("PR1")
    pair.pump()
    assert pair.pes("PR1") == {(b"P", 1, PR1)}
    assert ignored(pair, "PR1", "Takeover Server about 0x11111111 from 0x22222222")


def test_claimed_peer_id_does_not_rebind_the_peer(pair: Sim) -> None:
    pes_on(pair, "PR2", 1)
    core = pair.registrars["PR1"]
    before = core._state.peers.get(PR2)
    assert before is not None
    assoc, transport = before.assoc_id, before.transport
    rogue = Rogue(pair, "EVIL", "10.9.0.9")
    rogue.send("PR1", ListRequest(sender_id=PR2, receiver_id=PR1))
    rogue.send("PR1", HandleTableRequest(sender_id=PR2, receiver_id=PR1))
    rogue.send("PR1", rogue.presence(PR2, checksum=0))  # Server Information of its own
    after = core._state.peers.get(PR2)
    assert after is before and (after.assoc_id, after.transport) == (assoc, transport)
    assert ignored(pair, "PR1", "Presence claims peer 0x22222222 from other addresses")
    assert ignored(pair, "PR1", "ListRequest from 0x22222222, not a peer on this association")
    # The HT Request was answered with a reject to the rogue, nothing else; PR2 still works.
    assert all(getattr(m, "reject", True) for _, _, m in rogue.inbox)
    pair.run(20_000)
    assert pair.pes("PR1") == {(b"P", 1, PR2)}
    assert {p.server_id for p in core.peers()} == {PR2}


def test_static_peers_only_refuses_every_other_registrar(sim: Sim) -> None:
    hub = TransportAddress((ip("10.0.0.1"),), 9901)
    sim.registrar("PR1", "10.0.0.1", PR1)
    sim.registrar("PR2", "10.0.0.2", PR2, static_peers=(hub,), static_peers_only=True)
    sim.run(6000)
    rogue = Rogue(sim, "EVIL", "10.9.0.9")
    rogue.send("PR2", rogue.presence(EVIL))
    spoof_multicast(sim, "PR2", rogue.presence(0x77777777), "10.9.0.7")
    sim.run(6000)
    assert {p.server_id for p in sim.registrars["PR2"].peers()} == {PR1}
    assert ignored(sim, "PR2", "is not a configured peer (static peers only)")
    # PR1 without the option accepts the rogue as a peer (nothing to authorise it with).
    rogue.send("PR1", rogue.presence(EVIL))
    assert EVIL in {p.server_id for p in sim.registrars["PR1"].peers()}


# ------------------------------------------------------------------ point 5: takeovers


def test_two_of_three_failing_together_are_both_taken_over(trio_: Sim) -> None:
    on1 = pes_on(trio_, "PR1", 2)
    on2 = pes_on(trio_, "PR2", 2, first=3)
    trio_.crash("PR1")
    trio_.crash("PR2")
    trio_.run(30_000)
    done = {(e.target_id, e.new_home_id) for e in trio_.events_of("PR3", TakeoverCompleted)}
    assert done == {(PR1, PR3), (PR2, PR3)}
    assert trio_.pes("PR3") == {(b"P", n, PR3) for n in (1, 2, 3, 4)}
    for pe in on1 + on2:
        assert any(k.home and k.server_id == PR3 for k in pe.received(EndpointKeepAlive))
    assert trio_.registrars["PR3"].peers() == []


def test_spoofed_multicast_presences_do_not_abort_a_takeover(trio_: Sim) -> None:
    pes_on(trio_, "PR1", 2)
    trio_.crash("PR1")

    def flood() -> None:
        for n in range(5):
            fresh = Presence(sender_id=0x70000000 + trio_.now + n, pe_checksum=0xFFFF)
            target = Presence(sender_id=PR1, pe_checksum=0xFFFF)
            for name in ("PR2", "PR3"):
                spoof_multicast(trio_, name, fresh, f"10.9.0.{n + 1}")
                spoof_multicast(trio_, name, target, "10.0.0.1")

    for _ in range(30):
        flood()
        trio_.run(1000)
    completed = [e for _, _, e in trio_.events if isinstance(e, TakeoverCompleted)]
    assert {(e.target_id, e.pe_count) for e in completed} == {(PR1, 2)}
    assert not [e for _, _, e in trio_.events if isinstance(e, TakeoverAborted)]
    winner = completed[0].new_home_id
    assert trio_.pes("PR2") == trio_.pes("PR3") == {(b"P", 1, winner), (b"P", 2, winner)}


# ------------------------------------------------------------------ point 7: partitions


def test_healed_partition_keeps_every_live_pe(trio_: Sim) -> None:
    ids = {1: "PR1", 2: "PR1", 3: "PR2", 4: "PR2", 5: "PR3", 6: "PR3"}
    for n, home in ids.items():
        pes_on(trio_, home, 1, first=n)
    # ENRP between PR1 and the others is cut; PEs reach every registrar.
    cut = {"on": True}
    registrars = {"PR1", "PR2", "PR3"}

    def drop(src: str, dst: str, data: bytes) -> bool:
        return cut["on"] and {src, dst} <= registrars and "PR1" in (src, dst)

    trio_.drop = drop
    trio_.run(40_000)  # both sides take the other side's PEs over; the PEs answer both
    assert trio_.pes("PR1") == {(b"P", n, PR1) for n in ids}
    cut["on"] = False
    trio_.run(30_000)
    for name in ("PR1", "PR2", "PR3"):
        assert resolvable(trio_, name, b"P", set(ids)), (name, trio_.pes(name))
    homes = [{(h, i): home for h, i, home in trio_.pes(name)} for name in registrars]
    assert homes[0] == homes[1] == homes[2]  # one home per PE, the same everywhere
    removed = [e for _, _, e in trio_.events if isinstance(e, PoolElementRemoved)]
    assert not [e for e in removed if e.reason is RemovalReason.RESYNC_PURGE]
    pu = trio_.fake("PU", "10.2.0.1")
    for name in ("PR1", "PR2", "PR3"):
        pu.send(name, HandleResolution(pool_handle=b"P", items=6))
    answers = pu.received(HandleResolutionResponse)
    assert [len(a.pool_elements) for a in answers] == [6, 6, 6]


# ------------------------------------------------------------------ point 8: paging


def test_lost_second_handle_table_request_leaves_no_stale_continuation(sim: Sim) -> None:
    sim.registrar("PR1", "10.0.0.1", PR1, max_elements_per_ht_request=4)
    sim.run(5001)
    pes_on(sim, "PR1", 10)
    sim.registrar("PR2", "10.0.0.2", PR2, max_elements_per_ht_request=4)
    sim.run(6000)
    assert sim.pes("PR2") == sim.pes("PR1")
    requests = {"n": 0}
    lost = {"at": -1}

    def drop(src: str, dst: str, data: bytes) -> bool:
        try:
            message = decode_message_untrusted(PPID.ENRP, data)
        except Exception:
            return False
        if isinstance(message, HandleTableRequest) and src == "PR2":
            requests["n"] += 1
            if requests["n"] == 2:  # the second request of the audit is lost
                lost["at"] = sim.now
                return True
        return False

    sim.drop = drop
    # PR2's copy lacks one of PR1's PEs: the checksum differs, PR2 audits PR1.
    sim.registrars["PR2"].handlespace.deregister(b"P", 9)
    sim.run(30_000)
    assert requests["n"] >= 3  # the audit started again after the loss
    # The first page after the lost request starts the table again (not at page 2).
    after = [
        a.message
        for t, n, a in sim.actions
        if n == "PR1"
        and t > lost["at"]
        and isinstance(a, Send)
        and isinstance(a.message, HandleTableResponse)
    ]
    assert after and after[0].entries[0].pool_elements[0].pe_id == 1
    assert sim.pes("PR2") == sim.pes("PR1") == {(b"P", n, PR1) for n in range(1, 11)}
    removed = sim.events_of("PR2", PoolElementRemoved)
    assert not [e for e in removed if e.reason is RemovalReason.RESYNC_PURGE]


def test_peers_only_option_on_the_command_line() -> None:
    from rserpool.cli import build_parser
    from rserpool.cli import registrar as cli_registrar

    for argv in (["--peer", "10.0.0.2", "--peers-only"], ["-peer=10.0.0.2", "-peersonly"]):
        rest, _notes = cli_registrar.translate(argv)
        config, _ = cli_registrar.build_config(build_parser().parse_args(["registrar", *rest]))
        assert config.static_peers_only
        assert config.static_peers == (TransportAddress((ip("10.0.0.2"),), 9901),)
    rest, _ = cli_registrar.translate([])
    config, _ = cli_registrar.build_config(build_parser().parse_args(["registrar", *rest]))
    assert not config.static_peers_only
    assert "static peers only" in cli_registrar.banner(config, {})
