"""The sequence diagram model of a capture (rserpool.presentation.sequence): lifelines found and
named by role, arrows in order, routine traffic folded; on real captures and synthetic ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rserpool.capture import read_capture
from rserpool.presentation.sequence import (
    FOLDED,
    NOT_SHOWN,
    Arrow,
    SequenceDiagram,
    sequence_diagram,
)
from rserpool.wire import (
    Cookie,
    CookieEcho,
    EndpointKeepAlive,
    EndpointKeepAliveAck,
    HandleResolution,
    Message,
    RegistrationResponse,
)
from tests.capture.builder import capture, data_chunk, sctp
from tests.wire.samples import HANDLE, PE_ID, SAMPLES

CAPTURES = Path(__file__).parent.parent / "data" / "captures"


def diagram_of(name: str) -> SequenceDiagram:
    return sequence_diagram(read_capture((CAPTURES / name).read_bytes()).records, name)


def names(diagram: SequenceDiagram) -> list[str]:
    return [p.name for p in diagram.participants]


def between(diagram: SequenceDiagram, arrow: Arrow) -> tuple[str, str]:
    return diagram.participant(arrow.src).name, diagram.participant(arrow.dst).name


def test_the_udp_demo_capture() -> None:
    """``make demo`` over UDP: a registrar, three PEs, a pool user that fails over."""
    d = diagram_of("udp-loopback.pcapng")
    # the pool user and the registrar share 127.0.0.1: ports and roles tell them apart
    assert names(d) == ["PU 127.0.0.1", "PR $00000101", "PE $00002001", "PE $00002002",
                        "PE $00002003"]  # fmt: skip
    assert [p.addresses for p in d.participants] == [
        ("127.0.0.1",), ("127.0.0.1",), ("127.0.0.2",), ("127.0.0.3",), ("127.0.0.4",)
    ]  # fmt: skip
    assert len(d.arrows) == 19 and all(a.count == 1 for a in d.arrows)
    assert [a.frames[0] for a in d.arrows] == sorted(a.frames[0] for a in d.arrows)
    first = d.arrows[0]
    assert (first.label, first.detail, first.when) == (
        "Registration", "EchoPool $00002001", "0.037 s"
    )  # fmt: skip
    assert between(d, first) == ("PE $00002001", "PR $00000101") and not first.reply
    assert between(d, d.arrows[2]) == ("PR $00000101", "PE $00002001")
    assert d.arrows[2].text == "Registration Response: $00002001 OK" and d.arrows[2].reply
    resolutions = [a for a in d.arrows if a.label.startswith("Handle Resolution")]
    assert [(between(d, a), a.text) for a in resolutions] == [
        (("PU 127.0.0.1", "PR $00000101"), "Handle Resolution: EchoPool"),
        (("PR $00000101", "PU 127.0.0.1"), "Handle Resolution Response: EchoPool: $00002001"),
        (("PU 127.0.0.1", "PR $00000101"), "Handle Resolution: EchoPool"),  # the failover
        (("PR $00000101", "PU 127.0.0.1"), "Handle Resolution Response: EchoPool: $00002002"),
    ]
    assert d.caption == (NOT_SHOWN,)  # nothing repeats, nothing folded


def test_keep_alives_presences_and_announces_fold() -> None:
    """Our registrar, RSPLIB's PE, pool user and hsdumps: the heartbeat between the
    interesting messages becomes one arrow each, ×N with the time of the first and last."""
    d = diagram_of("rserpool-registrar.pcapng")
    assert names(d) == [
        "PU 198.51.100.2", "PR $00000201", "PR $fd8be1b9", "PR $7948e1f9", "PE $00002001",
        "multicast 239.0.0.51", "multicast 239.0.0.50",
    ]  # fmt: skip
    keep_alives = [a for a in d.arrows if a.label.startswith("Endpoint Keep Alive")]
    assert [(between(d, a), a.text, a.count, a.frames, a.when) for a in keep_alives] == [
        (("PR $00000201", "PE $00002001"), "Endpoint Keep Alive ×2: $00002001", 2, (60, 96),
         "5.471–10.490 s"),
        (("PE $00002001", "PR $00000201"), "Endpoint Keep Alive Ack ×2: $00002001", 2, (62, 98),
         "5.473–10.491 s"),
    ]  # fmt: skip
    multicast = [(a.text, a.count) for a in d.arrows if a.dst.startswith("group")]
    assert multicast == [
        ("ENRP Presence: checksum 0xffff", 1),
        ("ENRP Presence ×5: checksum 0x7250", 5),
        ("Server Announce ×8: $00000201", 8),
        ("Server Announce: $00000201", 1),  # after the second hsdump's ENRP exchange
    ]
    assert sum(a.count for a in d.arrows) == 40 and len(d.arrows) == 27
    assert d.caption == (NOT_SHOWN, FOLDED)
    assert {a.protocol for a in d.arrows if a.label.startswith("ENRP")} == {"enrp"}


def test_takeover_is_not_folded_and_multi_homed_nodes_are_one() -> None:
    d = diagram_of("takeover.pcapng")
    assert names(d) == ["PR 198.51.100.49", "PR $01a27f1d", "PR $00000503", "PR $00000502",
                        "PR $b76b087b", "PE $00002001"]  # fmt: skip
    pe = d.participants[-1]  # registered from .50, kept alive at .66: one PE, three addresses
    assert pe.addresses == ("198.51.100.50", "198.51.100.66", "198.51.100.82")
    assert d.participant("pr3").addresses == ("198.51.100.81", "198.51.100.18", "198.51.100.34")
    keep_alives = [(a.text, a.count) for a in d.arrows if "Keep Alive" in a.label]
    assert keep_alives == [
        ("Endpoint Keep Alive: $00002001 H: new home registrar", 1),  # the takeover
        ("Endpoint Keep Alive Ack: $00002001", 1),
        ("Endpoint Keep Alive: $00002001", 1),
        ("Endpoint Keep Alive Ack: $00002001", 1),
        # a Registration in between: what follows it is drawn anew
        ("Endpoint Keep Alive ×2: $00002001", 2),
        ("Endpoint Keep Alive Ack ×2: $00002001", 2),
    ]


def test_enrp_peers_with_two_addresses_each() -> None:
    d = diagram_of("enrp-peering.pcapng")
    assert d.participants[0].name == "PR $00000401"
    assert d.participants[0].addresses == ("198.51.100.1", "198.51.100.17")
    updates = [(between(d, a), a.detail) for a in d.arrows if a.label == "Handle Update"]
    assert updates == [
        (("PR $00000402", "PR $00000401"), "add EchoPool $00002001"),
        (("PR $00000401", "PR $00000402"), "add EchoPool $00002002"),
        (("PR $00000402", "PR $00000401"), "delete EchoPool $00002001"),
        (("PR $00000401", "PR $00000402"), "delete EchoPool $00002002"),
    ]


REGISTRAR = "192.0.2.1"
PE_AT = "10.255.255.1"  # the samples' PE: user transport {10.255.255.1, 2001:db8::1}:38022
UNDECODABLE = b"\x01\x00\x00\x08\x00\x09\x00\x04"  # a Registration with an empty pool handle


def session_capture() -> bytes:
    """A PE registers; a multi-homed pool user resolves, then talks to the PE (Business
    Card, Cookie, Cookie Echo), then sends something undecodable."""
    ok = RegistrationResponse(pool_handle=HANDLE, pe_id=PE_ID)
    resolve = HandleResolution(pool_handle=HANDLE)
    cookie = b"<PP-TD1>\x00\x00\x00\x00\x00\x00\x00\x07"
    packets = [
        sctp([data_chunk(SAMPLES[0], 1)], PE_AT, REGISTRAR, 40000, 3863, vtag=1),
        sctp([data_chunk(ok, 1)], REGISTRAR, PE_AT, 3863, 40000, vtag=2),
        sctp([data_chunk(resolve, 1)], "192.0.2.7", REGISTRAR, 50001, 3863, vtag=3),
        # the same association from the pool user's other address
        sctp([data_chunk(resolve, 2)], "192.0.2.8", REGISTRAR, 50001, 3863, vtag=3),
        sctp([data_chunk(SAMPLES[5], 1)], REGISTRAR, "192.0.2.8", 3863, 50001, vtag=4),
        sctp([data_chunk(SAMPLES[12], 1)], "192.0.2.7", PE_AT, 50002, 38022, vtag=5),
        sctp([data_chunk(Cookie(cookie=cookie), 1)], PE_AT, "192.0.2.7", 38022, 50002, vtag=6),
        sctp([data_chunk(CookieEcho(cookie=cookie), 2)], "192.0.2.7", PE_AT, 50002, 38022, 5),
        sctp([data_chunk(UNDECODABLE, 4, ppid=11)], "192.0.2.8", REGISTRAR, 50001, 3863, 3),
    ]
    return capture(packets)


def test_a_pool_user_session_with_cookies() -> None:
    d = sequence_diagram(read_capture(session_capture()).records)
    assert names(d) == ["PU 192.0.2.7", "PR 192.0.2.1", "PE $12345678"]
    assert d.participants[0].addresses == ("192.0.2.7", "192.0.2.8")
    assert d.participants[2].addresses == (PE_AT, "2001:db8::1")  # declared in its Registration
    assert [(between(d, a), a.text, a.when) for a in d.arrows] == [
        (("PE $12345678", "PR 192.0.2.1"), "Registration: EchoPool $12345678", "0.000 s"),
        (("PR 192.0.2.1", "PE $12345678"), "Registration Response: $12345678 OK", "0.010 s"),
        (("PU 192.0.2.7", "PR 192.0.2.1"), "Handle Resolution: EchoPool", "0.020 s"),
        (("PU 192.0.2.7", "PR 192.0.2.1"), "Handle Resolution: EchoPool", "0.030 s"),
        (("PR 192.0.2.1", "PU 192.0.2.7"),
         "Handle Resolution Response: EchoPool: $12345678, $12345678", "0.040 s"),
        (("PU 192.0.2.7", "PE $12345678"), "Business Card: EchoPool: $12345678", "0.050 s"),
        (("PE $12345678", "PU 192.0.2.7"), "Cookie: 16 bytes", "0.060 s"),
        (("PU 192.0.2.7", "PE $12345678"), "Cookie Echo: 16 bytes", "0.070 s"),
        (("PU 192.0.2.7", "PR 192.0.2.1"), "ASAP message (undecodable): parameter 0x0009: "
         "empty pool handle (at offset …", "0.080 s"),
    ]  # fmt: skip


def test_a_registrar_rejecting_and_routine_traffic_interrupted() -> None:
    """A rejected Registration says why; Keep Alives fold only while nothing else happens."""
    pe, registrar = "192.0.2.2", "192.0.2.1"
    keep_alive = EndpointKeepAlive(server_id=0x101, pool_handle=HANDLE, pe_id=PE_ID)
    ack = EndpointKeepAliveAck(pool_handle=HANDLE, pe_id=PE_ID)

    def to_pe(message: Message, tsn: int) -> Any:
        return sctp([data_chunk(message, tsn)], registrar, pe, 3863, 40000, vtag=2)

    def to_pr(message: Message, tsn: int) -> Any:
        return sctp([data_chunk(message, tsn)], pe, registrar, 40000, 3863, vtag=1)

    packets = [to_pe(keep_alive, 1), to_pr(ack, 1), to_pe(keep_alive, 2), to_pr(ack, 2),
               to_pr(SAMPLES[0], 3), to_pe(SAMPLES[2], 3), to_pe(keep_alive, 4)]  # fmt: skip
    d = sequence_diagram(read_capture(capture(packets)).records)
    assert names(d) == ["PR $00000101", "PE $12345678"]
    assert [(a.text, a.count, a.when) for a in d.arrows] == [
        ("Endpoint Keep Alive ×2: $12345678", 2, "0.000–0.020 s"),
        ("Endpoint Keep Alive Ack ×2: $12345678", 2, "0.010–0.030 s"),
        ("Registration: EchoPool $12345678", 1, "0.040 s"),
        ("Registration Response: $12345678 rejected: UNKNOWN_POOL_HANDLE(0x9)", 1, "0.050 s"),
        ("Endpoint Keep Alive: $12345678", 1, "0.060 s"),
    ]


def test_every_message_has_a_label_and_an_empty_capture_a_diagram() -> None:
    ports = {11: (40000, 3863), 12: (9901, 9901)}
    packets = [sctp([data_chunk(m, n)], sport=ports[m.PPID][0], dport=ports[m.PPID][1])
               for n, m in enumerate(SAMPLES, 1)]  # fmt: skip
    d = sequence_diagram(read_capture(capture(packets)).records)
    labels = [a.label for a in d.arrows]
    assert labels[:2] == ["Registration", "Deregistration"]
    assert {"ASAP Error", "ENRP Error", "ENRP Presence", "Takeover Server"} <= set(labels)
    assert [a.detail for a in d.arrows if a.label.startswith("Init Takeover")] == [
        "target $0c0c0c0c", "target $0c0c0c0c"
    ]  # fmt: skip
    empty = sequence_diagram([], "nothing")
    assert (empty.participants, empty.rows, empty.title) == ((), (), "nothing")
