"""rserpool.wire.explain: one sentence for every ASAP and ENRP message type, every branch."""

from __future__ import annotations

import pytest

from rserpool.wire import (
    MESSAGES,
    AsapError,
    BusinessCard,
    Cause,
    Cookie,
    CookieEcho,
    Deregistration,
    DeregistrationResponse,
    EndpointKeepAlive,
    EndpointKeepAliveAck,
    EndpointUnreachable,
    EnrpError,
    HandleResolution,
    HandleResolutionResponse,
    HandleTableRequest,
    HandleTableResponse,
    HandleUpdate,
    InitTakeover,
    InitTakeoverAck,
    ListRequest,
    ListResponse,
    Message,
    OperationError,
    PoolElement,
    PoolEntry,
    Presence,
    Registration,
    RegistrationResponse,
    ServerAnnounce,
    TakeoverServer,
    UpdateAction,
)
from rserpool.wire.explain import explain
from tests.wire.samples import (
    ASAP_TRANSPORT,
    ERROR,
    HANDLE,
    HOMED_PE,
    LU,
    PE,
    PE_ID,
    PR_A,
    PR_B,
    SAMPLES,
    SERVER,
    USER,
    EnrpIds,
)

IDS: EnrpIds = {"sender_id": PR_A, "receiver_id": PR_B}
FOREVER = PoolElement(PE_ID, 0, 0xFFFFFFFF, USER, LU)
NO_CAUSES = OperationError(())

CASES: list[tuple[Message, list[str]]] = [
    # ASAP: PE <-> registrar
    (Registration(pool_handle=HANDLE, pool_element=PE),
     ["PE $12345678 asks its home registrar to add it to pool EchoPool",
      "SCTP {10.255.255.1,[2001:db8::1]}:38022", "by LU load=25.0%",
      "unless it re-registers within 90000 ms"]),
    (Registration(pool_handle=HANDLE, pool_element=FOREVER), ["never drop it"]),
    (RegistrationResponse(pool_handle=HANDLE, pe_id=PE_ID),
     ["accepts PE $12345678 into EchoPool and is now its home registrar"]),
    (RegistrationResponse(pool_handle=HANDLE, pe_id=PE_ID, reject=True, error=ERROR),
     ["rejects PE $12345678 in EchoPool: UNKNOWN_POOL_HANDLE(0x9)"]),
    (RegistrationResponse(pool_handle=HANDLE, pe_id=PE_ID, reject=True),
     ["rejects", "no reason given"]),
    (Deregistration(pool_handle=HANDLE, pe_id=PE_ID),
     ["PE $12345678 asks its home registrar to remove it from EchoPool"]),
    (DeregistrationResponse(pool_handle=HANDLE, pe_id=PE_ID),
     ["confirms that PE $12345678 has left EchoPool"]),
    (DeregistrationResponse(pool_handle=HANDLE, pe_id=PE_ID, error=ERROR),
     ["could not remove PE $12345678", "UNKNOWN_POOL_HANDLE"]),
    (EndpointKeepAlive(server_id=PR_A, pool_handle=HANDLE, pe_id=PE_ID),
     ["home registrar $0a0a0a0a asks whether PE $12345678 of EchoPool is still alive"]),
    (EndpointKeepAlive(server_id=PR_A, pool_handle=HANDLE),
     ["asks whether EchoPool is still alive"]),
    (EndpointKeepAlive(server_id=PR_A, pool_handle=HANDLE, pe_id=PE_ID, home=True),
     ["registrar $0a0a0a0a tells PE $12345678 of EchoPool that it is the PE's home registrar "
      "now (H bit"]),
    (EndpointKeepAliveAck(pool_handle=HANDLE, pe_id=PE_ID),
     ["PE $12345678 of EchoPool answers", "still alive"]),
    (ServerAnnounce(server_id=PR_A, transports=(ASAP_TRANSPORT,)),
     ["registrar $0a0a0a0a announces itself by UDP multicast", "ASAP at SCTP 10.255.255.1:38023"]),
    (ServerAnnounce(server_id=PR_A), ["ASAP at the address this datagram comes from"]),
    # ASAP: PU <-> registrar
    (HandleResolution(pool_handle=HANDLE), ["which PEs serve EchoPool"]),
    (HandleResolution(pool_handle=HANDLE, items=0), ["which PEs serve EchoPool"]),
    (HandleResolution(pool_handle=HANDLE, items=0xFFFFFFFF), ["as many as it has"]),
    (HandleResolution(pool_handle=HANDLE, items=3, subscribe=True),
     ["at most 3", "S bit: and send me updates"]),
    (HandleResolutionResponse(pool_handle=HANDLE, policy=LU, pool_elements=(PE, HOMED_PE)),
     ["EchoPool is served by $12345678, $12345678 (policy LU load=25.0%)", "for failover"]),
    (HandleResolutionResponse(pool_handle=HANDLE, pool_elements=(PE,)),
     ["EchoPool is served by $12345678; the pool user picks one"]),
    (HandleResolutionResponse(pool_handle=HANDLE), ["EchoPool has no PEs"]),
    (HandleResolutionResponse(pool_handle=HANDLE, error=ERROR),
     ["cannot resolve EchoPool: UNKNOWN_POOL_HANDLE"]),
    (EndpointUnreachable(pool_handle=HANDLE, pe_id=PE_ID),
     ["cannot reach PE $12345678 of EchoPool", "removes the PE"]),
    # ASAP: PU <-> PE
    (Cookie(cookie=b"12345"), ["state cookie (5 bytes)", "next PE"]),
    (CookieEcho(cookie=b"12345"), ["after a failover", "last cookie it received (5 bytes)"]),
    (BusinessCard(pool_handle=HANDLE, pool_elements=(PE,)),
     ["fail over to $12345678 of EchoPool"]),
    (BusinessCard(pool_handle=HANDLE), ["fail over to another PE of EchoPool"]),
    (AsapError(error=OperationError.of(Cause.UNRECOGNIZED_MESSAGE)),
     ["could not process", "UNRECOGNIZED_MESSAGE(0x2)"]),
    (AsapError(error=NO_CAUSES), ["no reason given"]),
    (AsapError(error=OperationError.of(0x7777)), ["cause 0x7777"]),
    # ENRP
    (Presence(**IDS, pe_checksum=0x29A5),
     ["registrar $0a0a0a0a tells registrar $0b0b0b0b that it is alive; PE checksum 0x29a5"]),
    (Presence(sender_id=PR_A, pe_checksum=0xFFFF, server_information=SERVER,
              reply_required=True),
     ["tells its peers that it is alive", "reach it at SCTP 10.255.255.2:9901",
      "R bit: answer with a Presence"]),
    (HandleTableRequest(**IDS), ["asks registrar $0b0b0b0b for its whole handlespace"]),
    (HandleTableRequest(sender_id=PR_A, own_children_only=True),
     ["asks a peer it does not know yet for the PEs it is home for"]),
    (HandleTableResponse(**IDS, entries=(PoolEntry(HANDLE, (PE, PE)),)),
     ["sends registrar $0b0b0b0b 1 pool(s) with 2 PE(s), the rest of its handle table"]),
    (HandleTableResponse(**IDS, entries=(PoolEntry(HANDLE, (PE,)),), more_to_send=True),
     ["M bit: there is more, ask again"]),
    (HandleTableResponse(**IDS, reject=True), ["refuses to send its handle table"]),
    (HandleUpdate(**IDS, action=UpdateAction.ADD_PE, pool_handle=HANDLE,
                  pool_element=HOMED_PE),
     ["that PE $12345678 is in EchoPool (home $0a0a0a0a)", "every registrar can resolve"]),
    (HandleUpdate(**IDS, action=UpdateAction.DEL_PE, pool_handle=HANDLE,
                  pool_element=HOMED_PE, takeover_suggested=True),
     ["that PE $12345678 left EchoPool", "T bit"]),
    (ListRequest(**IDS), ["asks registrar $0b0b0b0b which registrars it knows"]),
    (ListResponse(**IDS, servers=(SERVER,)), ["the registrars it knows: $0a0a0a0a"]),
    (ListResponse(**IDS), ["the registrars it knows: none"]),
    (ListResponse(**IDS, reject=True), ["refuses to send its list of registrars"]),
    (InitTakeover(**IDS, target_id=0x0C0C0C0C),
     ["$0a0a0a0a has lost registrar $0c0c0c0c and proposes to take over its PEs"]),
    (InitTakeoverAck(**IDS, target_id=0x0C0C0C0C),
     ["$0a0a0a0a agrees that registrar $0b0b0b0b may take over the PEs of registrar $0c0c0c0c"]),
    (TakeoverServer(**IDS, target_id=0x0C0C0C0C),
     ["$0a0a0a0a has taken over the PEs of registrar $0c0c0c0c"]),
    (EnrpError(**IDS, error=ERROR),
     ["$0a0a0a0a could not process a message from registrar $0b0b0b0b: UNKNOWN_POOL_HANDLE"]),
]  # fmt: skip


@pytest.mark.parametrize(("message", "expected"), CASES, ids=lambda x: getattr(x, "NAME", ""))
def test_explanation(message: Message, expected: list[str]) -> None:
    sentence = explain(message)
    for part in expected:
        assert part in sentence
    assert "\n" not in sentence and not sentence.endswith(".")


def test_every_message_type_has_its_own_explanation() -> None:
    types = {type(m) for m, _ in CASES}
    assert types == {cls for registry in MESSAGES.values() for cls in registry.values()}
    fallback = explain.dispatch(Message)
    assert all(explain.dispatch(cls) is not fallback for cls in types)
    assert all(explain(m) for m in SAMPLES)
