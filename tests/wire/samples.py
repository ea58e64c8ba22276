"""One concrete instance of every ASAP and ENRP message, with every optional field filled in."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from typing import TypedDict

from rserpool.wire import (
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
    PolicyType,
    PoolElement,
    PoolEntry,
    PoolMemberSelectionPolicy,
    Presence,
    Registration,
    RegistrationResponse,
    SctpTransport,
    ServerAnnounce,
    ServerInformation,
    TakeoverServer,
    TransportUse,
    UpdateAction,
)

HANDLE = b"EchoPool"
PR_A, PR_B = 0x0A0A0A0A, 0x0B0B0B0B
PE_ID = 0x12345678
USER = SctpTransport(
    38022, (IPv4Address("10.255.255.1"), IPv6Address("2001:db8::1")), TransportUse.DATA_PLUS_CONTROL
)
ASAP_TRANSPORT = SctpTransport(38023, (IPv4Address("10.255.255.1"),))
LU = PoolMemberSelectionPolicy(PolicyType.LEAST_USED, load=0x40000000)
PE = PoolElement(PE_ID, 0, 90000, USER, LU)
HOMED_PE = PoolElement(PE_ID, PR_A, 90000, USER, LU, ASAP_TRANSPORT)
SERVER = ServerInformation(PR_A, SctpTransport(9901, (IPv4Address("10.255.255.2"),)))
ERROR = OperationError.of(Cause.UNKNOWN_POOL_HANDLE)


class EnrpIds(TypedDict):
    """The two ids every ENRP message starts with, for ``**`` in a constructor call."""

    sender_id: int
    receiver_id: int


ENRP_IDS: EnrpIds = {"sender_id": PR_A, "receiver_id": PR_B}

SAMPLES: list[Message] = [
    Registration(pool_handle=HANDLE, pool_element=PE),
    Deregistration(pool_handle=HANDLE, pe_id=PE_ID),
    RegistrationResponse(pool_handle=HANDLE, pe_id=PE_ID, reject=True, error=ERROR),
    DeregistrationResponse(pool_handle=HANDLE, pe_id=PE_ID),
    HandleResolution(pool_handle=HANDLE, items=0xFFFFFFFF),
    HandleResolutionResponse(pool_handle=HANDLE, policy=LU, pool_elements=(PE, PE)),
    EndpointKeepAlive(server_id=PR_A, pool_handle=HANDLE, pe_id=PE_ID, home=True),
    EndpointKeepAliveAck(pool_handle=HANDLE, pe_id=PE_ID),
    EndpointUnreachable(pool_handle=HANDLE, pe_id=PE_ID),
    ServerAnnounce(server_id=PR_A, transports=(ASAP_TRANSPORT,)),
    Cookie(cookie=b"<PP-TD1>\x00\x00\x00\x00\x00\x00\x00\x07"),
    CookieEcho(cookie=b"<PP-TD1>\x00\x00\x00\x00\x00\x00\x00\x07"),
    BusinessCard(pool_handle=HANDLE, policy=LU, pool_elements=(PE,)),
    AsapError(error=OperationError.of(Cause.UNRECOGNIZED_PARAMETER, b"\x40\x77\x00\x06\xab\xcd")),
    Presence(**ENRP_IDS, pe_checksum=0x29A5, server_information=SERVER, reply_required=True),
    HandleTableRequest(**ENRP_IDS, own_children_only=True),
    HandleTableResponse(**ENRP_IDS, entries=(PoolEntry(HANDLE, (HOMED_PE,)),), more_to_send=True),
    HandleUpdate(
        **ENRP_IDS,
        action=UpdateAction.ADD_PE,
        pool_handle=HANDLE,
        pool_element=HOMED_PE,
        takeover_suggested=True,
    ),
    ListRequest(**ENRP_IDS),
    ListResponse(**ENRP_IDS, servers=(SERVER,)),
    InitTakeover(**ENRP_IDS, target_id=0x0C0C0C0C),
    InitTakeoverAck(**ENRP_IDS, target_id=0x0C0C0C0C),
    TakeoverServer(**ENRP_IDS, target_id=0x0C0C0C0C),
    EnrpError(**ENRP_IDS, error=ERROR),
]
