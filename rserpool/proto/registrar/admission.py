"""RSPLIB's checks of a Registration before the handlespace's own (RFC 5352 §3.1 and
``rspregistrar-asap.c``), and the stored forms of what passes them.

A registering PE's user transport must have a port and 1..MAX_ADDRESSES_PER_TRANSPORT
addresses, of which those usable and on the association are kept; its ASAP transport is taken
from the association itself (usable addresses, the peer's port), never from the message. The
results depend only on the association's peer address (and the advertised addresses), the same
for every PE registered over it, so they are cached; and equal transports and policies are
stored once (frozen values) rather than per PE. Each cache holds at most ``CACHE_LIMIT``
entries and starts afresh when full.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar, cast

from rserpool.handlespace import RegistrationRejected
from rserpool.proto.common import IPAddress, TransportAddress
from rserpool.proto.registrar.addresses import on_association, usable
from rserpool.proto.registrar.config import RegistrarConfig
from rserpool.wire import Cause, OpaqueTransport, PoolElement, SctpTransport, UnknownPolicy
from rserpool.wire.constants import MAX_ADDRESSES_PER_TRANSPORT
from rserpool.wire.params import AddressTransport

CACHE_LIMIT = 4096  # entries per cache below; it starts afresh when full

T = TypeVar("T")


class RegistrationAdmission:
    """Checks a Registration's PE against its association; returns the transports to store."""

    def __init__(self, config: RegistrarConfig) -> None:
        self.config = config
        self._asap_transport: dict[TransportAddress, SctpTransport | None] = {}
        self._user_addresses: dict[
            tuple[tuple[IPAddress, ...], TransportAddress], tuple[IPAddress, ...]
        ] = {}
        self._shared: dict[object, object] = {}

    def check(
        self, wpe: PoolElement, peer: TransportAddress
    ) -> tuple[AddressTransport, SctpTransport]:
        """RSPLIB's checks before the handlespace's own; returns (user, ASAP) transports."""
        min_scope = self.config.min_address_scope
        if wpe.pe_id == 0:
            raise RegistrationRejected(Cause.RSPLIB_INVALID_ID, "PE id 0")
        if wpe.asap_transport is not None:
            raise RegistrationRejected(Cause.RSPLIB_INVALID_REGISTRATOR)
        if wpe.registration_life == 0:  # peers would expire it at once
            raise RegistrationRejected(Cause.INVALID_VALUES, "registration life 0")
        if isinstance(wpe.policy, UnknownPolicy):
            raise RegistrationRejected(Cause.RSPLIB_UNSUPPORTED_POOL_POLICY)
        user = wpe.user_transport
        if isinstance(user, OpaqueTransport):
            raise RegistrationRejected(Cause.RSPLIB_INVALID_ADDRESSES, "no addresses")
        if user.port == 0 or not 1 <= len(user.addresses) <= MAX_ADDRESSES_PER_TRANSPORT:
            raise RegistrationRejected(Cause.RSPLIB_INVALID_ADDRESSES)
        key = (user.addresses, peer)
        user_addresses = self._user_addresses.get(key)
        if user_addresses is None:
            user_addresses = on_association(user.addresses, peer, min_scope)
            if len(self._user_addresses) >= CACHE_LIMIT:
                self._user_addresses.clear()
            self._user_addresses[key] = user_addresses
        if not user_addresses:
            raise RegistrationRejected(Cause.RSPLIB_NO_USABLE_USER_ADDRESSES)
        if peer in self._asap_transport:
            asap = self._asap_transport[peer]
        else:
            asap_addresses = usable(peer.addresses, min_scope)[:MAX_ADDRESSES_PER_TRANSPORT]
            asap = None
            if asap_addresses and peer.port != 0:
                asap = SctpTransport(peer.port, asap_addresses)
            if len(self._asap_transport) >= CACHE_LIMIT:
                self._asap_transport.clear()
            self._asap_transport[peer] = asap
        if asap is None:
            raise RegistrationRejected(Cause.RSPLIB_NO_USABLE_ASAP_ADDRESSES)
        if user_addresses != user.addresses or user.extensions:  # stored without unknowns
            user = dataclasses.replace(user, addresses=user_addresses, extensions=())
        return self.share(user), asap

    def share(self, value: T) -> T:
        """An equal value stored before, else ``value`` (now stored): one object for all."""
        shared = self._shared.get(value)
        if shared is None:
            if len(self._shared) >= CACHE_LIMIT:
                self._shared.clear()
            self._shared[value] = shared = value
        return cast(T, shared)
