"""One teaching line per PE/PU event: what happened, in RFC 5352 terms, with identifiers
written as RSPLIB writes them (``$00002001``). Used by ``rserpool server|terminal|pingpong``.

An event has two renderings with two jobs, each written once: ``str(event)`` (the event's
``__str__``) is the terse debug form, every field, for logs and tests; :func:`explain` is the
sentence for people, and only for the events worth telling (None for the routine ones such as
``KeepAliveAnswered``). :func:`explain` dispatches on the event's type
(:func:`functools.singledispatch`): one registered function per event type.

:class:`HuntProgress` keeps what the server hunt tried and why it failed, to say it in one line
when a component gives up (``--timeout``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import singledispatch

from rserpool.proto.client.hunt import (
    HomeChangeReason,
    HomeRegistrarChanged,
    HomeRegistrarLost,
    RegistrarAnnounced,
    RegistrarConnectFailed,
    RegistrarConnecting,
    ServerHuntStarted,
    ServerHuntWaiting,
)
from rserpool.proto.client.pool_element import (
    Deregistered,
    Registered,
    RegistrationFailed,
)
from rserpool.proto.client.pool_user import (
    NoPoolElement,
    ResolutionFailed,
    Resolved,
    UnreachableReported,
)
from rserpool.proto.client.session import (
    CookieEchoReceived,
    FailoverComplete,
    FailoverNecessary,
    SessionAccepted,
    SessionClosed,
    SessionConnected,
)
from rserpool.proto.common import Channel, Endpoint, Event, MessageIgnored, TransportAddress
from rserpool.wire.text import cause_text, handle_text, ident


@singledispatch
def explain(event: Event) -> str | None:
    """A line for the events worth telling a user about; None for routine ones.

    One function per event type (``explain.register``); an event type without one is routine.
    """
    return None


@explain.register
def _(event: ServerHuntStarted) -> str:
    if not event.candidates:
        return (
            "Server hunt: looking for a home registrar; none known yet (no --registrar "
            "given): waiting for a Server Announce"
        )
    return (
        f"Server hunt: looking for a home registrar ({event.candidates} known: static ones "
        "(--registrar, or 127.0.0.1 over UDP on loopback) and Server Announces)"
    )


@explain.register
def _(event: RegistrarConnecting) -> str:
    source = (
        "a static registrar"
        if event.server_id is None
        else f"announced by registrar {ident(event.server_id)}"
    )
    again = "" if event.trial == 1 else f" again (try {event.trial})"
    return f"Server hunt: connecting to registrar {event.address}{again}, {source}"


@explain.register
def _(event: RegistrarConnectFailed) -> str:
    return f"Server hunt: registrar {event.address} failed: {event.reason}"


@explain.register
def _(event: ServerHuntWaiting) -> str:
    seconds = f"{round(event.delay / 1000, 1):g} s"
    if not event.candidates:
        return (
            "Server hunt: still no registrar known (no --registrar, no Server Announce "
            f"heard): looking again in {seconds}"
        )
    return f"Server hunt: no registrar reachable now: trying again in {seconds}"


@explain.register
def _(event: RegistrarAnnounced) -> str:
    return f"Server Announce: registrar {ident(event.server_id)} is at {event.address}"


@explain.register
def _(event: HomeRegistrarChanged) -> str:
    home = event.home
    if event.reason is HomeChangeReason.TAKEOVER:
        return (
            f"Takeover: registrar {ident(home.server_id)} sent an Endpoint Keep Alive with "
            "the H bit, so it is our home registrar now"
        )
    return f"Home registrar: ASAP association to {home.address} is up"


@explain.register
def _(event: HomeRegistrarLost) -> str:
    return (
        f"Home registrar {ident(event.home.server_id)} lost ({event.reason}): hunting for "
        "another one"
    )


@explain.register
def _(event: Registered) -> str:
    what = "Re-registration" if event.reregistration else "Registration"
    home = event.home
    by = (
        f"registrar {ident(home.server_id)}"
        if home.server_id
        else f"the registrar at {home.address}"
    )
    return f"{what}: PE {ident(event.pe_id)} in {handle_text(event.pool_handle)} accepted by {by}"


@explain.register
def _(event: RegistrationFailed) -> str:
    cause = "no answer" if event.cause is None else cause_text(event.cause)
    return f"Registration of PE {ident(event.pe_id)} failed: {cause} ({event.reason})"


@explain.register
def _(event: Deregistered) -> str:
    if not event.was_registered:
        return (
            f"PE {ident(event.pe_id)} stopped before any registrar accepted it "
            "(nothing to deregister)"
        )
    how = "confirmed" if event.confirmed else "not confirmed: no registrar to tell"
    return f"Deregistration: PE {ident(event.pe_id)} left the pool ({how})"


@explain.register
def _(event: Resolved) -> str:
    ids = ", ".join(ident(pe.pe_id) for pe in event.pool_elements)
    source = "the cache" if event.from_cache else "the registrar"
    return f"Handle Resolution of {handle_text(event.pool_handle)} by {source}: {ids}"


@explain.register
def _(event: ResolutionFailed) -> str:
    cause = "" if event.cause is None else f": {cause_text(event.cause)}"
    return f"Handle Resolution of {handle_text(event.pool_handle)} failed{cause}"


@explain.register
def _(event: NoPoolElement) -> str:
    why = event.reason if event.cause is None else cause_text(event.cause)
    return (
        f"Handle Resolution of {handle_text(event.pool_handle)}: no pool element to "
        f"connect to ({why}); asking again every {event.retry_in / 1000:g} s"
    )


@explain.register
def _(event: UnreachableReported) -> str:
    return f"Endpoint Unreachable: told the registrar that PE {ident(event.pe_id)} failed"


@explain.register
def _(event: SessionAccepted) -> str:
    return f"Session {event.session}: a pool user associated from {event.peer}"


@explain.register
def _(event: SessionConnected) -> str:
    return f"Session: connected to PE {ident(event.pe_id)}"


@explain.register
def _(event: CookieEchoReceived) -> str:
    return (
        f"Session {event.session}: Cookie Echo ({len(event.cookie)} bytes): a pool user "
        "failed over to us and hands back the state its last PE saved"
    )


@explain.register
def _(event: FailoverNecessary) -> str:
    return f"FAILOVER: PE {ident(event.pe_id)} is gone ({event.reason})"


@explain.register
def _(event: FailoverComplete) -> str:
    echo = ", Cookie Echo sent" if event.cookie_echoed else ""
    return f"FAILOVER complete: session continues at PE {ident(event.pe_id)}{echo}"


@explain.register
def _(event: SessionClosed) -> str:
    return f"Session {event.session} closed ({event.reason})"


#: How a PE or PU names where an ignored message came from.
_CHANNEL_WORDS: dict[Endpoint | Channel, str] = {
    Endpoint.ASAP: "registrar",
    Endpoint.ENRP: "ENRP",
    Channel.ANNOUNCE: "announce",
    Channel.SESSION: "session",
}


@explain.register
def _(event: MessageIgnored) -> str:
    return f"Ignored: {_CHANNEL_WORDS[event.channel]}: {event.reason}"


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


@dataclass
class HuntProgress:
    """What a PE or PU tried so far, fed with its events (:meth:`observe`), to say why it
    gave up (:meth:`timeout_message`)."""

    tries: dict[TransportAddress, int] = field(default_factory=dict)
    failures: dict[TransportAddress, str] = field(default_factory=dict)  # the latest reason
    home: str | None = None  # where the home registrar was, once there was one
    registration_failure: str | None = None
    resolution_failure: str | None = None

    def observe(self, event: Event) -> None:
        if isinstance(event, RegistrarConnecting):
            self.tries[event.address] = event.trial
        elif isinstance(event, RegistrarConnectFailed):
            self.failures[event.address] = event.reason
        elif isinstance(event, HomeRegistrarChanged):
            self.home = str(event.home.address or ident(event.home.server_id))
        elif isinstance(event, RegistrationFailed):
            self.registration_failure = (
                "no answer" if event.cause is None else cause_text(event.cause)
            )
        elif isinstance(event, ResolutionFailed | NoPoolElement):
            self.resolution_failure = (
                event.reason if event.cause is None else cause_text(event.cause)
            )

    def tried(self) -> str:
        """``198.51.100.1:3863 3 times: connection refused; ...``"""
        parts = []
        for address, count in self.tries.items():
            reason = self.failures.get(address)
            parts.append(f"{address} {_times(count)}" + (f": {reason}" if reason else ""))
        return "; ".join(parts)

    def timeout_message(self, seconds: float, pool_handle: bytes, *, pool_element: bool) -> str:
        """The line for ``--timeout``: the first thing that did not happen, and why."""
        within = f"within {seconds:g} s"
        if self.home is None:
            if not self.tries:
                return (
                    f"no registrar answered {within} (none known: no --registrar given and "
                    "no Server Announce heard)"
                )
            return f"no registrar answered {within} (tried {self.tried()})"
        pool = handle_text(pool_handle)
        if pool_element:
            why = self.registration_failure or "no answer"
            return f"the registration in {pool} was not accepted {within} ({why})"
        if self.resolution_failure is not None:
            return (
                f"no pool element of {pool} reachable {within} (registrar at {self.home}: "
                f"{self.resolution_failure})"
            )
        return f"no session to a pool element of {pool} {within}"
