"""Association setup pieces shared by the endpoint and the association (RFC 9260 §5):
checking an INIT or INIT ACK, applying its parameters' action bits, building the INIT ACK with
its State Cookie, and choosing an action for a COOKIE ECHO when a TCB exists (§5.2.4)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from rserpool.sctp.causes import ErrorCause
from rserpool.sctp.chunks import Init, InitAck
from rserpool.sctp.config import SctpConfig
from rserpool.sctp.constants import MIN_A_RWND, CauseCode, ParamType
from rserpool.sctp.cookie import CookieContents, CookieJar
from rserpool.sctp.params import (
    TLV_HEADER,
    AddressParameter,
    CookiePreservative,
    HostNameAddress,
    IPAddress,
    Parameter,
    StateCookie,
    UnknownParameter,
    UnrecognizedParameter,
)


class InitProblem(enum.Enum):
    DISCARD = "discard silently"
    ABORT = "answer with ABORT"


@dataclass(frozen=True, slots=True)
class InitCheck:
    """What an INIT or INIT ACK said, once its parameters' action bits were applied."""

    problem: InitProblem | None
    causes: tuple[ErrorCause, ...] = ()
    addresses: tuple[IPAddress, ...] = ()
    unrecognized: tuple[bytes, ...] = ()  # whole TLVs to report
    cookie_increment: int = 0
    cookie: bytes | None = None


def check_init(chunk: Init, source: IPAddress) -> InitCheck:
    """§3.3.2/§3.3.3: the mandatory fields, then the parameters in order (§3.2.1)."""
    if chunk.initiate_tag == 0:
        if isinstance(chunk, InitAck):  # §3.3.3: an INIT ACK with tag 0 is aborted
            return InitCheck(
                InitProblem.ABORT, (ErrorCause(CauseCode.INVALID_MANDATORY_PARAMETER),)
            )
        return InitCheck(InitProblem.DISCARD)
    if chunk.a_rwnd < MIN_A_RWND or chunk.outbound_streams == 0 or chunk.inbound_streams == 0:
        return InitCheck(InitProblem.ABORT, (ErrorCause(CauseCode.INVALID_MANDATORY_PARAMETER),))
    addresses: list[IPAddress] = [source]
    unrecognized: list[bytes] = []
    increment = 0
    cookie = None
    for p in chunk.parameters:
        if isinstance(p, HostNameAddress):  # §3.3.2.1.4: deprecated, MUST be refused
            cause = ErrorCause(CauseCode.UNRESOLVABLE_ADDRESS, p.encode())
            return InitCheck(InitProblem.ABORT, (cause,))
        if isinstance(p, AddressParameter):
            if _usable(p.address, source) and p.address not in addresses:
                addresses.append(p.address)
        elif isinstance(p, CookiePreservative):
            increment = p.increment
        elif isinstance(p, StateCookie) and isinstance(chunk, InitAck):
            cookie = p.cookie
        elif isinstance(p, UnknownParameter):  # ECN Capable (0x8000) among them: skip
            if p.action.reports:
                unrecognized.append(TLV_HEADER.pack(p.type, 4 + len(p.value)) + p.value)
            if p.action.stops:
                break
        # other known parameters (Supported Address Types: we take every type) are ignored
    if isinstance(chunk, InitAck) and cookie is None:
        cause = ErrorCause.missing_mandatory((ParamType.STATE_COOKIE,))
        return InitCheck(InitProblem.ABORT, (cause,))
    return InitCheck(None, (), tuple(addresses), tuple(unrecognized), increment, cookie)


def _usable(address: IPAddress, source: IPAddress) -> bool:
    """Whether a listed peer address can be a path of an association whose INIT (or INIT
    ACK) came from ``source``. Loopback addresses (127/8, ::1) never leave a host (RFC 1122
    §3.2.1.3, RFC 4291 §2.5.3): from a loopback source the peer is this host, reachable on
    loopback only, though stacks such as usrsctp list every address of the machine; from
    any other source a listed loopback address would be our own."""
    if address.is_unspecified or address.is_multicast:
        return False
    return address.is_loopback == source.is_loopback


def address_parameters(addresses: tuple[IPAddress, ...]) -> tuple[Parameter, ...]:
    return tuple(AddressParameter(a) for a in addresses)


def make_init_ack(
    config: SctpConfig,
    jar: CookieJar,
    now: int,
    init: Init,
    check: InitCheck,
    *,
    local_tag: int,
    local_tsn: int,
    local_port: int,
    peer_port: int,
    local_addresses: tuple[IPAddress, ...],
    tie_tags: tuple[int, int] = (0, 0),
) -> InitAck:
    """The INIT ACK answering ``init``, its cookie holding all the association needs."""
    increment = min(check.cookie_increment, config.max_cookie_life_increment)
    contents = CookieContents(
        created=now,
        lifespan=config.valid_cookie_life + increment,
        local_tag=local_tag,
        peer_tag=init.initiate_tag,
        local_tie_tag=tie_tags[0],
        peer_tie_tag=tie_tags[1],
        local_port=local_port,
        peer_port=peer_port,
        local_initial_tsn=local_tsn,
        peer_initial_tsn=init.initial_tsn,
        peer_a_rwnd=init.a_rwnd,
        outbound_streams=min(config.outbound_streams, init.inbound_streams),
        inbound_streams=min(config.inbound_streams, init.outbound_streams),
        peer_addresses=check.addresses,
    )
    params: list[Parameter] = [StateCookie(jar.make(contents))]
    params.extend(address_parameters(local_addresses))
    params.extend(UnrecognizedParameter(raw) for raw in check.unrecognized)
    return InitAck(
        local_tag,
        config.a_rwnd,
        config.outbound_streams,
        config.inbound_streams,
        local_tsn,
        tuple(params),
    )


class CookieCase(enum.Enum):
    """RFC 9260 §5.2.4, Table 12."""

    RESTART = "A"
    COLLISION = "B"
    LATE = "C"
    DUPLICATE = "D"


def cookie_case(
    cookie: CookieContents, my_tag: int, peer_tag: int, tie_tags: tuple[int, int]
) -> CookieCase | None:
    """Which row of Table 12 the cookie falls in (None: discard silently)."""
    local_m = cookie.local_tag == my_tag
    peer_m = cookie.peer_tag == peer_tag and peer_tag != 0
    if local_m and peer_m:
        return CookieCase.DUPLICATE
    if not local_m and not peer_m:
        ties = (cookie.local_tie_tag, cookie.peer_tie_tag)
        if ties != (0, 0) and ties == tie_tags:
            return CookieCase.RESTART
        return None
    if local_m:
        return CookieCase.COLLISION
    if cookie.local_tie_tag == 0 and cookie.peer_tie_tag == 0:
        return CookieCase.LATE
    return None
