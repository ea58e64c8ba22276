"""Log lines for the registrar's events, in the words of the RFCs and RSPLIB's log.

RSPLIB writes identifiers as ``$00002001``; so do we, so that a log of ours and one of
``rspregistrar`` read alike. What a user watching the registrar wants to see logs at INFO: a
PE registered, refused (with the cause and what to do about it), removed, learned from a peer;
peers added and lost; takeovers. Routine traffic (re-registrations, updates of known PEs,
resolutions, ignored messages) logs at DEBUG, bad input and rate limiting at WARNING.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from rserpool.proto.common import Event, TransportAddress
from rserpool.proto.registrar import (
    AssociationAborted,
    EndpointUnreachableReported,
    ErrorReceived,
    HandleResolved,
    MessageIgnored,
    MessageRejected,
    PoolElementLearned,
    PoolElementRegistered,
    RateLimited,
    RegistrationRefused,
)
from rserpool.scope import AddressScope, address_scope
from rserpool.wire.constants import Cause
from rserpool.wire.text import cause_text, handle_text, ident

#: Why a registrar refuses a Registration, per Operation Error cause (RFC 5352 §3.3,
#: RSPLIB's checks in its order).
REFUSALS: dict[int, str] = {
    Cause.RSPLIB_INVALID_ID: "PE identifier 0 is not allowed",
    Cause.RSPLIB_INVALID_REGISTRATOR: "the Pool Element parameter carried an ASAP transport "
    "(a PE must not send one)",
    Cause.RSPLIB_UNSUPPORTED_POOL_POLICY: "unknown pool member selection policy",
    Cause.RSPLIB_INVALID_ADDRESSES: "the user transport has no address, more than 64, or port 0",
    Cause.RSPLIB_NO_USABLE_USER_ADDRESSES: "none of the PE's user transport addresses is one "
    "of its ASAP association's addresses of at least the minimum address scope ({scope})",
    Cause.RSPLIB_NO_USABLE_ASAP_ADDRESSES: "none of the ASAP association's addresses is of "
    "at least the minimum address scope ({scope})",
    Cause.RSPLIB_INVALID_POOL_HANDLE: "the pool handle is empty or longer than 32 bytes",
    Cause.RSPLIB_DUPLICATE_ID: "the PE identifier is taken",
    Cause.INCONSISTENT_POOLING_POLICY: "the pool's PEs use another selection policy",
    Cause.RSPLIB_WRONG_PROTOCOL: "the pool's PEs use another transport protocol",
    Cause.INCONSISTENT_DATA_CONTROL_CONFIGURATION: "the pool's PEs use another "
    "data/control channel setting",
    Cause.LACK_OF_RESOURCES: "the registrar is out of resources",
}


def event_text(event: Event) -> str:
    """One log line for ``event``: its ``str``, the one rendering each event has."""
    return str(event)


def refusal_text(
    event: RegistrationRefused, peer: TransportAddress | None, min_scope: AddressScope
) -> str:
    """The refusal of a Registration: who, why in RFC terms, over which association, and
    what to do when the cause is the minimum address scope."""
    scope = min_scope.name.lower().replace("_", "-")
    why = REFUSALS.get(event.cause, "").format(scope=scope)
    where = f"ASAP assoc {event.assoc_id}"
    if peer is not None and peer.addresses:
        where += f" from {peer}"
    text = (
        f"Registration of PE {ident(event.pe_id)} in {handle_text(event.pool_handle)} "
        f"refused: {cause_text(event.cause)}{': ' + why if why else ''} ({where})"
    )
    scoped = (Cause.RSPLIB_NO_USABLE_USER_ADDRESSES, Cause.RSPLIB_NO_USABLE_ASAP_ADDRESSES)
    if event.cause in scoped and peer is not None and peer.addresses:
        largest = max(address_scope(a) for a in peer.addresses)
        if AddressScope.UNSPECIFIED < largest < min_scope:
            wanted = "loopback" if largest < AddressScope.SITE_LOCAL else "site-local"
            kind = largest.name.lower().replace("_", "-")
            text += (
                f"; the PE reaches this registrar only over {kind} addresses: "
                f"start the registrar with --min-address-scope {wanted} to accept it"
            )
    return text


def _routine_unless_new(event: PoolElementRegistered | PoolElementLearned) -> int:
    """Re-registrations and updates come for every PE every 30 s or so: DEBUG."""
    return logging.INFO if event.created else logging.DEBUG


#: The log level per event type (INFO for every type not named), or how to choose it.
LEVELS: dict[type[Event], int | Callable[[Any], int]] = {
    HandleResolved: logging.DEBUG,
    MessageIgnored: logging.DEBUG,
    PoolElementRegistered: _routine_unless_new,
    PoolElementLearned: _routine_unless_new,
    MessageRejected: logging.WARNING,
    RateLimited: logging.WARNING,
    ErrorReceived: logging.WARNING,
    AssociationAborted: logging.WARNING,
    EndpointUnreachableReported: logging.WARNING,
}


def event_level(event: Event) -> int:
    level = LEVELS.get(type(event), logging.INFO)
    return level if isinstance(level, int) else level(event)
