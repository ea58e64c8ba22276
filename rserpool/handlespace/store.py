"""The handlespace (RSPLIB ``PoolHandlespaceManagement``): pools, PEs and their indexes, sans-IO.

Indexes, each kept incrementally so that no operation walks the handlespace:

* by pool handle (dict) and, within a pool, by PE id (dict) plus the policy's selection storage;
* all PEs in ``(pool handle, PE id)`` order, and the same per owner (home registrar), for
  cursor paging of ENRP Handle Table Responses;
* per-PE deadlines (:class:`~rserpool.handlespace.expiry.ExpiryQueue`);
* per-owner and total checksum accumulators (:mod:`rserpool.handlespace.checksum`).

``now`` and every deadline are integer milliseconds; randomness comes from the injected
:class:`random.Random`.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from typing import Literal

from rserpool.handlespace.checksum import (
    INITIAL_CHECKSUM,
    checksum_add,
    checksum_finish,
    checksum_sub,
    handle_accumulator,
    pe_accumulator,
)
from rserpool.handlespace.expiry import ExpiryQueue
from rserpool.handlespace.model import (
    Key,
    Pool,
    PoolElement,
    RegistrationRejected,
    RegistrationResult,
)
from rserpool.handlespace.sortedkeys import SortedElements
from rserpool.policies import SelectionStorage, new_selection
from rserpool.wire.constants import (
    MAX_ADDRESSES_PER_TRANSPORT,
    MAX_POOL_HANDLE_SIZE,
    Cause,
    PolicyType,
)
from rserpool.wire.params import OpaqueTransport, SctpTransport, Transport
from rserpool.wire.policy import PoolMemberSelectionPolicy

MAX_BAD_PE_REPORTS = 3  # RSPLIB registrar default (-maxbadpereports)
#: The largest Opaque Transport a PE may store (bytes of its value). With at most
#: ``MAX_ADDRESSES_PER_TRANSPORT`` addresses per transport, no unknown parameters kept, and a
#: pool handle of at most 32 bytes, a stored PE encodes to at most
#: :data:`MAX_STORED_PE_SIZE` bytes: it fits every message that carries it (Handle Update,
#: Handle Resolution Response, Handle Table Response), whatever anyone sent.
MAX_OPAQUE_TRANSPORT_SIZE = 1024
#: 16 (PE fixed part) + 2 × (8 + 64 × 20) (user and ASAP transports, IPv6) + 36 (policy).
MAX_STORED_PE_SIZE = 16 + 2 * (8 + MAX_ADDRESSES_PER_TRANSPORT * 20) + 36


def storable(transport: Transport) -> Transport:
    """``transport`` as the handlespace keeps it: unknown (skip-bit) parameters dropped.

    RFC 5354 §3: a receiver *skips* such parameters; it need not keep them, and it must not
    let them grow what it stores and forwards. Raises :class:`RegistrationRejected` when the
    transport is too large to store (too many addresses, a too-long opaque value).
    """
    if isinstance(transport, OpaqueTransport):
        if len(transport.data) > MAX_OPAQUE_TRANSPORT_SIZE:
            raise RegistrationRejected(Cause.LACK_OF_RESOURCES, "opaque transport too long")
        return transport
    if not 1 <= len(transport.addresses) <= MAX_ADDRESSES_PER_TRANSPORT:
        raise RegistrationRejected(Cause.RSPLIB_INVALID_ADDRESSES)
    if transport.extensions:
        return dataclasses.replace(transport, extensions=())
    return transport


class _Ownership:
    """The PEs one registrar is home for, in key order, plus the checksum accumulator."""

    __slots__ = ("checksum", "elements")

    def __init__(self) -> None:
        self.elements = SortedElements()
        self.checksum = INITIAL_CHECKSUM


class PoolHandlespace:
    """Pools of pool elements, with ownership, deadlines, checksums and selection."""

    def __init__(self, rng: random.Random, *, max_bad_pe_reports: int = MAX_BAD_PE_REPORTS):
        if max_bad_pe_reports < 1:
            raise ValueError("max_bad_pe_reports must be at least 1")
        self.rng = rng
        self.max_bad_pe_reports = max_bad_pe_reports
        self._pools: dict[bytes, Pool] = {}
        self._sorted = SortedElements()  # all PEs in key order
        self._owners: dict[int, _Ownership] = {}
        self._expiry = ExpiryQueue()
        self._checksum = INITIAL_CHECKSUM
        self._life = self._now = 0  # the last registration life and time stored (``register``)

    # ------------------------------------------------------------------ queries

    def __len__(self) -> int:
        """Number of PEs."""
        return len(self._sorted)

    def __iter__(self) -> Iterator[PoolElement]:
        """All PEs in (pool handle, PE id) order (for dumps)."""
        return iter(self._sorted)

    def pools(self) -> Iterator[Pool]:
        """All pools, in no particular order."""
        return iter(self._pools.values())

    def pool(self, pool_handle: bytes) -> Pool | None:
        return self._pools.get(pool_handle)

    def find(self, pool_handle: bytes, pe_id: int) -> PoolElement | None:
        pool = self._pools.get(pool_handle)
        return None if pool is None else pool.elements.get(pe_id)

    def owners(self) -> list[int]:
        """Registrar ids that are home for at least one PE."""
        return list(self._owners)

    def owned_count(self, registrar_id: int) -> int:
        ownership = self._owners.get(registrar_id)
        return 0 if ownership is None else len(ownership.elements)

    def page(
        self, after: Key | None = None, limit: int = 128, *, owner: int | None = None
    ) -> list[PoolElement]:
        """Up to ``limit`` PEs after the ``(pool handle, PE id)`` cursor, in key order.

        With ``owner``, only PEs whose home is that registrar (ENRP "own children only").
        """
        if owner is None:
            return self._sorted.after(after, limit)
        ownership = self._owners.get(owner)
        return [] if ownership is None else ownership.elements.after(after, limit)

    def elements_of_owner(self, registrar_id: int) -> list[PoolElement]:
        ownership = self._owners.get(registrar_id)
        if ownership is None:
            return []
        return list(ownership.elements)

    # ---------------------------------------------------------------- checksums

    def ownership_checksum(self, registrar_id: int) -> int:
        """PE checksum over the PEs whose home is ``registrar_id`` (0xffff if none)."""
        ownership = self._owners.get(registrar_id)
        return checksum_finish(INITIAL_CHECKSUM if ownership is None else ownership.checksum)

    def ownership_checksums(self) -> dict[int, int]:
        return {owner: checksum_finish(o.checksum) for owner, o in self._owners.items()}

    def handlespace_checksum(self) -> int:
        """PE checksum over the whole handlespace."""
        return checksum_finish(self._checksum)

    # ------------------------------------------------------------------- timers

    def next_expiry(self) -> int | None:
        """The earliest PE deadline (ms), or None."""
        return self._expiry.next_deadline()

    def set_expiry(self, pe: PoolElement, deadline: int | None) -> None:
        """(Re)arm or cancel a PE's deadline; the PE must be in the handlespace."""
        if self.find(pe.pool_handle, pe.pe_id) is not pe:
            raise KeyError(pe.key)
        self._expiry.set(pe, deadline)

    def expire(self, now: int) -> list[PoolElement]:
        """Remove and return every PE whose deadline is at or before ``now``."""
        due = self._expiry.pop_due(now)
        for pe in due:
            self._remove(pe)
        return due

    # ------------------------------------------------------------ registration

    def register(
        self,
        pool_handle: bytes,
        pe_id: int,
        *,
        home_registrar_id: int,
        registration_life: int,
        policy: PoolMemberSelectionPolicy,
        user_transport: Transport,
        transport_protocol: int,
        control_channel: bool,
        asap_transport: SctpTransport | None = None,
        now: int,
        expiry: int | Literal["life"] | None = "life",
    ) -> RegistrationResult:
        """Add a PE, or update it if ``pe_id`` is already in the pool (re-registration).

        ``expiry``: the PE's deadline in ms; ``"life"`` (default) = ``now + registration_life``,
        None = no timer (e.g. a home PE supervised by keep-alives instead).

        Transports are stored without their unknown parameters (:func:`storable`).

        Raises :class:`RegistrationRejected` (checked in RSPLIB's order): PE id 0 → 0xf000,
        bad pool handle → 0xf004, a transport too large to store → 0xf005 (addresses) or
        0x0006 (opaque), unsupported policy → 0x100b, a transport protocol other than
        the pool's → 0x100a, a control-channel flag other than the pool's → 0x0008, a policy
        type other than the pool's → 0x0005.
        """
        if pe_id == 0:
            raise RegistrationRejected(Cause.RSPLIB_INVALID_ID, "PE id 0")
        if not 1 <= len(pool_handle) <= MAX_POOL_HANDLE_SIZE:
            raise RegistrationRejected(Cause.RSPLIB_INVALID_POOL_HANDLE)
        user_transport = storable(user_transport)
        if asap_transport is not None:
            stored = storable(asap_transport)
            assert isinstance(stored, SctpTransport)
            asap_transport = stored
        pool = self._pools.get(pool_handle)
        if pool is None:
            try:
                selection: SelectionStorage[PoolElement] = new_selection(policy.policy_type)
            except KeyError:
                raise RegistrationRejected(Cause.RSPLIB_UNSUPPORTED_POOL_POLICY) from None
            pool = Pool(
                pool_handle,
                PolicyType(policy.policy_type),
                transport_protocol,
                control_channel,
                selection,
                handle_accumulator(pool_handle),
            )
        else:
            pool_handle = pool.handle  # one bytes object per pool, not one per PE
            if transport_protocol != pool.transport_protocol:
                raise RegistrationRejected(Cause.RSPLIB_WRONG_PROTOCOL)
            if control_channel != pool.control_channel:
                raise RegistrationRejected(Cause.INCONSISTENT_DATA_CONTROL_CONFIGURATION)
            if policy.policy_type != pool.policy_type:
                raise RegistrationRejected(Cause.INCONSISTENT_POOLING_POLICY)

        # PEs mostly share their life, and registrations come in bursts within the same ms:
        # one int object for a run of equal values, not one per PE (saves up to 2 × 32 B).
        if registration_life == self._life:
            registration_life = self._life
        else:
            self._life = registration_life
        if now == self._now:
            now = self._now
        else:
            self._now = now
        deadline = now + registration_life if expiry == "life" else expiry
        pe = pool.elements.get(pe_id)
        if pe is not None:
            if not (  # the same values (shared objects): the replies' cached form still holds
                pe.registration_life == registration_life
                and pe.user_transport is user_transport
                and pe.policy is policy
                and pe.home_registrar_id == home_registrar_id
            ):
                pe.encoded_element = None
            if pe.home_registrar_id != home_registrar_id:
                self._disown(pe, pool)
                pe.home_registrar_id = home_registrar_id
                self._own(pe, pool)
            pe.registration_life = registration_life
            pe.user_transport = user_transport
            pe.asap_transport = asap_transport
            pe.last_update = now
            pe.unreachable_reports = 0
            pool.selection.update(pe, policy)
            self._expiry.set(pe, deadline)
            return RegistrationResult(pe, False)

        pe = PoolElement(
            pool_handle,
            pe_id,
            home_registrar_id,
            registration_life,
            policy,
            user_transport,
            asap_transport,
            now,
        )
        self._pools[pool_handle] = pool
        pool.elements[pe_id] = pe
        pool.selection.add(pe)
        self._sorted.add(pe)
        self._own(pe, pool)
        self._checksum = checksum_add(self._checksum, pe_accumulator(pool.handle_checksum, pe_id))
        self._expiry.set(pe, deadline)
        return RegistrationResult(pe, True)

    def deregister(self, pool_handle: bytes, pe_id: int) -> PoolElement | None:
        """Remove a PE; returns it, or None if it was not there."""
        pe = self.find(pool_handle, pe_id)
        if pe is not None:
            self._expiry.set(pe, None)
            self._remove(pe)
        return pe

    def count_unreachable(self, pool_handle: bytes, pe_id: int) -> int | None:
        """Count an Endpoint Unreachable report without removing anything; returns the PE's
        count (None: unknown PE). The registrar decides what the count means (RFC 5352 §3.5:
        removal only after a failed Endpoint Keep Alive, see ``proto.registrar.asap``)."""
        pe = self.find(pool_handle, pe_id)
        if pe is None:
            return None
        pe.unreachable_reports += 1
        return pe.unreachable_reports

    def report_unreachable(self, pool_handle: bytes, pe_id: int) -> PoolElement | None:
        """Count an Endpoint Unreachable report; at ``max_bad_pe_reports`` the PE is removed.

        Returns the removed PE, or None (unknown PE, or still below the threshold; the count is
        ``pe.unreachable_reports``).
        """
        pe = self.find(pool_handle, pe_id)
        if pe is None:
            return None
        pe.unreachable_reports += 1
        if pe.unreachable_reports < self.max_bad_pe_reports:
            return None
        self._expiry.set(pe, None)
        self._remove(pe)
        return pe

    def take_over(self, old_owner: int, new_owner: int) -> list[PoolElement]:
        """Make ``new_owner`` the home of every PE of ``old_owner`` (ENRP takeover, RFC 5353
        §3.9); returns the PEs taken over, in key order."""
        old = self._owners.pop(old_owner, None)
        if old is None or old_owner == new_owner:
            if old is not None:
                self._owners[old_owner] = old
            return []
        moved = list(old.elements)
        for pe in moved:
            pe.home_registrar_id = new_owner
            pe.encoded_element = None
        new = self._owners.get(new_owner)
        if new is None:
            self._owners[new_owner] = old
        else:
            for pe in moved:
                new.elements.add(pe)
            new.checksum = checksum_add(new.checksum, old.checksum)
        return moved

    # ---------------------------------------------------------------- selection

    def select(self, pool_handle: bytes, n: int, max_increment: int = 0) -> list[PoolElement]:
        """Handle resolution: up to ``n`` distinct PEs by the pool's policy ([] if no pool).

        ``max_increment`` is RSPLIB's MaxIncrement (0 = the policy default).
        """
        pool = self._pools.get(pool_handle)
        if pool is None or n <= 0:
            return []
        return pool.selection.select(n, self.rng, max_increment)

    # ---------------------------------------------------------------- internals

    def _own(self, pe: PoolElement, pool: Pool) -> None:
        ownership = self._owners.get(pe.home_registrar_id)
        if ownership is None:
            ownership = self._owners[pe.home_registrar_id] = _Ownership()
        ownership.elements.add(pe)
        ownership.checksum = checksum_add(
            ownership.checksum, pe_accumulator(pool.handle_checksum, pe.pe_id)
        )

    def _disown(self, pe: PoolElement, pool: Pool) -> None:
        ownership = self._owners[pe.home_registrar_id]
        ownership.elements.remove(pe)
        if not ownership.elements:
            del self._owners[pe.home_registrar_id]
        else:
            ownership.checksum = checksum_sub(
                ownership.checksum, pe_accumulator(pool.handle_checksum, pe.pe_id)
            )

    def _remove(self, pe: PoolElement) -> None:
        pool = self._pools[pe.pool_handle]
        del pool.elements[pe.pe_id]
        pool.selection.remove(pe)
        self._sorted.remove(pe)
        self._disown(pe, pool)
        self._checksum = checksum_sub(
            self._checksum, pe_accumulator(pool.handle_checksum, pe.pe_id)
        )
        if not pool.elements:
            del self._pools[pe.pool_handle]
