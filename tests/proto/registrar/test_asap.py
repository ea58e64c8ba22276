"""The registrar's ASAP side: registration, resolution, keep-alive, unreachability, announces."""

from __future__ import annotations

import dataclasses
import itertools
import random

import pytest

from rserpool.proto.common import Abort, Endpoint, Send, TransportAddress
from rserpool.proto.registrar import (
    AddressScope,
    HandleResolved,
    MessageIgnored,
    PoolElementRegistered,
    PoolElementRemoved,
    RateLimited,
    RegistrarConfig,
    RegistrarCore,
    RegistrationRefused,
    RemovalReason,
)
from rserpool.testing.registrar import Sim, ip
from rserpool.wire import (
    PPID,
    AsapError,
    Cause,
    DecodeError,
    Deregistration,
    DeregistrationResponse,
    EndpointKeepAlive,
    EndpointUnreachable,
    HandleResolution,
    HandleResolutionResponse,
    HandleUpdate,
    OpaqueTransport,
    PolicyType,
    PoolMemberSelectionPolicy,
    Registration,
    RegistrationResponse,
    SctpTransport,
    TcpTransport,
    TransportUse,
    UnknownPolicy,
    UpdateAction,
    decode_message_untrusted,
    encode_message,
)

from .conftest import PR1, PR2


def _response(pe_fake: object) -> RegistrationResponse:
    responses = pe_fake.received(RegistrationResponse)  # type: ignore[attr-defined]
    assert responses
    last: RegistrationResponse = responses[-1]
    return last


# ------------------------------------------------------------------------- registration


def test_registration_life_cycle(pair: Sim) -> None:
    pe = pair.fake("PE1", "10.1.0.1")
    pe.send("PR1", pe.registration(b"EchoPool", 0x1234))
    response = _response(pe)
    assert (response.reject, response.error, response.pe_id) == (False, None, 0x1234)
    assert pair.pes("PR1") == {(b"EchoPool", 0x1234, PR1)}
    assert pair.pes("PR2") == {(b"EchoPool", 0x1234, PR1)}  # Handle Update ADD_PE
    stored = pair.registrars["PR1"].handlespace.find(b"EchoPool", 0x1234)
    assert stored is not None
    assert stored.asap_transport == SctpTransport(5000, (ip("10.1.0.1"),))
    [registered] = pair.events_of("PR1", PoolElementRegistered)
    assert registered.created

    # Re-registration is an update: new life, same PE.
    pe.send("PR1", pe.registration(b"EchoPool", 0x1234, life=30_000))
    assert [e.created for e in pair.events_of("PR1", PoolElementRegistered)] == [True, False]
    assert stored.registration_life == 30_000
    peer_copy = pair.registrars["PR2"].handlespace.find(b"EchoPool", 0x1234)
    assert peer_copy is not None and peer_copy.registration_life == 30_000

    pe.send("PR1", Deregistration(pool_handle=b"EchoPool", pe_id=0x1234))
    [dereg] = pe.received(DeregistrationResponse)
    assert dereg.error is None
    assert pair.pes("PR1") == set() == pair.pes("PR2")  # Handle Update DEL_PE
    [removed] = pair.events_of("PR2", PoolElementRemoved)
    assert removed.reason is RemovalReason.HANDLE_UPDATE


def test_deregistration_of_unknown_pe_is_ok(lone: Sim) -> None:
    pe = lone.fake("PE1", "10.1.0.1")
    pe.send("PR1", Deregistration(pool_handle=b"Nope", pe_id=7))
    [dereg] = pe.received(DeregistrationResponse)
    assert (dereg.pool_handle, dereg.pe_id, dereg.error) == (b"Nope", 7, None)


def _pe(sim: Sim, name: str = "PE1", address: str = "10.1.0.1"):  # type: ignore[no-untyped-def]
    return sim.fake(name, address)


@pytest.mark.parametrize(
    ("change", "cause"),
    [
        (lambda pe: dataclasses.replace(pe, pe_id=0), Cause.RSPLIB_INVALID_ID),
        (
            lambda pe: dataclasses.replace(pe, asap_transport=pe.user_transport),
            Cause.RSPLIB_INVALID_REGISTRATOR,
        ),
        (
            lambda pe: dataclasses.replace(pe, policy=UnknownPolicy(0x12345678)),
            Cause.RSPLIB_UNSUPPORTED_POOL_POLICY,
        ),
        (
            lambda pe: dataclasses.replace(pe, user_transport=OpaqueTransport(b"x")),
            Cause.RSPLIB_INVALID_ADDRESSES,
        ),
        (
            lambda pe: dataclasses.replace(pe, user_transport=SctpTransport(0, (ip("10.1.0.1"),))),
            Cause.RSPLIB_INVALID_ADDRESSES,
        ),
        (
            lambda pe: dataclasses.replace(
                pe, user_transport=SctpTransport(7000, (ip("10.9.9.9"), ip("127.0.0.1")))
            ),
            Cause.RSPLIB_NO_USABLE_USER_ADDRESSES,
        ),
    ],
)
def test_registration_rejects(lone: Sim, change, cause) -> None:  # type: ignore[no-untyped-def]
    pe = _pe(lone)
    msg = pe.registration(b"EchoPool", 0x42)
    msg = dataclasses.replace(msg, pool_element=change(msg.pool_element))
    pe.send("PR1", msg)
    response = _response(pe)
    assert response.reject
    assert response.error is not None and response.error.code == cause
    [refused] = lone.events_of("PR1", RegistrationRefused)
    assert refused.cause == cause
    assert lone.pes("PR1") == set()


@pytest.mark.parametrize(
    ("second", "cause"),
    [
        ({"user": TcpTransport(7000, (ip("10.1.0.2"),))}, Cause.RSPLIB_WRONG_PROTOCOL),
        (
            {"user": SctpTransport(7000, (ip("10.1.0.2"),), TransportUse.DATA_PLUS_CONTROL)},
            Cause.INCONSISTENT_DATA_CONTROL_CONFIGURATION,
        ),
        (
            {"policy": PoolMemberSelectionPolicy(PolicyType.RANDOM)},
            Cause.INCONSISTENT_POOLING_POLICY,
        ),
    ],
)
def test_pool_consistency_rejects(lone: Sim, second, cause) -> None:  # type: ignore[no-untyped-def]
    first = _pe(lone)
    first.send("PR1", first.registration(b"Pool", 1))
    other = _pe(lone, "PE2", "10.1.0.2")
    msg = other.registration(b"Pool", 2)
    pe = msg.pool_element
    if "user" in second:
        pe = dataclasses.replace(pe, user_transport=second["user"])
    if "policy" in second:
        pe = dataclasses.replace(pe, policy=second["policy"])
    other.send("PR1", dataclasses.replace(msg, pool_element=pe))
    response = _response(other)
    assert response.reject and response.error is not None and response.error.code == cause
    assert lone.pes("PR1") == {(b"Pool", 1, PR1)}


def test_no_usable_asap_addresses() -> None:
    """The association's own addresses are not usable (e.g. only loopback): 0xf007."""
    core = RegistrarCore(RegistrarConfig(server_id=PR1), random.Random(1), 0)
    core.outgoing()
    user = SctpTransport(7000, (ip("10.1.0.1"),))
    msg = Registration(
        pool_handle=b"P",
        pool_element=dataclasses.replace(_pe_param(user), user_transport=user),
    )
    peer = TransportAddress((ip("10.1.0.1"),), 0)  # port 0: no ASAP transport possible
    core.receive(Endpoint.ASAP, 1, PPID.ASAP, encode_message(msg), peer, 10)
    [send] = [a for a in core.outgoing() if isinstance(a, Send)]
    assert isinstance(send.message, RegistrationResponse) and send.message.reject
    assert send.message.error is not None
    assert send.message.error.code == Cause.RSPLIB_NO_USABLE_ASAP_ADDRESSES


def _pe_param(user: SctpTransport):  # type: ignore[no-untyped-def]
    from rserpool.wire import PoolElement

    return PoolElement(9, 0, 1000, user, PoolMemberSelectionPolicy(PolicyType.ROUND_ROBIN))


def test_user_addresses_are_filtered_by_association_and_scope(lone: Sim) -> None:
    pe = lone.fake("PE1", "10.1.0.1")
    pe.endpoint.addresses = (ip("10.1.0.1"), ip("127.0.0.1"), ip("198.51.100.7"))
    advertised = (ip("127.0.0.1"), ip("192.0.2.200"), ip("198.51.100.7"), ip("10.1.0.1"))
    pe.send("PR1", pe.registration(b"P", 5, addresses=advertised))
    assert not _response(pe).reject
    stored = lone.registrars["PR1"].handlespace.find(b"P", 5)
    assert stored is not None
    # 127.0.0.1 is below site-local, 192.0.2.200 is not on the association.
    assert stored.user_transport == SctpTransport(7000, (ip("198.51.100.7"), ip("10.1.0.1")))
    assert stored.asap_transport == SctpTransport(5000, (ip("10.1.0.1"), ip("198.51.100.7")))


def test_loopback_scope_allows_loopback(sim: Sim) -> None:
    sim.registrar("PR1", "127.0.0.1", PR1, min_address_scope=AddressScope.LOOPBACK)
    pe = sim.fake("PE1", "127.0.0.1", port=5001)
    pe.send("PR1", pe.registration(b"P", 5))
    assert not _response(pe).reject


# -------------------------------------------------------------------- handle resolution


def _register(sim: Sim, registrar: str, handle: bytes, ids: range, **kw: object) -> None:
    for n in ids:
        pe = sim.fake(f"PE{n}", f"10.1.{n // 250}.{n % 250 + 1}")
        pe.send(registrar, pe.registration(handle, n, **kw))  # type: ignore[arg-type]
        assert not _response(pe).reject


def _resolve(sim: Sim, items: int | None, handle: bytes = b"P") -> HandleResolutionResponse:
    pu = sim.fake(f"PU{len(sim.endpoints)}", "10.2.0.1")
    pu.send("PR1", HandleResolution(pool_handle=handle, items=items))
    response: HandleResolutionResponse = pu.last()  # type: ignore[assignment]
    assert isinstance(response, HandleResolutionResponse)
    return response


@pytest.mark.parametrize(
    ("items", "expected"), [(None, 3), (0, 3), (1, 1), (2, 2), (5, 5), (0xFFFFFFFF, 7)]
)
def test_handle_resolution_items(lone: Sim, items: int | None, expected: int) -> None:
    _register(lone, "PR1", b"P", range(1, 8))
    response = _resolve(lone, items)
    assert len(response.pool_elements) == expected
    assert len({pe.pe_id for pe in response.pool_elements}) == expected
    assert response.policy == PoolMemberSelectionPolicy(PolicyType.ROUND_ROBIN)
    assert all(pe.asap_transport is None for pe in response.pool_elements)


def test_handle_resolution_caps_at_128_and_config_default(sim: Sim) -> None:
    sim.registrar("PR1", "10.0.0.1", PR1, max_hr_items=200)
    _register(sim, "PR1", b"P", range(1, 141))
    assert len(_resolve(sim, 0xFFFFFFFF).pool_elements) == 128
    assert len(_resolve(sim, None).pool_elements) == 128  # max_hr_items 200, cap 128


def test_round_robin_rotates(lone: Sim) -> None:
    _register(lone, "PR1", b"P", range(1, 4))
    picks = [_resolve(lone, 1).pool_elements[0].pe_id for _ in range(6)]
    assert sorted(picks[:3]) == [1, 2, 3] and picks[3:] == picks[:3]


def test_priority_and_least_used(lone: Sim) -> None:
    for n, prio in ((1, 5), (2, 9), (3, 1)):
        pe = lone.fake(f"A{n}", f"10.1.1.{n}")
        policy = PoolMemberSelectionPolicy(PolicyType.PRIORITY, priority=prio)
        pe.send("PR1", pe.registration(b"Prio", n, policy=policy))
    assert [p.pe_id for p in _resolve(lone, 1, b"Prio").pool_elements] == [2]
    for n, load in ((1, 900), (2, 100), (3, 500)):
        pe = lone.fake(f"B{n}", f"10.1.2.{n}")
        policy = PoolMemberSelectionPolicy(PolicyType.LEAST_USED, load=load)
        pe.send("PR1", pe.registration(b"LU", n, policy=policy))
    response = _resolve(lone, 2, b"LU")
    assert [p.pe_id for p in response.pool_elements] == [2, 3]
    assert response.policy == PoolMemberSelectionPolicy(PolicyType.LEAST_USED, load=100)


def test_random_policy_returns_distinct_pes(lone: Sim) -> None:
    _register(lone, "PR1", b"R", range(1, 11), policy=PoolMemberSelectionPolicy(PolicyType.RANDOM))
    seen: set[int] = set()
    for _ in range(20):
        ids = [p.pe_id for p in _resolve(lone, 3, b"R").pool_elements]
        assert len(set(ids)) == 3
        seen |= set(ids)
    assert len(seen) > 5


def test_unknown_pool(lone: Sim) -> None:
    response = _resolve(lone, 1, b"Nope")
    assert response.pool_elements == () and response.policy is None
    assert response.error is not None and response.error.code == Cause.UNKNOWN_POOL_HANDLE


def test_handle_resolution_rate_limit(sim: Sim) -> None:
    sim.registrar("PR1", "10.0.0.1", PR1, max_hr_rate=10.0)
    _register(sim, "PR1", b"P", range(1, 3))
    pu = sim.fake("PU", "10.2.0.1")
    answers = []
    for _ in range(5):  # 5 within 40 ms: 5/0.04 s = 125/s > 10/s
        pu.send("PR1", HandleResolution(pool_handle=b"P", items=1))
        answers.append(pu.received(HandleResolutionResponse)[-1])
        sim.run(10)
    assert answers[0].error is None  # one timestamp: no rate yet
    assert all(
        a.error is not None and a.error.code == Cause.UNKNOWN_POOL_HANDLE for a in answers[1:]
    )
    assert len(sim.events_of("PR1", RateLimited)) == 4
    sim.run(3000)  # the 16-entry window now spans > 1.6 s
    for _ in range(2):
        pu.send("PR1", HandleResolution(pool_handle=b"P", items=1))
    assert pu.received(HandleResolutionResponse)[-1].error is None
    other = sim.fake("PU2", "10.2.0.2")  # per PU
    other.send("PR1", HandleResolution(pool_handle=b"P", items=1))
    assert other.received(HandleResolutionResponse)[-1].error is None


# ------------------------------------------------------------------------ keep-alive


def test_keep_alive_keeps_a_live_pe(pair: Sim) -> None:
    pe = pair.fake("PE1", "10.1.0.1")
    pe.send("PR1", pe.registration(b"P", 1))
    pair.run(60_000)
    keep_alives = pe.received(EndpointKeepAlive)
    assert len(keep_alives) == 12  # every 5 s after the last Ack
    assert all(not k.home and k.pe_id == 1 and k.server_id == PR1 for k in keep_alives)
    assert pair.pes("PR1") == {(b"P", 1, PR1)}


def test_keep_alive_timeout_removes_and_aborts(pair: Sim) -> None:
    pe = pair.fake("PE1", "10.1.0.1")
    assoc = pe.send("PR1", pe.registration(b"P", 1))
    pe.ack_keep_alives = False
    registered_at = pair.now
    pair.run(9_999)
    assert pair.pes("PR1")
    pair.run(2)
    assert pair.pes("PR1") == set() == pair.pes("PR2")
    [removed] = pair.events_of("PR1", PoolElementRemoved)
    assert removed.reason is RemovalReason.KEEP_ALIVE_TIMEOUT
    aborts = [(t, a) for t, n, a in pair.actions if isinstance(a, Abort)]
    assert aborts and aborts[0][0] == registered_at + 10_000
    assert pe.aborted == [assoc]
    deletes = [
        a.message
        for _, n, a in pair.actions
        if isinstance(a, Send)
        and isinstance(a.message, HandleUpdate)
        and a.message.action == UpdateAction.DEL_PE
    ]
    assert len(deletes) == 1


def test_association_loss_removes_its_pes(pair: Sim) -> None:
    pe = pair.fake("PE1", "10.1.0.1")
    assoc = pe.send("PR1", pe.registration(b"P", 1))
    pe.send("PR1", pe.registration(b"Q", 2))
    other = pair.fake("PE2", "10.1.0.2")
    other.send("PR1", other.registration(b"P", 3))
    pair.break_association(pe.endpoint, assoc, notify_local=False)
    assert pair.pes("PR1") == {(b"P", 3, PR1)} == pair.pes("PR2")
    reasons = {e.reason for e in pair.events_of("PR1", PoolElementRemoved)}
    assert reasons == {RemovalReason.ASSOCIATION_LOST}


# --------------------------------------------------------------- endpoint unreachable


def test_endpoint_unreachable_threshold(pair: Sim) -> None:
    """RFC 5352 §3.5: past MAX-BAD-PE-REPORT (exceeded, not reached) the home registrar sends
    an Endpoint Keep Alive; only an unanswered one removes the PE. A non-home registrar
    cannot check the PE and keeps it."""
    pe = pair.fake("PE1", "10.1.0.1")
    pe.send("PR1", pe.registration(b"P", 1))
    pu = pair.fake("PU1", "10.2.0.1")
    report = EndpointUnreachable(pool_handle=b"P", pe_id=1)
    for _ in range(5):
        pu.send("PR2", report)
    assert (b"P", 1, PR1) in pair.pes("PR2")
    assert pu.inbox == []  # no response
    # Home registrar: three reports reach the threshold, nothing happens.
    for _ in range(3):
        pu.send("PR1", report)
    assert not pe.received(EndpointKeepAlive)
    pu.send("PR1", report)  # the fourth exceeds it: a Keep Alive, answered: the PE stays
    assert len(pe.received(EndpointKeepAlive)) == 1
    assert pair.pes("PR1") == {(b"P", 1, PR1)}
    assert not pair.events_of("PR1", PoolElementRemoved)
    # The Ack cleared the count; a PE that does not answer is removed after the timeout.
    pe.ack_keep_alives = False
    for _ in range(4):
        pu.send("PR1", report)
    assert len(pe.received(EndpointKeepAlive)) == 2
    assert pair.pes("PR1")
    pair.run(5001)
    assert pair.pes("PR1") == set() == pair.pes("PR2")
    [removed] = pair.events_of("PR1", PoolElementRemoved)
    assert removed.reason is RemovalReason.UNREACHABLE


def test_endpoint_unreachable_rate_limit(sim: Sim) -> None:
    sim.registrar("PR1", "10.0.0.1", PR1, max_eu_rate=1.0)
    pe = sim.fake("PE1", "10.1.0.1")
    pe.send("PR1", pe.registration(b"P", 1))
    pu = sim.fake("PU1", "10.2.0.1")
    for _ in range(5):
        pu.send("PR1", EndpointUnreachable(pool_handle=b"P", pe_id=1))
    assert sim.pes("PR1")  # only the first report counted
    assert len(sim.events_of("PR1", RateLimited)) == 4


# ---------------------------------------------------------------- wrong PPID, bad input


def test_wrong_ppid_aborts_association(lone: Sim) -> None:
    pe = lone.fake("PE1", "10.1.0.1")
    assoc = pe.send("PR1", pe.registration(b"P", 1))
    pe.send_raw("PR1", int(PPID.ENRP), b"\x05\x00\x00\x0c" + bytes(8))
    assert pe.aborted == [assoc]
    assert lone.pes("PR1") == set()


def test_other_ppid_is_ignored(lone: Sim) -> None:
    pe = lone.fake("PE1", "10.1.0.1")
    pe.send("PR1", pe.registration(b"P", 1))
    pe.send_raw("PR1", 0, b"hello")
    assert pe.aborted == [] and lone.pes("PR1")
    assert lone.events_of("PR1", MessageIgnored)


def test_bad_registration_gets_rejecting_response(lone: Sim) -> None:
    """RFC 5352 §3.1: a Registration the decoder rejects is answered with a Registration
    Response (Reject, the cause and TLV) when its handle and PE id can be read; else with an
    ASAP Error."""
    pe = lone.fake("PE1", "10.1.0.1")
    data = bytearray(encode_message(pe.registration(b"P", 1)))
    at = data.index(bytes(ip("10.1.0.1").packed)) - 4  # the IPv4 address parameter
    data[at + 2 : at + 4] = b"\x00\x07"  # length 7: "IPv4 address must have 4 bytes"
    with pytest.raises(DecodeError) as exc:
        decode_message_untrusted(PPID.ASAP, bytes(data))
    assert exc.value.report and exc.value.tlv
    pe.send_raw("PR1", int(PPID.ASAP), bytes(data))
    assert pe.received(AsapError) == []
    [response] = pe.received(RegistrationResponse)
    assert response.reject and (response.pool_handle, response.pe_id) == (b"P", 1)
    assert response.error is not None
    assert response.error.code == exc.value.cause == Cause.INVALID_VALUES
    assert response.error.causes[0].data == exc.value.tlv
    # No Pool Handle to answer with ("stop and report" bits in its place): an ASAP Error.
    reported = bytearray(data)
    reported[4:6] = b"\x40\x07"
    pe.send_raw("PR1", int(PPID.ASAP), bytes(reported))
    [error] = pe.received(AsapError)
    assert error.error.code == Cause.UNRECOGNIZED_PARAMETER
    # A parameter type with "stop" action bits (00) ends parsing silently.
    data[4:6] = b"\x00\x07"  # the Pool Handle becomes an (unsupported here) UDP-Lite TLV
    pe.send_raw("PR1", int(PPID.ASAP), bytes(data))
    assert len(pe.received(AsapError)) == 1 and len(pe.received(RegistrationResponse)) == 1
    # An unknown message type with "stop and report" bits is answered with 0x0002.
    pe.send_raw("PR1", int(PPID.ASAP), b"\x41\x00\x00\x04")
    assert pe.last().error.code == Cause.UNRECOGNIZED_MESSAGE  # type: ignore[attr-defined]
    # A malformed ASAP Error is never answered (no error loops); neither is a silent stop.
    before = len(pe.inbox)
    pe.send_raw("PR1", int(PPID.ASAP), b"\x0e\x00\x00\x08\xff\xff\x00\x04")
    pe.send_raw("PR1", int(PPID.ASAP), b"\x81\x00\x00\x04")
    assert len(pe.inbox) == before
    assert lone.pes("PR1") == set()


def test_messages_not_for_a_registrar_are_ignored(lone: Sim) -> None:
    pe = lone.fake("PE1", "10.1.0.1")
    pe.send("PR1", RegistrationResponse(pool_handle=b"P", pe_id=1))
    assert pe.inbox == [] and lone.events_of("PR1", MessageIgnored)


# ------------------------------------------------------------------------ announces


def test_server_announce_cadence(sim: Sim) -> None:
    pe = sim.fake("PE1", "10.1.0.1")
    sim.registrar("PR1", "10.0.0.1", PR1)
    sim.run(4999)
    assert pe.announces == []  # not during the startup phase
    sim.run(30_001)
    times = [t for t, sid in pe.announces]
    assert times[0] == 5000 and {sid for _, sid in pe.announces} == {PR1}
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(875 <= g <= 1125 for g in gaps)
    assert len(set(gaps)) > 5  # jittered
    assert 26 <= len(times) <= 35


def test_announces_off(sim: Sim) -> None:
    pe = sim.fake("PE1", "10.1.0.1")
    sim.registrar("PR1", "10.0.0.1", PR1, asap_announce=False)
    sim.run(20_000)
    assert pe.announces == []


def test_handle_resolution_event(lone: Sim) -> None:
    _register(lone, "PR1", b"P", range(1, 3))
    _resolve(lone, 1)
    [event] = lone.events_of("PR1", HandleResolved)
    assert event.pool_handle == b"P" and len(event.pe_ids) == 1 and event.cause is None
    _ = PR2
