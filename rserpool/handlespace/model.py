"""Handlespace value types: pool elements, pools, rejections (RSPLIB PoolElementNode, PoolNode).

Time is **integer milliseconds** throughout the handlespace (the unit of the Registration Life
field): ``now``, ``registration_time``, ``last_update`` and ``expiry`` are ms on whatever
monotonic clock the caller injects.

Transports are stored as given: ``user_transport`` is any of the codec's transport parameters
(:data:`~rserpool.wire.params.Transport`), ``asap_transport`` an SCTP transport or None. The
pool-level consistency checks use only ``transport_protocol`` (the transport parameter type, e.g.
``ParamType.SCTP_TRANSPORT``) and ``control_channel`` (transport use = data plus control).
"""

from __future__ import annotations

from typing import NamedTuple

from rserpool.errors import ProtocolError
from rserpool.policies import SelectionStorage
from rserpool.policies.entry import PolicyEntry
from rserpool.wire.constants import Cause, PolicyType
from rserpool.wire.params import SctpTransport, Transport
from rserpool.wire.policy import PoolMemberSelectionPolicy

Key = tuple[bytes, int]  # (pool handle, PE id)


class RegistrationRejected(ProtocolError):
    """A registration or handle update the handlespace refuses; ``cause`` goes on the wire."""

    cause: Cause

    def __init__(self, cause: Cause, detail: str = "") -> None:
        super().__init__(f"{cause.name} (0x{cause.value:04x}){': ' + detail if detail else ''}")
        self.cause = cause
        self.detail = detail


class PoolElement(PolicyEntry):
    """One PE of one pool, with its policy settings and policy runtime state."""

    __slots__ = (
        "asap_transport",
        "encoded_element",
        "expiry_record",
        "home_registrar_id",
        "keep_alive_timeout_due",
        "keep_alive_transmission_due",
        "last_update",
        "pe_id",
        "pool_handle",
        "registration_assoc",
        "registration_life",
        "registration_time",
        "unreachable_reports",
        "user_transport",
    )

    def __init__(
        self,
        pool_handle: bytes,
        pe_id: int,
        home_registrar_id: int,
        registration_life: int,
        policy: PoolMemberSelectionPolicy,
        user_transport: Transport,
        asap_transport: SctpTransport | None,
        now: int,
    ) -> None:
        super().__init__(policy)
        self.pool_handle = pool_handle
        self.pe_id = pe_id
        self.home_registrar_id = home_registrar_id
        self.registration_life = registration_life  # ms
        # No transport protocol or control-channel flag here: they are the pool's (saves 16 B).
        self.user_transport = user_transport
        self.asap_transport = asap_transport
        self.registration_time = now  # first registration, ms
        self.last_update = now  # last (re-)registration or handle update, ms
        self.unreachable_reports = 0
        #: The ExpiryQueue's live record ``(deadline, counter, PE)``, or None: no timer.
        self.expiry_record: tuple[int, int, PoolElement] | None = None
        #: The ASAP association a registrar reaches its home PE on (RSPLIB's
        #: RegistratorAssocID; None: unknown, Endpoint Keep Alives go with the H bit).
        self.registration_assoc: int | None = None
        #: A registrar's Endpoint Keep Alive timers of its home PE (ms, or None: off), kept by
        #: ``rserpool.proto.registrar.keepalive``: slots instead of a timer record per PE.
        self.keep_alive_transmission_due: int | None = None
        self.keep_alive_timeout_due: int | None = None
        #: The PE's Pool Element parameter as a registrar's Handle Resolution Responses carry
        #: it (encoded); the handlespace drops it whenever one of the fields above changes.
        self.encoded_element: bytes | None = None

    @property
    def key(self) -> Key:
        """``(pool handle, PE id)``, made when asked: no tuple kept per PE (saves 64 B)."""
        return (self.pool_handle, self.pe_id)

    @property
    def expiry(self) -> int | None:
        """The PE's deadline in ms, or None: no timer (read from its record: saves a slot)."""
        record = self.expiry_record
        return None if record is None else record[0]

    def __repr__(self) -> str:
        return (
            f"PoolElement({self.pool_handle!r}, 0x{self.pe_id:08x}, "
            f"home=0x{self.home_registrar_id:08x}, {self.policy.policy_type.name})"
        )


class Pool:
    """A pool: its PEs by id, their selection storage and the settings fixed by the first PE."""

    __slots__ = (
        "control_channel",
        "elements",
        "handle",
        "handle_checksum",
        "policy_type",
        "selection",
        "transport_protocol",
    )

    def __init__(
        self,
        handle: bytes,
        policy_type: PolicyType,
        transport_protocol: int,
        control_channel: bool,
        selection: SelectionStorage[PoolElement],
        handle_checksum: int,
    ) -> None:
        self.handle = handle
        self.policy_type = policy_type
        self.transport_protocol = transport_protocol
        self.control_channel = control_channel
        self.elements: dict[int, PoolElement] = {}
        self.selection = selection
        self.handle_checksum = handle_checksum  # checksum.handle_accumulator(handle)

    def __len__(self) -> int:
        return len(self.elements)

    def __repr__(self) -> str:
        return f"Pool({self.handle!r}, {self.policy_type.name}, {len(self.elements)} PEs)"


class RegistrationResult(NamedTuple):
    element: PoolElement
    created: bool  # False: an existing PE was updated (re-registration)
