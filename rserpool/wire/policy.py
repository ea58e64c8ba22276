"""The Pool Member Selection Policy parameter value (RFC 5354 §3.6, RFC 5356 §7)."""

from __future__ import annotations

from dataclasses import dataclass

from rserpool.wire.constants import POLICY_FIELDS, PolicyType


@dataclass(frozen=True, slots=True)
class PoolMemberSelectionPolicy:
    """A policy type plus its u32 fields; fields the type does not carry stay 0.

    ``policy_type`` is a :class:`PolicyType`; which fields go on the wire, and in which order,
    is ``POLICY_FIELDS[policy_type]``. Load, degradation and DPF values are fractions of
    0xffffffff (``FULL_LOAD``); distance is in milliseconds.
    """

    policy_type: PolicyType
    weight: int = 0
    priority: int = 0
    load: int = 0
    load_degradation: int = 0
    load_dpf: int = 0
    weight_dpf: int = 0
    distance: int = 0

    @property
    def fields(self) -> tuple[str, ...]:
        """Names of the u32 fields this policy type carries, in wire order."""
        return POLICY_FIELDS[self.policy_type]

    def values(self) -> tuple[int, ...]:
        """This policy's field values, in wire order."""
        return tuple(getattr(self, name) for name in self.fields)
