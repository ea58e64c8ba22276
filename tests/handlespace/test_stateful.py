"""The handlespace against a plain dict model (Hypothesis RuleBasedStateMachine)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from rserpool.handlespace import PoolHandlespace, RegistrationRejected, compute_checksum
from rserpool.wire.constants import Cause, ParamType, PolicyType
from rserpool.wire.policy import PoolMemberSelectionPolicy as Policy
from rserpool.wire.transports import OpaqueTransport

HANDLES = st.sampled_from([b"A", b"BB", b"ccc", b"dddd"])
PE_IDS = st.integers(0, 6)
OWNERS = st.integers(1, 4)
POLICY_TYPES = st.sampled_from(
    [PolicyType.ROUND_ROBIN, PolicyType.LEAST_USED_DEGRADATION, PolicyType.WEIGHTED_RANDOM]
)
PROTOCOLS = st.sampled_from([ParamType.SCTP_TRANSPORT, ParamType.TCP_TRANSPORT])
TRANSPORTS = st.sampled_from([OpaqueTransport(bytes([i])) for i in range(4)])


@dataclass
class ModelPE:
    owner: int
    deadline: int
    policy_type: PolicyType
    protocol: int
    control: bool
    transport: OpaqueTransport


Key = tuple[bytes, int]


class HandlespaceMachine(RuleBasedStateMachine):
    @initialize(threshold=st.integers(1, 3))
    def setup(self, threshold: int) -> None:
        self.hs = PoolHandlespace(random.Random(0), max_bad_pe_reports=threshold)
        self.threshold = threshold
        self.model: dict[Key, ModelPE] = {}
        self.reports: dict[Key, int] = {}
        self.now = 0

    def pool_of(self, handle: bytes) -> list[Key]:
        return [k for k in self.model if k[0] == handle]

    def drop(self, key: Key) -> None:
        del self.model[key]
        self.reports.pop(key, None)

    @rule(
        handle=HANDLES,
        pe_id=PE_IDS,
        owner=OWNERS,
        life=st.integers(1, 50),
        policy_type=POLICY_TYPES,
        protocol=PROTOCOLS,
        control=st.booleans(),
        transport=TRANSPORTS,
        weight=st.integers(0, 3),
    )
    def register(
        self,
        handle: bytes,
        pe_id: int,
        owner: int,
        life: int,
        policy_type: PolicyType,
        protocol: int,
        control: bool,
        transport: OpaqueTransport,
        weight: int,
    ) -> None:
        members = [self.model[k] for k in self.pool_of(handle)]
        expected: Cause | None = None
        if pe_id == 0:
            expected = Cause.RSPLIB_INVALID_ID
        elif members and members[0].protocol != protocol:
            expected = Cause.RSPLIB_WRONG_PROTOCOL
        elif members and members[0].control != control:
            expected = Cause.INCONSISTENT_DATA_CONTROL_CONFIGURATION
        elif members and members[0].policy_type != policy_type:
            expected = Cause.INCONSISTENT_POOLING_POLICY
        try:
            result = self.hs.register(
                handle,
                pe_id,
                home_registrar_id=owner,
                registration_life=life,
                policy=Policy(policy_type, weight=weight, load=weight, load_degradation=weight),
                user_transport=transport,
                transport_protocol=protocol,
                control_channel=control,
                now=self.now,
            )
        except RegistrationRejected as rejected:
            assert rejected.cause == expected
            return
        assert expected is None
        assert result.created == ((handle, pe_id) not in self.model)
        self.model[(handle, pe_id)] = ModelPE(
            owner, self.now + life, policy_type, protocol, control, transport
        )
        self.reports.pop((handle, pe_id), None)

    @rule(handle=HANDLES, pe_id=PE_IDS)
    def deregister(self, handle: bytes, pe_id: int) -> None:
        removed = self.hs.deregister(handle, pe_id)
        assert (removed is not None) == ((handle, pe_id) in self.model)
        if removed is not None:
            self.drop((handle, pe_id))

    @rule(step=st.integers(0, 30))
    def expire(self, step: int) -> None:
        self.now += step
        removed = self.hs.expire(self.now)
        due = {k for k, pe in self.model.items() if pe.deadline <= self.now}
        assert {pe.key for pe in removed} == due
        assert [pe.expiry for pe in removed] == [None] * len(removed)
        for key in due:
            self.drop(key)

    @rule(old=OWNERS, new=OWNERS)
    def take_over(self, old: int, new: int) -> None:
        moved = self.hs.take_over(old, new)
        expected = sorted(k for k, pe in self.model.items() if pe.owner == old)
        assert [pe.key for pe in moved] == ([] if old == new else expected)
        for key in expected:
            self.model[key].owner = new

    @rule(handle=HANDLES, pe_id=PE_IDS)
    def report_unreachable(self, handle: bytes, pe_id: int) -> None:
        key = (handle, pe_id)
        removed = self.hs.report_unreachable(handle, pe_id)
        if key not in self.model:
            assert removed is None
            return
        self.reports[key] = self.reports.get(key, 0) + 1
        assert (removed is not None) == (self.reports[key] >= self.threshold)
        if removed is not None:
            self.drop(key)

    @rule(handle=HANDLES, n=st.integers(0, 8), max_increment=st.integers(0, 3))
    def select(self, handle: bytes, n: int, max_increment: int) -> None:
        chosen = self.hs.select(handle, n, max_increment)
        keys = [pe.key for pe in chosen]
        members = self.pool_of(handle)
        assert len(set(keys)) == len(keys) and set(keys) <= set(members)
        positive = [k for k in members if self.model[k].policy_type != PolicyType.WEIGHTED_RANDOM]
        positive += [
            k
            for k in members
            if self.model[k].policy_type == PolicyType.WEIGHTED_RANDOM
            and self.hs.find(*k).policy.weight > 0  # type: ignore[union-attr]
        ]
        if not positive:  # all weights 0: the PEs drawn with equal chances (RFC 5356 §3.2)
            positive = members
        assert len(keys) == min(n, len(positive))

    @invariant()
    def same_contents(self) -> None:
        assert sorted(self.model) == [pe.key for pe in self.hs]
        assert len(self.hs) == len(self.model)
        for key, expected in self.model.items():
            pe = self.hs.find(*key)
            assert pe is not None
            assert pe.home_registrar_id == expected.owner
            assert pe.expiry == expected.deadline
            assert pe.user_transport == expected.transport
        pools = {pool.handle: len(pool) for pool in self.hs.pools()}
        assert pools == {h: len(self.pool_of(h)) for h in {k[0] for k in self.model}}

    @invariant()
    def timers_and_checksums(self) -> None:
        deadlines = [pe.deadline for pe in self.model.values()]
        assert self.hs.next_expiry() == (min(deadlines) if deadlines else None)
        owners = {pe.owner for pe in self.model.values()}
        assert sorted(self.hs.owners()) == sorted(owners)
        for owner in [*owners, 99]:
            mine = [k for k, pe in self.model.items() if pe.owner == owner]
            assert self.hs.ownership_checksum(owner) == compute_checksum(mine)
            assert [pe.key for pe in self.hs.page(None, 100, owner=owner)] == sorted(mine)
        assert self.hs.handlespace_checksum() == compute_checksum(self.model)


HandlespaceMachine.TestCase.settings = settings(
    max_examples=300, stateful_step_count=40, deadline=None
)
TestHandlespaceMachine = HandlespaceMachine.TestCase
