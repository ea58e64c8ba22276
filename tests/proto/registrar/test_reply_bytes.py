"""The bytes of the registrar's replies for a fixed handlespace, pinned.

The core answers Registrations and Handle Resolutions through fast paths (cached encoded Pool
Element parameters, a precompiled Registration Response); whatever they do, the replies must
stay byte for byte what the plain encoders produced when these bytes were recorded.
"""

from __future__ import annotations

import ipaddress
import random

from rserpool.proto.common import Endpoint, Send, TransportAddress
from rserpool.proto.registrar import RegistrarConfig, RegistrarCore
from rserpool.wire import (
    Deregistration,
    HandleResolution,
    HandleResolutionResponse,
    Message,
    PolicyType,
    PoolElement,
    PoolMemberSelectionPolicy,
    Registration,
    SctpTransport,
    TcpTransport,
    Transport,
    TransportUse,
)

A4 = ipaddress.ip_address("198.51.100.2")
A6 = ipaddress.ip_address("2001:db8::2")
PEER = TransportAddress((A4, A6), 5000)
ROUND_ROBIN = PoolMemberSelectionPolicy(PolicyType.ROUND_ROBIN)
LEAST_USED = PoolMemberSelectionPolicy(PolicyType.LEAST_USED, load=0x1000)
SCTP = SctpTransport(7000, (A4, A6), TransportUse.DATA_PLUS_CONTROL)
TCP = TcpTransport(8000, (A6,))

_PE = "000a003c000001{:02x}00000101000493e0000400241b58000100010008c63364020002001420010db8"
_PE += "0000000000000000000000020008000800000001"
GOLDEN = [  # (name, request, reply as hex)
    ("registration 1", "reg Golden 0x101", "030000180009000a476f6c64656e0000000e000800000101"),
    ("registration 2", "reg Golden 0x102", "030000180009000a476f6c64656e0000000e000800000102"),
    ("registration 3", "reg Golden 0x103", "030000180009000a476f6c64656e0000000e000800000103"),
    ("other pool", "reg Odd 0x2001", "030000180009000c4f646420706f6f6c000e000800002001"),
    (
        "rejected registration",
        "reg Golden 0x104 least-used",
        "030100200009000a476f6c64656e0000000e000800000104000c000800050004",
    ),
    (
        "resolution of 3",
        "resolve Golden 3",
        "060000cc0009000a476f6c64656e00000008000800000001"
        + "".join(_PE.format(i) for i in (1, 2, 3)),
    ),
    (
        "resolution, least used",
        "resolve Odd",
        "060000540009000c4f646420706f6f6c0008000c4000000100001000000a00380000200100000101"
        "000493e00005001c1f4000000002001420010db80000000000000000000000020008000c4000000100001000",
    ),
    ("unknown pool", "resolve Nowhere 1", "060000180009000b4e6f776865726500000c000800090004"),
    ("deregistration", "dereg Golden 0x102", "040000180009000a476f6c64656e0000000e000800000102"),
    (  # the cached encodings again, in round-robin order
        "resolution after a deregistration",
        "resolve Golden 3",
        "060000900009000a476f6c64656e00000008000800000001" + _PE.format(3) + _PE.format(1),
    ),
    (
        "and once more",
        "resolve Golden 3",
        "060000900009000a476f6c64656e00000008000800000001" + _PE.format(1) + _PE.format(3),
    ),
    ("re-registration", "reg Golden 0x101", "030000180009000a476f6c64656e0000000e000800000101"),
]


def _request(text: str) -> tuple[int, bytes]:
    """(association, encoded request) for one line of GOLDEN's request column."""
    verb, pool, *rest = text.split()
    handle = b"Odd pool" if pool == "Odd" else pool.encode()
    if verb == "reg":
        policy = LEAST_USED if pool == "Odd" or rest[1:] else ROUND_ROBIN
        transport: Transport = TCP if pool == "Odd" else SCTP
        pe = PoolElement(int(rest[0], 16), 0, 300_000, transport, policy)
        return 11, Registration(pool_handle=handle, pool_element=pe).encode()
    if verb == "resolve":
        items = int(rest[0]) if rest else None
        return 12, HandleResolution(pool_handle=handle, items=items).encode()
    return 11, Deregistration(pool_handle=handle, pe_id=int(rest[0], 16)).encode()


def test_replies_are_byte_identical() -> None:
    core = RegistrarCore(RegistrarConfig(server_id=0x101), random.Random(7), 0)
    for name, request, expected in GOLDEN:
        assoc_id, data = _request(request)
        core.receive(Endpoint.ASAP, assoc_id, 11, data, PEER, 1000)
        replies = [a.encode() for a in core.outgoing() if isinstance(a, Send)]
        core.events()
        assert replies == [bytes.fromhex(expected)], name


def _resolve(core: RegistrarCore, handle: bytes) -> HandleResolutionResponse:
    data = HandleResolution(pool_handle=handle, items=3).encode()
    core.receive(Endpoint.ASAP, 12, 11, data, PEER, 2000)
    (send,) = [a for a in core.outgoing() if isinstance(a, Send)]
    core.events()
    response = send.message
    assert isinstance(response, HandleResolutionResponse)
    assert send.encode() == Message.encode(response)  # cached bytes == the plain encoding
    return response


def test_a_changed_pe_is_answered_with_its_new_parameter() -> None:
    core = RegistrarCore(RegistrarConfig(server_id=0x101), random.Random(7), 0)
    for load, port, life in ((0x1000, 8000, 300_000), (0x2000, 8000, 300_000),
                             (0x2000, 8001, 300_000), (0x2000, 8001, 600_000)):  # fmt: skip
        policy = PoolMemberSelectionPolicy(PolicyType.LEAST_USED, load=load)
        pe = PoolElement(0x2001, 0, life, TcpTransport(port, (A6,)), policy)
        data = Registration(pool_handle=b"Odd pool", pool_element=pe).encode()
        core.receive(Endpoint.ASAP, 11, 11, data, PEER, 1000)
        core.outgoing()
        (answer,) = _resolve(core, b"Odd pool").pool_elements
        assert (answer.policy, answer.user_transport, answer.registration_life) == (
            policy,
            pe.user_transport,
            life,
        )
