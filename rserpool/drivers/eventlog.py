"""Log lines for the registrar's events, in the words of the RFCs and RSPLIB's log.

RSPLIB writes identifiers as ``$00002001``; so do we, so that a log of ours and one of
``rspregistrar`` read alike. Routine traffic (resolutions, ignored messages) logs at DEBUG,
state changes at INFO, bad input at WARNING.
"""

from __future__ import annotations

import logging

from rserpool.proto.common import Event
from rserpool.proto.registrar import (
    AssociationAborted,
    EndpointUnreachableReported,
    ErrorReceived,
    HandleResolved,
    MessageIgnored,
    MessageRejected,
    PeerAdded,
    PeerLost,
    PoolElementLearned,
    PoolElementRegistered,
    PoolElementRemoved,
    RateLimited,
    RegistrationRefused,
    TakeoverCompleted,
)
from rserpool.wire.text import cause_text, handle_text, ident


def event_text(event: Event) -> str:
    """One log line for ``event``."""
    if isinstance(event, PoolElementRegistered):
        what = "Registration" if event.created else "Re-registration"
        return (
            f"{what} of PE {ident(event.pe_id)} in {handle_text(event.pool_handle)} accepted "
            f"(ASAP assoc {event.assoc_id})"
        )
    if isinstance(event, RegistrationRefused):
        return (
            f"Registration of PE {ident(event.pe_id)} in {handle_text(event.pool_handle)} "
            f"rejected: {cause_text(event.cause)}"
        )
    if isinstance(event, PoolElementLearned):
        what = "learned" if event.created else "updated"
        return (
            f"PE {ident(event.pe_id)} in {handle_text(event.pool_handle)} {what} from peer "
            f"{ident(event.peer_id)} (home registrar {ident(event.home_registrar_id)})"
        )
    if isinstance(event, PoolElementRemoved):
        return (
            f"PE {ident(event.pe_id)} in {handle_text(event.pool_handle)} (home "
            f"{ident(event.home_registrar_id)}) removed: {event.reason.value}"
        )
    if isinstance(event, PeerAdded):
        return f"Peer registrar {ident(event.server_id)} added at {event.transport}"
    if isinstance(event, PeerLost):
        return f"Peer registrar {ident(event.server_id)} removed: {event.reason.value}"
    if isinstance(event, TakeoverCompleted):
        return (
            f"Takeover of registrar {ident(event.target_id)} completed: registrar "
            f"{ident(event.new_home_id)} is the new home of {event.pe_count} PE(s)"
        )
    return str(event)


def event_level(event: Event) -> int:
    if isinstance(event, HandleResolved | MessageIgnored):
        return logging.DEBUG
    warnings = (MessageRejected, RateLimited, ErrorReceived, AssociationAborted)
    if isinstance(event, (*warnings, EndpointUnreachableReported)):
        return logging.WARNING
    return logging.INFO
