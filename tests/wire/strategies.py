"""Hypothesis strategies for every wire message and parameter (dev-only: not in the package)."""

from __future__ import annotations

import ipaddress

from hypothesis import strategies as st

from rserpool.wire import (
    AsapError,
    BusinessCard,
    Cookie,
    CookieEcho,
    DccpTransport,
    Deregistration,
    DeregistrationResponse,
    EndpointKeepAlive,
    EndpointKeepAliveAck,
    EndpointUnreachable,
    EnrpError,
    ErrorCause,
    HandleResolution,
    HandleResolutionResponse,
    HandleTableRequest,
    HandleTableResponse,
    HandleUpdate,
    InitTakeover,
    InitTakeoverAck,
    IPAddress,
    ListRequest,
    ListResponse,
    Message,
    OpaqueTransport,
    OperationError,
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
    TcpTransport,
    TransportUse,
    UdpLiteTransport,
    UdpTransport,
    UnknownPolicy,
    UpdateAction,
)
from rserpool.wire.constants import POLICY_FIELDS, Cause, PolicyType

u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
ipv4 = st.ip_addresses(v=4)


def _not_v4_mapped(address: IPAddress) -> bool:  # mapped ones become v4
    return not isinstance(address, ipaddress.IPv6Address) or address.ipv4_mapped is None


ipv6: st.SearchStrategy[IPAddress] = st.ip_addresses(v=6).filter(_not_v4_mapped)
address = st.one_of(ipv4, ipv6)
pool_handles = st.binary(min_size=1, max_size=32)
uses = st.sampled_from(TransportUse)


@st.composite
def sctp_transports(draw: st.DrawFn, max_addresses: int = 4) -> SctpTransport:
    addresses = draw(st.lists(address, min_size=1, max_size=max_addresses))
    return SctpTransport(draw(u16), tuple(addresses), draw(uses))


def _one(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> tuple[object, ...]:
    return (addr,)


transports = st.one_of(
    sctp_transports(),
    st.builds(TcpTransport, u16, st.builds(_one, address), uses),
    st.builds(UdpTransport, u16, st.builds(_one, address)),
    st.builds(UdpLiteTransport, u16, st.builds(_one, address)),
    st.builds(DccpTransport, u16, u32, st.builds(_one, address)),
    st.builds(OpaqueTransport, st.binary(max_size=40)),
)


@st.composite
def known_policies(draw: st.DrawFn) -> PoolMemberSelectionPolicy:
    policy_type = draw(st.sampled_from(PolicyType))
    values = {name: draw(u32) for name in POLICY_FIELDS[policy_type]}
    return PoolMemberSelectionPolicy(policy_type, **values)


known_codes = frozenset(int(p) for p in PolicyType)
policies = st.one_of(
    known_policies(),
    st.builds(
        UnknownPolicy,
        u32.filter(lambda c: c not in known_codes),
        st.binary(max_size=16).map(lambda b: b + bytes(-len(b) & 3)),
    ),
)
# An unknown policy's data is kept raw; the TLV's own padding cannot be told from data, so
# strategies keep it a multiple of 4 (RSPLIB's policies are all u32 fields anyway).

pool_elements = st.builds(
    PoolElement,
    u32,
    u32,
    u32,
    transports,
    policies,
    st.one_of(st.none(), sctp_transports()),
)
causes = st.builds(
    ErrorCause,
    st.one_of(st.sampled_from(Cause), u16),
    st.binary(max_size=24),
)
operation_errors = st.lists(causes, min_size=1, max_size=3).map(
    lambda cs: OperationError(tuple(cs))
)
server_infos = st.builds(ServerInformation, u32, sctp_transports())
opt_error = st.one_of(st.none(), operation_errors)
pe_tuple = st.lists(pool_elements, max_size=3).map(tuple)

ASAP: dict[type[Message], st.SearchStrategy[Message]] = {
    Registration: st.builds(Registration, pool_handle=pool_handles, pool_element=pool_elements),
    Deregistration: st.builds(Deregistration, pool_handle=pool_handles, pe_id=u32),
    RegistrationResponse: st.builds(
        RegistrationResponse,
        pool_handle=pool_handles,
        pe_id=u32,
        reject=st.booleans(),
        error=opt_error,
    ),
    DeregistrationResponse: st.builds(
        DeregistrationResponse, pool_handle=pool_handles, pe_id=u32, error=opt_error
    ),
    HandleResolution: st.builds(
        HandleResolution,
        pool_handle=pool_handles,
        items=st.one_of(st.none(), u32),
        subscribe=st.booleans(),
    ),
    HandleResolutionResponse: st.builds(
        HandleResolutionResponse,
        pool_handle=pool_handles,
        policy=st.one_of(st.none(), policies),
        pool_elements=pe_tuple,
        error=opt_error,
        accept_updates=st.booleans(),
    ),
    EndpointKeepAlive: st.builds(
        EndpointKeepAlive,
        server_id=u32,
        pool_handle=pool_handles,
        pe_id=st.one_of(st.none(), u32),
        home=st.booleans(),
    ),
    EndpointKeepAliveAck: st.builds(EndpointKeepAliveAck, pool_handle=pool_handles, pe_id=u32),
    EndpointUnreachable: st.builds(EndpointUnreachable, pool_handle=pool_handles, pe_id=u32),
    ServerAnnounce: st.builds(
        ServerAnnounce, server_id=u32, transports=st.lists(transports, max_size=3).map(tuple)
    ),
    Cookie: st.builds(Cookie, cookie=st.binary(max_size=64)),
    CookieEcho: st.builds(CookieEcho, cookie=st.binary(max_size=64)),
    BusinessCard: st.builds(
        BusinessCard,
        pool_handle=pool_handles,
        policy=st.one_of(st.none(), policies),
        pool_elements=pe_tuple,
    ),
    AsapError: st.builds(AsapError, error=operation_errors),
}
ids = {"sender_id": u32, "receiver_id": u32}
ENRP: dict[type[Message], st.SearchStrategy[Message]] = {
    Presence: st.builds(
        Presence,
        **ids,
        pe_checksum=u16,
        server_information=st.one_of(st.none(), server_infos),
        reply_required=st.booleans(),
    ),
    HandleTableRequest: st.builds(HandleTableRequest, **ids, own_children_only=st.booleans()),
    HandleTableResponse: st.builds(
        HandleTableResponse,
        **ids,
        entries=st.lists(
            st.builds(
                PoolEntry, pool_handles, st.lists(pool_elements, min_size=1, max_size=2).map(tuple)
            ),
            max_size=2,
        ).map(tuple),
        reject=st.booleans(),
        more_to_send=st.booleans(),
    ),
    HandleUpdate: st.builds(
        HandleUpdate,
        **ids,
        action=st.sampled_from(UpdateAction),
        pool_handle=pool_handles,
        pool_element=pool_elements,
        takeover_suggested=st.booleans(),
    ),
    ListRequest: st.builds(ListRequest, **ids),
    ListResponse: st.builds(
        ListResponse,
        **ids,
        servers=st.lists(server_infos, max_size=3).map(tuple),
        reject=st.booleans(),
    ),
    InitTakeover: st.builds(InitTakeover, **ids, target_id=u32),
    InitTakeoverAck: st.builds(InitTakeoverAck, **ids, target_id=u32),
    TakeoverServer: st.builds(TakeoverServer, **ids, target_id=u32),
    EnrpError: st.builds(EnrpError, **ids, error=operation_errors),
}
STRATEGIES = {**ASAP, **ENRP}
messages: st.SearchStrategy[Message] = st.one_of(*STRATEGIES.values())
