"""Handlespace operations, consistency causes, ownership, paging and checksums."""

from __future__ import annotations

import ipaddress
import random
import struct
from typing import Any

import pytest

from rserpool.handlespace import (
    PoolElement,
    PoolHandlespace,
    RegistrationRejected,
    RegistrationResult,
    compute_checksum,
)
from rserpool.wire.constants import Cause, ParamType, PolicyType
from rserpool.wire.policy import PoolMemberSelectionPolicy as Policy
from rserpool.wire.transports import OpaqueTransport, SctpTransport, Transport

RR = Policy(PolicyType.ROUND_ROBIN)
RR_HIGH = Policy(PolicyType.ROUND_ROBIN, weight=1)  # equal to none of the pool's
SCTP = ParamType.SCTP_TRANSPORT
USER_TRANSPORT = OpaqueTransport(b"user-transport")
ASAP_TRANSPORT = SctpTransport(3863, (ipaddress.ip_address("10.0.0.1"),))


def reg(
    hs: PoolHandlespace,
    handle: bytes,
    pe_id: int,
    *,
    owner: int = 1,
    life: int = 1000,
    policy: Policy = RR,
    protocol: int = SCTP,
    control: bool = False,
    now: int = 0,
    transport: Transport = USER_TRANSPORT,
) -> RegistrationResult:
    return hs.register(
        handle,
        pe_id,
        home_registrar_id=owner,
        registration_life=life,
        policy=policy,
        user_transport=transport,
        transport_protocol=protocol,
        control_channel=control,
        asap_transport=ASAP_TRANSPORT,
        now=now,
    )


@pytest.fixture
def hs() -> PoolHandlespace:
    return PoolHandlespace(random.Random(1))


# ----------------------------------------------------------------- checksums


def test_checksum_vectors_from_the_rsplib_notes() -> None:
    assert compute_checksum([(b"EchoPool", 0x12345678)]) == 0x29A5
    assert compute_checksum([(b"EchoPool", 0x12345678), (b"EchoPool", 1)]) == 0xBBF5
    assert compute_checksum([(b"Odd", 0x01020304)]) == 0x4895
    assert compute_checksum([]) == 0xFFFF


def rfc1071(pairs: list[tuple[bytes, int]]) -> int:
    """Big-endian one's-complement sum with an unbounded accumulator."""
    total = 0
    for handle, pe_id in pairs:
        data = handle + (b"\0" if len(handle) % 2 else b"") + struct.pack("!I", pe_id)
        total += sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def rsplib_little_endian(pairs: list[tuple[bytes, int]]) -> int:
    """RSPLIB on x86: host-order (little-endian) words, uint32 accumulator, raw 16-bit write."""
    acc = 0
    for handle, pe_id in pairs:
        data = handle + (b"\0" if len(handle) % 2 else b"") + struct.pack("!I", pe_id)
        acc = (acc + sum(struct.unpack(f"<{len(data) // 2}H", data))) & 0xFFFFFFFF
    while acc >> 16:
        acc = (acc & 0xFFFF) + (acc >> 16)
    return int.from_bytes(struct.pack("<H", ~acc & 0xFFFF), "big")


def test_checksum_equals_rfc1071_without_wraparound() -> None:
    rng = random.Random(2)
    pairs = [(b"pool-%d" % rng.randrange(50), rng.getrandbits(32)) for _ in range(300)]
    assert compute_checksum(pairs) == rfc1071(pairs) == rsplib_little_endian(pairs)


def test_checksum_reproduces_rsplib_32bit_wraparound() -> None:
    pairs = [(b"\xff" * 32, 0xFFFF0000 + i) for i in range(5000)]  # ~1.2e6 per PE: wraps
    assert compute_checksum(pairs) == rsplib_little_endian(pairs)
    assert compute_checksum(pairs) != rfc1071(pairs)  # the wrap does matter


def test_incremental_checksums_track_add_remove_and_owner_change(hs: PoolHandlespace) -> None:
    assert hs.ownership_checksum(7) == 0xFFFF
    reg(hs, b"EchoPool", 0x12345678, owner=7)
    assert hs.ownership_checksum(7) == 0x29A5
    reg(hs, b"EchoPool", 1, owner=7)
    reg(hs, b"Odd", 0x01020304, owner=8)
    assert hs.ownership_checksum(7) == 0xBBF5
    assert hs.ownership_checksum(8) == 0x4895
    assert hs.ownership_checksums() == {7: 0xBBF5, 8: 0x4895}
    everything = [(b"EchoPool", 0x12345678), (b"EchoPool", 1), (b"Odd", 0x01020304)]
    assert hs.handlespace_checksum() == compute_checksum(everything)
    reg(hs, b"EchoPool", 1, owner=8)  # re-registration at another home
    assert hs.ownership_checksum(7) == 0x29A5
    assert hs.ownership_checksum(8) == compute_checksum([(b"EchoPool", 1), (b"Odd", 0x01020304)])
    hs.deregister(b"EchoPool", 0x12345678)
    assert hs.ownership_checksum(7) == 0xFFFF
    assert hs.owners() == [8]


# ------------------------------------------------------ registration and causes


def test_register_then_update_keeps_identity(hs: PoolHandlespace) -> None:
    first = reg(hs, b"P", 5, now=100, life=3000)
    assert first.created and first.element.registration_time == 100
    pe = first.element
    assert (pe.pool_handle, pe.pe_id, pe.key) == (b"P", 5, (b"P", 5))
    assert pe.expiry == 3100 and hs.next_expiry() == 3100
    pe.unreachable_reports = 2
    again = reg(hs, b"P", 5, now=200, life=6000, owner=2, transport=OpaqueTransport(b"new"))
    assert not again.created and again.element is pe
    assert pe.registration_time == 100 and pe.last_update == 200
    assert pe.user_transport == OpaqueTransport(b"new") and pe.home_registrar_id == 2
    assert pe.unreachable_reports == 0 and pe.expiry == 6200 and hs.next_expiry() == 6200
    assert len(hs) == 1 and hs.find(b"P", 5) is pe and hs.find(b"P", 6) is None
    assert "PoolElement(b'P', 0x00000005" in repr(pe)


@pytest.mark.parametrize(
    "change",
    [{"life": 2000}, {"owner": 2}, {"transport": OpaqueTransport(b"new")}, {"policy": RR_HIGH}],
)
def test_a_change_drops_the_cached_wire_form(hs: PoolHandlespace, change: dict[str, Any]) -> None:
    pe = reg(hs, b"P", 5).element
    cached = b"cached"
    pe.encoded_element = cached
    reg(hs, b"P", 5, now=10)  # the same values again: still valid
    assert pe.encoded_element is cached
    reg(hs, b"P", 5, now=20, **change)
    assert pe.encoded_element is None


def test_take_over_drops_the_cached_wire_form(hs: PoolHandlespace) -> None:
    pe = reg(hs, b"P", 5, owner=1).element
    cached = b"cached"
    pe.encoded_element = cached
    hs.take_over(1, 2)
    assert pe.encoded_element is None


@pytest.mark.parametrize(
    ("change", "cause"),
    [
        ({"protocol": ParamType.TCP_TRANSPORT}, Cause.RSPLIB_WRONG_PROTOCOL),
        ({"control": True}, Cause.INCONSISTENT_DATA_CONTROL_CONFIGURATION),
        ({"policy": Policy(PolicyType.LEAST_USED)}, Cause.INCONSISTENT_POOLING_POLICY),
    ],
)
def test_first_pe_fixes_the_pool_settings(
    hs: PoolHandlespace, change: dict[str, object], cause: Cause
) -> None:
    reg(hs, b"P", 1)
    for pe_id in (2, 1):  # a new PE and a re-registration alike
        with pytest.raises(RegistrationRejected) as info:
            reg(hs, b"P", pe_id, **change)  # type: ignore[arg-type]
        assert info.value.cause == cause
    assert len(hs) == 1 and hs.find(b"P", 1) is not None


def test_rsplib_check_order_protocol_before_control_before_policy(hs: PoolHandlespace) -> None:
    reg(hs, b"P", 1)
    with pytest.raises(RegistrationRejected) as info:
        reg(hs, b"P", 2, protocol=5, control=True, policy=Policy(PolicyType.RANDOM))
    assert info.value.cause == Cause.RSPLIB_WRONG_PROTOCOL
    with pytest.raises(RegistrationRejected) as info:
        reg(hs, b"P", 2, control=True, policy=Policy(PolicyType.RANDOM))
    assert info.value.cause == Cause.INCONSISTENT_DATA_CONTROL_CONFIGURATION


def test_invalid_ids_and_handles(hs: PoolHandlespace) -> None:
    with pytest.raises(RegistrationRejected) as info:
        reg(hs, b"P", 0)
    assert info.value.cause == Cause.RSPLIB_INVALID_ID and "0xf000" in str(info.value)
    for handle in (b"", b"x" * 33):
        with pytest.raises(RegistrationRejected) as info:
            reg(hs, handle, 1)
        assert info.value.cause == Cause.RSPLIB_INVALID_POOL_HANDLE
    assert len(hs) == 0 and list(hs.pools()) == []


def test_empty_pool_disappears_and_may_come_back_with_other_settings(
    hs: PoolHandlespace,
) -> None:
    reg(hs, b"P", 1)
    assert hs.deregister(b"P", 1) is not None
    assert hs.deregister(b"P", 1) is None
    assert hs.pool(b"P") is None and hs.select(b"P", 3) == []
    reg(hs, b"P", 2, policy=Policy(PolicyType.LEAST_USED), control=True)
    pool = hs.pool(b"P")
    assert pool is not None and pool.policy_type == PolicyType.LEAST_USED and pool.control_channel
    assert len(pool) == 1 and "LEAST_USED" in repr(pool)


# ------------------------------------------------------- timers, reports, owners


def test_expiry_order_and_cancellation(hs: PoolHandlespace) -> None:
    a = reg(hs, b"P", 1, life=300).element
    reg(hs, b"P", 2, life=100)
    reg(hs, b"Q", 3, life=200)
    hs.set_expiry(a, None)
    assert hs.next_expiry() == 100
    assert hs.expire(99) == []
    assert [pe.pe_id for pe in hs.expire(250)] == [2, 3]
    assert hs.next_expiry() is None and len(hs) == 1 and a.expiry is None
    hs.set_expiry(a, 1000)
    assert [pe.pe_id for pe in hs.expire(5000)] == [1]
    with pytest.raises(KeyError):
        hs.set_expiry(a, 10)


def test_register_without_timer(hs: PoolHandlespace) -> None:
    pe = hs.register(
        b"P",
        1,
        home_registrar_id=1,
        registration_life=10,
        policy=RR,
        user_transport=USER_TRANSPORT,
        transport_protocol=SCTP,
        control_channel=False,
        now=0,
        expiry=None,
    ).element
    assert pe.expiry is None and hs.next_expiry() is None and hs.expire(10**9) == []


def test_unreachable_reports_remove_at_threshold() -> None:
    hs = PoolHandlespace(random.Random(0), max_bad_pe_reports=3)
    reg(hs, b"P", 1)
    assert hs.report_unreachable(b"P", 1) is None
    assert hs.report_unreachable(b"P", 1) is None
    removed = hs.report_unreachable(b"P", 1)
    assert removed is not None and removed.unreachable_reports == 3
    assert len(hs) == 0 and hs.report_unreachable(b"P", 1) is None
    with pytest.raises(ValueError):
        PoolHandlespace(random.Random(0), max_bad_pe_reports=0)


def test_take_over_moves_ownership_and_checksum(hs: PoolHandlespace) -> None:
    for i in range(1, 6):
        reg(hs, b"P%d" % (i % 2), i, owner=10)
    reg(hs, b"P0", 99, owner=20)
    old = hs.ownership_checksum(10)
    assert hs.take_over(10, 10) == []
    assert hs.take_over(30, 20) == []
    moved = hs.take_over(10, 20)
    assert [pe.key for pe in moved] == sorted(pe.key for pe in moved) and len(moved) == 5
    assert all(pe.home_registrar_id == 20 for pe in moved)
    assert hs.owned_count(10) == 0 and hs.owned_count(20) == 6
    assert hs.ownership_checksum(10) == 0xFFFF != old
    assert hs.ownership_checksum(20) == compute_checksum(pe.key for pe in hs)
    assert hs.take_over(20, 30) and hs.elements_of_owner(30) == list(hs)


def test_paging_by_cursor_all_and_own_children(hs: PoolHandlespace) -> None:
    keys = []
    for n in range(40):
        handle = b"pool%02d" % (n % 7)
        reg(hs, handle, 1000 - n, owner=n % 3)
        keys.append((handle, 1000 - n))
    keys.sort()
    pages: list[PoolElement] = []
    cursor = None
    while page := hs.page(cursor, 6):
        assert len(page) <= 6
        pages += page
        cursor = page[-1].key
    assert [pe.key for pe in pages] == keys == [pe.key for pe in hs]
    own = hs.page(None, 1000, owner=1)
    assert [pe.key for pe in own] == [pe.key for pe in pages if pe.home_registrar_id == 1]
    assert hs.page(keys[-1], 5) == [] and hs.page(None, 0) == [] and hs.page(owner=9) == []
    assert [pe.key for pe in hs.page((b"pool03", 0), 2)] == keys[keys.index(min(
        k for k in keys if k[0] == b"pool03")):][:2]  # fmt: skip


def test_select_uses_the_pool_policy(hs: PoolHandlespace) -> None:
    for i in (1, 2, 3):
        reg(hs, b"P", i)
    assert [pe.pe_id for pe in hs.select(b"P", 2)] == [1, 2]
    assert [pe.pe_id for pe in hs.select(b"P", 2)] == [2, 3]
    assert [pe.pe_id for pe in hs.select(b"P", 5, max_increment=3)] == [3, 1, 2]
    assert [pe.pe_id for pe in hs.select(b"P", 1)] == [3]
    assert hs.select(b"P", 0) == []
