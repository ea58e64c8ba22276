"""One teaching line per PE/PU event: what happened, in RFC 5352 terms, with identifiers
written as RSPLIB writes them (``$00002001``). Used by ``rserpool server|terminal|pingpong``."""

from __future__ import annotations

from rserpool.proto.common import Event
from rserpool.proto.pool_element import (
    Deregistered,
    KeepAliveAnswered,
    Registered,
    RegistrationFailed,
)
from rserpool.proto.pool_user import ResolutionFailed, Resolved, UnreachableReported
from rserpool.proto.registrar_hunt import (
    HomeChangeReason,
    HomeRegistrarChanged,
    HomeRegistrarLost,
    MessageIgnored,
    RegistrarAnnounced,
    ServerHuntStarted,
)
from rserpool.proto.session import (
    CookieEchoReceived,
    FailoverComplete,
    FailoverNecessary,
    SessionAccepted,
    SessionClosed,
    SessionConnected,
)
from rserpool.wire.text import cause_text, handle_text, ident


def explain(event: Event) -> str | None:
    """A line for the events worth telling a user about; None for routine ones."""
    if isinstance(event, ServerHuntStarted):
        return (
            f"Server hunt: looking for a home registrar ({event.candidates} known from "
            "-registrar and Server Announces)"
        )
    if isinstance(event, RegistrarAnnounced):
        return f"Server Announce: registrar {ident(event.server_id)} is at {event.address}"
    if isinstance(event, HomeRegistrarChanged):
        home = event.home
        if event.reason is HomeChangeReason.TAKEOVER:
            return (
                f"Takeover: registrar {ident(home.server_id)} sent an Endpoint Keep Alive with "
                "the H bit, so it is our home registrar now"
            )
        return f"Home registrar: ASAP association to {home.address} is up"
    if isinstance(event, HomeRegistrarLost):
        return (
            f"Home registrar {ident(event.home.server_id)} lost ({event.reason}): hunting for "
            "another one"
        )
    if isinstance(event, Registered):
        what = "Re-registration" if event.reregistration else "Registration"
        home = event.home
        by = (
            f"registrar {ident(home.server_id)}"
            if home.server_id
            else f"the registrar at {home.address}"
        )
        return (
            f"{what}: PE {ident(event.pe_id)} in {handle_text(event.pool_handle)} accepted by {by}"
        )
    if isinstance(event, RegistrationFailed):
        cause = "no answer" if event.cause is None else cause_text(event.cause)
        return f"Registration of PE {ident(event.pe_id)} failed: {cause} ({event.reason})"
    if isinstance(event, Deregistered):
        how = "confirmed" if event.confirmed else "not confirmed: no registrar to tell"
        return f"Deregistration: PE {ident(event.pe_id)} left the pool ({how})"
    if isinstance(event, Resolved):
        ids = ", ".join(ident(pe.pe_id) for pe in event.pool_elements)
        source = "the cache" if event.from_cache else "the registrar"
        return f"Handle Resolution of {handle_text(event.pool_handle)} by {source}: {ids}"
    if isinstance(event, ResolutionFailed):
        cause = "" if event.cause is None else f": {cause_text(event.cause)}"
        return f"Handle Resolution of {handle_text(event.pool_handle)} failed{cause}"
    if isinstance(event, UnreachableReported):
        return f"Endpoint Unreachable: told the registrar that PE {ident(event.pe_id)} failed"
    if isinstance(event, SessionAccepted):
        return f"Session {event.session}: a pool user associated from {event.peer}"
    if isinstance(event, SessionConnected):
        return f"Session: connected to PE {ident(event.pe_id)}"
    if isinstance(event, CookieEchoReceived):
        return (
            f"Session {event.session}: Cookie Echo ({len(event.cookie)} bytes): a pool user "
            "failed over to us and hands back the state its last PE saved"
        )
    if isinstance(event, FailoverNecessary):
        return f"FAILOVER: PE {ident(event.pe_id)} is gone ({event.reason})"
    if isinstance(event, FailoverComplete):
        echo = ", Cookie Echo sent" if event.cookie_echoed else ""
        return f"FAILOVER complete: session continues at PE {ident(event.pe_id)}{echo}"
    if isinstance(event, SessionClosed):
        return f"Session {event.session} closed ({event.reason})"
    if isinstance(event, MessageIgnored):
        return f"Ignored: {event.channel}: {event.reason}"
    if isinstance(event, KeepAliveAnswered):
        return None
    return None
