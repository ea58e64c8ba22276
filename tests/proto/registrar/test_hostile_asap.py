"""The registrar's ASAP side under hostile input (issue 12, points 1, 2, 3, 6 and 9).

Each test names the rule of docs/registrar.md ("Hostile input") it proves.
"""

from __future__ import annotations

import ipaddress
import random

from rserpool.handlespace import MAX_STORED_PE_SIZE, PoolHandlespace
from rserpool.proto.registrar import (
    DeregistrationRefused,
    EndpointUnreachableReported,
    PoolElementRemoved,
    RateLimited,
    RegistrationRefused,
)
from rserpool.proto.registrar.state import RegistrarState
from rserpool.testing.registrar import Fake, Sim
from rserpool.wire import (
    AsapError,
    Cause,
    Deregistration,
    DeregistrationResponse,
    EndpointKeepAliveAck,
    EndpointUnreachable,
    HandleResolution,
    HandleResolutionResponse,
    HandleUpdate,
    PolicyType,
    PoolElement,
    PoolMemberSelectionPolicy,
    Registration,
    RegistrationResponse,
    SctpTransport,
    UpdateAction,
    encode_message,
)
from rserpool.wire.tlv import UnknownParameter

from .conftest import PR1, PR2, PR3

SECURITY = Cause.REJECTED_DUE_TO_SECURITY_CONSIDERATIONS


def _bloated(pe: Fake, handle: bytes, pe_id: int, *, param_type: int = 0x8123) -> Registration:
    """A Registration of ~65 KB: unknown skip-bit parameters inside the user transport."""
    plain = pe.registration(handle, pe_id)
    junk = tuple(UnknownParameter(param_type, bytes(1020), 1) for _ in range(63))
    user = plain.pool_element.user_transport
    assert isinstance(user, SctpTransport)
    user = SctpTransport(user.port, user.addresses, user.transport_use, junk)
    element = PoolElement(
        pe_id, 0, plain.pool_element.registration_life, user, plain.pool_element.policy
    )
    return Registration(pool_handle=handle, pool_element=element)


def _resolve(sim: Sim, pu: Fake, registrar: str, handle: bytes) -> HandleResolutionResponse:
    pu.send(registrar, HandleResolution(pool_handle=handle))
    answer = pu.last()
    assert isinstance(answer, HandleResolutionResponse)
    return answer


# ------------------------------------------------------- point 1: one message, one registrar


def test_oversized_registration_is_stored_small_and_fits_everywhere(sim: Sim) -> None:
    """A ~65 KB Registration (unknown skip-bit parameters in the user transport), with and
    without a peer: accepted without them, the PU gets an answer, peers get the Handle Update,
    a registrar joining later gets it in the Handle Table."""
    sim.registrar("PR1", "10.0.0.1", PR1)
    sim.run(5001)
    pe = sim.fake("PE1", "10.1.0.1")
    message = _bloated(pe, b"P", 1)
    assert len(encode_message(message)) > 64_000
    pe.send("PR1", message)  # no peer yet
    response = pe.last()
    assert isinstance(response, RegistrationResponse) and not response.reject
    pu = sim.fake("PU1", "10.2.0.1")
    answer = _resolve(sim, pu, "PR1", b"P")
    assert answer.error is None and [p.pe_id for p in answer.pool_elements] == [1]
    assert answer.pool_elements[0].user_transport.extensions == ()  # type: ignore[union-attr]
    stored = sim.registrars["PR1"].handlespace.find(b"P", 1)
    assert stored is not None
    wire = RegistrarState.wire_pe(stored)
    assert wire is not None and len(wire.encode()) <= MAX_STORED_PE_SIZE
    # A peer that is there when the next one arrives gets the Handle Update ...
    sim.registrar("PR2", "10.0.0.2", PR2)
    sim.run(5001)
    assert sim.pes("PR2") == {(b"P", 1, PR1)}  # ... after its Handle Table download
    pe2 = sim.fake("PE2", "10.1.0.2")
    pe2.send("PR1", _bloated(pe2, b"P", 2))
    assert sim.pes("PR2") == {(b"P", 1, PR1), (b"P", 2, PR1)}
    sim.registrar("PR3", "10.0.0.3", PR3)  # and one joining later gets the Handle Table
    sim.run(5001)
    assert sim.pes("PR3") == sim.pes("PR1") == sim.pes("PR2")
    assert _resolve(sim, pu, "PR3", b"P").error is None


def test_handle_resolution_never_fails_on_a_stored_pe() -> None:
    """The largest storable PE (64 IPv6 addresses in each transport, a 32-byte handle, the
    widest policy) fits a Handle Update and a Handle Resolution Response."""
    hs = PoolHandlespace(random.Random(1))
    v6 = tuple(ipaddress.IPv6Address(f"2001:db8::{i + 1:x}") for i in range(64))
    handle = b"H" * 32
    junk = tuple(UnknownParameter(0x8001, bytes(1000), 0) for _ in range(60))
    policy = PoolMemberSelectionPolicy(PolicyType.WEIGHTED_RANDOM_DPF, weight=1)
    result = hs.register(
        handle,
        7,
        home_registrar_id=PR1,
        registration_life=1000,
        policy=policy,
        user_transport=SctpTransport(1, v6, extensions=junk),
        transport_protocol=0,
        control_channel=False,
        asap_transport=SctpTransport(2, v6),
        now=0,
    )
    wire = RegistrarState.wire_pe(result.element)
    assert wire is not None
    assert len(wire.encode()) <= MAX_STORED_PE_SIZE
    update = HandleUpdate(
        sender_id=PR1, action=UpdateAction.ADD_PE, pool_handle=handle, pool_element=wire
    )
    assert len(encode_message(update)) < 0xFFFF
    response = HandleResolutionResponse(
        pool_handle=handle, policy=wire.policy, pool_elements=(wire,)
    )
    assert len(encode_message(response)) < 0xFFFF


# ---------------------------------------------------------------- point 3: ownership


def test_foreign_deregistration_is_refused(pair: Sim) -> None:
    """A PU reads PE ids from a Handle Resolution Response and deregisters them on its own
    association: refused with 0x000a at the home and at the other registrar, PE unchanged."""
    pe = pair.fake("PE1", "10.1.0.1")
    pe.send("PR1", pe.registration(b"P", 1))
    pu = pair.fake("PU1", "10.2.0.1")
    ids = [p.pe_id for p in _resolve(pair, pu, "PR2", b"P").pool_elements]
    assert ids == [1]
    for registrar in ("PR1", "PR2"):
        pu.send(registrar, Deregistration(pool_handle=b"P", pe_id=1))
        response = pu.last()
        assert isinstance(response, DeregistrationResponse)
        assert response.error is not None and response.error.code == SECURITY
        assert pair.events_of(registrar, DeregistrationRefused)
    assert pair.pes("PR1") == pair.pes("PR2") == {(b"P", 1, PR1)}
    assert not pair.events_of("PR1", PoolElementRemoved)
    # The PE itself may.
    pe.send("PR1", Deregistration(pool_handle=b"P", pe_id=1))
    response = pe.last()
    assert isinstance(response, DeregistrationResponse) and response.error is None
    assert pair.pes("PR1") == pair.pes("PR2") == set()


def test_man_in_the_middle_registration_is_refused(pair: Sim) -> None:
    """A Registration of an existing PE id from another host: refused, nothing changes."""
    pe = pair.fake("PE1", "10.1.0.1")
    pe.send("PR1", pe.registration(b"P", 1))
    core = pair.registrars["PR1"]
    assoc = core.pe_association(b"P", 1)
    before = core.handlespace.find(b"P", 1)
    assert before is not None
    transport = before.user_transport
    mitm = pair.fake("MITM", "10.9.0.1")
    for registrar in ("PR1", "PR2"):
        mitm.send(registrar, mitm.registration(b"P", 1, user_port=9999))
        response = mitm.last()
        assert isinstance(response, RegistrationResponse) and response.reject
        assert response.error is not None and response.error.code == SECURITY
        assert pair.events_of(registrar, RegistrationRefused)
    after = core.handlespace.find(b"P", 1)
    assert after is before and after.user_transport == transport
    assert core.pe_association(b"P", 1) == assoc
    assert pair.pes("PR1") == pair.pes("PR2") == {(b"P", 1, PR1)}
    # A stranger's Keep Alive Ack does not keep the PE alive either.
    pe.ack_keep_alives = False
    pair.run(5001)  # the Keep Alive is out
    mitm.send("PR1", EndpointKeepAliveAck(pool_handle=b"P", pe_id=1))
    pair.run(5001)
    assert pair.pes("PR1") == set()


def test_restarted_pe_may_register_again_from_its_addresses(pair: Sim) -> None:
    """The same PE id from the PE's own address on a new association (a restart): accepted,
    supervised on the new association."""
    pe = pair.fake("PE1", "10.1.0.1")
    pe.send("PR1", pe.registration(b"P", 1))
    old = pair.registrars["PR1"].pe_association(b"P", 1)
    again = pair.fake("PE1'", "10.1.0.1", port=5001)
    again.send("PR1", again.registration(b"P", 1, user_port=7001))
    response = again.last()
    assert isinstance(response, RegistrationResponse) and not response.reject
    assert pair.registrars["PR1"].pe_association(b"P", 1) not in (None, old)
    # ... and at another registrar (it moves its home there; ENRP settles the home).
    third = pair.fake("PE1''", "10.1.0.1", port=5002)
    third.send("PR2", third.registration(b"P", 1))
    response = third.inbox[0][2]
    assert isinstance(response, RegistrationResponse) and not response.reject


# ------------------------------------------------------- point 6: Endpoint Unreachable


def test_unreachable_rate_limit_holds_across_associations(sim: Sim) -> None:
    """Three PUs at once from one host share one rate window (keyed by address)."""
    sim.registrar("PR1", "10.0.0.1", PR1, max_eu_rate=1.0, max_bad_pe_reports=1)
    sim.run(5001)
    pe = sim.fake("PE1", "10.1.0.1")
    pe.ack_keep_alives = False
    pe.send("PR1", pe.registration(b"P", 1))
    pus = [sim.fake(f"PU{n}", "10.2.0.1", port=6000 + n) for n in range(3)]
    for pu in pus:
        pu.send("PR1", EndpointUnreachable(pool_handle=b"P", pe_id=1))
    [counted] = sim.events_of("PR1", EndpointUnreachableReported)
    assert counted.reports == 1
    assert len(sim.events_of("PR1", RateLimited)) == 2
    sim.run(5001)
    assert sim.pes("PR1")  # never exceeded: no Keep Alive check, no removal


def test_unreachable_reports_never_remove_a_live_pe(pair: Sim) -> None:
    """However many reports (from many hosts), a PE that answers its Keep Alive stays."""
    pe = pair.fake("PE1", "10.1.0.1")
    pe.send("PR1", pe.registration(b"P", 1))
    for n in range(20):
        pu = pair.fake(f"PU{n}", f"10.2.0.{n + 1}")
        for registrar in ("PR1", "PR2"):
            pu.send(registrar, EndpointUnreachable(pool_handle=b"P", pe_id=1))
    pair.run(20_000)
    assert pair.pes("PR1") == pair.pes("PR2") == {(b"P", 1, PR1)}


# ---------------------------------------------------------------------------- point 9


def test_registration_life_zero_is_refused(lone: Sim) -> None:
    pe = lone.fake("PE1", "10.1.0.1")
    pe.send("PR1", pe.registration(b"P", 1, life=0))
    response = pe.last()
    assert isinstance(response, RegistrationResponse) and response.reject
    assert response.error is not None and response.error.code == Cause.INVALID_VALUES
    assert lone.pes("PR1") == set()


def test_skip_and_report_parameters_are_reported(lone: Sim) -> None:
    """RFC 5354 §3, action bits 11: processed, then one ASAP Error with the TLVs (bounded)."""
    pe = lone.fake("PE1", "10.1.0.1")
    pe.send("PR1", _bloated(pe, b"P", 1, param_type=0xC123))
    response, error = (m for _, _, m in pe.inbox[-2:])
    assert isinstance(response, RegistrationResponse) and not response.reject
    assert isinstance(error, AsapError)
    causes = error.error.causes
    assert 1 <= len(causes) <= 16 and {c.code for c in causes} == {Cause.UNRECOGNIZED_PARAMETER}
    assert causes[0].data[:4] == b"\xc1\x23\x04\x00"  # type 0xc123, length 1024
    assert lone.pes("PR1") == {(b"P", 1, PR1)}
    # Skip-only bits (10): nothing to report.
    before = len(pe.inbox)
    pe.send("PR1", _bloated(pe, b"P", 1))
    assert len(pe.inbox) == before + 1 and not isinstance(pe.last(), AsapError)


def test_all_zero_weight_pool_answers(lone: Sim) -> None:
    """A WRAND pool whose PEs all have weight 0 exists: answered with its PEs (drawn with
    equal chances), not "unknown pool handle"."""
    policy = PoolMemberSelectionPolicy(PolicyType.WEIGHTED_RANDOM, weight=0)
    for n in range(1, 4):
        pe = lone.fake(f"PE{n}", f"10.1.0.{n}")
        pe.send("PR1", pe.registration(b"W", n, policy=policy))
    pu = lone.fake("PU1", "10.2.0.1")
    answer = _resolve(lone, pu, "PR1", b"W")
    assert answer.error is None and len(answer.pool_elements) == 3
