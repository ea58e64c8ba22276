"""The vocabulary of a pool element core: its configuration and the events it reports. The
logic is in :mod:`rserpool.proto.client.pool_element`."""

from __future__ import annotations

from dataclasses import dataclass, field

from rserpool.proto.client.hunt_types import HomeRegistrar
from rserpool.proto.common import Event, IPAddress
from rserpool.wire import (
    Cause,
    Policy,
    PolicyType,
    PoolElement,
    PoolMemberSelectionPolicy,
    SctpTransport,
    TransportUse,
)
from rserpool.wire.constants import MAX_POOL_HANDLE_SIZE

#: Rejections after which RSPLIB drops the registrar association and hunts again
#: (the registrar could not use the addresses it sees on our association).
REHUNT_CAUSES = frozenset(
    {Cause.RSPLIB_NO_USABLE_ASAP_ADDRESSES, Cause.RSPLIB_NO_USABLE_USER_ADDRESSES}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolElementConfig:
    """One PE: what it registers (RSPLIB rspserver's ``-poolhandle``, ``-identifier``,
    ``-local``, ``-policy``, ``-rereginterval``).

    ``pe_id`` 0 draws one from the core's random generator (1..0xfffffffe, as RSPLIB).
    ``registration_life`` 0 means 3 × ``reregistration_interval`` (RSPLIB).
    """

    pool_handle: bytes
    addresses: tuple[IPAddress, ...]
    port: int
    policy: Policy = field(
        default_factory=lambda: PoolMemberSelectionPolicy(PolicyType.ROUND_ROBIN)
    )
    pe_id: int = 0
    transport_use: TransportUse = TransportUse.DATA_PLUS_CONTROL
    reregistration_interval: int = 30_000  # T4-reregistration
    registration_life: int = 0

    def __post_init__(self) -> None:
        if not 1 <= len(self.pool_handle) <= MAX_POOL_HANDLE_SIZE:
            raise ValueError(f"pool handle must have 1..{MAX_POOL_HANDLE_SIZE} bytes")
        if not self.addresses or not 1 <= self.port <= 0xFFFF:
            raise ValueError("the user transport needs addresses and a port 1..65535")
        if not 0 <= self.pe_id <= 0xFFFFFFFF:
            raise ValueError("pe_id must be a u32")
        if self.reregistration_interval < 1 or not 0 <= self.registration_life <= 0xFFFFFFFF:
            raise ValueError("bad re-registration interval or registration life")

    @property
    def life(self) -> int:
        return self.registration_life or min(3 * self.reregistration_interval, 0xFFFFFFFF)

    @property
    def user_transport(self) -> SctpTransport:
        return SctpTransport(self.port, self.addresses, self.transport_use)

    def pool_element(self, pe_id: int) -> PoolElement:
        """The Pool Element parameter of a Registration (home id 0: the registrar sets it)."""
        return PoolElement(pe_id, 0, self.life, self.user_transport, self.policy)


# -------------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Registered(Event):
    """A (re-)registration was accepted; ``reregistration`` is False for the first one at
    this home registrar."""

    pool_handle: bytes
    pe_id: int
    home: HomeRegistrar
    reregistration: bool

    def __str__(self) -> str:
        kind = "re-registered" if self.reregistration else "registered"
        return f"Registered: PE {self.pe_id:#010x} {kind} at {self.home}"


@dataclass(frozen=True, slots=True)
class RegistrationFailed(Event):
    """A Registration was rejected (``cause``) or never answered (``cause`` None).

    The PE tries again at the next T4-reregistration (or, for 0xf007/0xf008, at the next
    home registrar).
    """

    pool_handle: bytes
    pe_id: int
    cause: int | None
    reason: str

    def __str__(self) -> str:
        cause = "" if self.cause is None else f" cause {self.cause:#06x}"
        return f"RegistrationFailed: PE {self.pe_id:#010x}{cause}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Deregistered(Event):
    """A PE left; ``confirmed``: the registrar answered the Deregistration;
    ``was_registered``: some registrar had accepted it (else there was nothing to undo)."""

    pool_handle: bytes
    pe_id: int
    confirmed: bool
    was_registered: bool = True

    def __str__(self) -> str:
        how = "" if self.confirmed else " (unconfirmed)"
        return f"Deregistered: PE {self.pe_id:#010x}{how}"


@dataclass(frozen=True, slots=True)
class KeepAliveAnswered(Event):
    pool_handle: bytes
    pe_id: int
    server_id: int

    def __str__(self) -> str:
        return f"KeepAliveAnswered: PE {self.pe_id:#010x} for registrar {self.server_id:#010x}"
