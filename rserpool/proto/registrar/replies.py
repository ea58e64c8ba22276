"""The registrar's Handle Resolution Response from cached bytes (RFC 5352 §2.2.6).

A Handle Resolution Response carries each selected PE as a Pool Element parameter (without its
ASAP transport). Encoding those parameters was most of a resolution's cost, although a PE's
parameter only changes when the PE does; so each stored PE keeps it encoded
(``PoolElement.encoded_element``), made the first time the PE is selected and dropped by the
handlespace whenever the PE changes. The reply concatenates the cached bytes; its bytes are
exactly what :class:`HandleResolutionResponse` would encode
(``tests/proto/registrar/test_reply_bytes.py`` pins them). The parameter's value (the
``pool_elements`` of the reply) is made per reply: keeping it too would cost 150 bytes per PE.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rserpool.handlespace import PoolElement as StoredPE
from rserpool.wire import HandleResolutionResponse, PoolElement
from rserpool.wire.buffer import HEADER
from rserpool.wire.params import Policy, encode_policy, encode_pool_handle
from rserpool.wire.quickinit import quick_init

_POLICY_LIMIT = 256  # encoded policies kept (by policy object); the memo starts afresh when full
_policies: dict[int, tuple[Policy, bytes]] = {}


def resolution_form(pe: StoredPE) -> tuple[PoolElement, bytes]:
    """The PE's Pool Element parameter without ASAP transport, and its bytes (encoded once per
    change of the PE)."""
    wire = PoolElement(
        pe.pe_id, pe.home_registrar_id, pe.registration_life, pe.user_transport, pe.policy
    )
    encoded = pe.encoded_element
    if encoded is None:
        encoded = pe.encoded_element = wire.encode()
    return wire, encoded


@quick_init
@dataclass(frozen=True, slots=True, kw_only=True)
class ResolvedResponse(HandleResolutionResponse):
    """A Handle Resolution Response with its Pool Element parameters encoded already.

    ``encoded_elements[i]`` is ``pool_elements[i].encode()``; anything but the pool handle, the
    policy and those PEs (an error, extensions, another list) is encoded the plain way.
    """

    encoded_elements: tuple[bytes, ...] = field(default=(), compare=False, repr=False)

    def encode(self) -> bytes:
        elements, policy = self.encoded_elements, self.policy
        if (
            self.error is not None
            or self.extensions
            or policy is None
            or len(elements) != len(self.pool_elements)
        ):
            return HandleResolutionResponse.encode(self)
        # fast path: the cached parameters are joined, which saves encoding every PE again
        body = b"".join((encode_pool_handle(self.pool_handle), _policy_tlv(policy), *elements))
        return HEADER.pack(self.TYPE, self._flags(), 4 + len(body)) + body


def _policy_tlv(policy: Policy) -> bytes:
    """The encoded policy parameter, remembered per policy object (the PEs share them)."""
    known = _policies.get(id(policy))
    if known is not None and known[0] is policy:  # the object itself: its id is not reused
        return known[1]
    encoded = encode_policy(policy)
    if len(_policies) >= _POLICY_LIMIT:
        _policies.clear()
    _policies[id(policy)] = (policy, encoded)
    return encoded
