"""The states of a pool user's session and the one table that moves it between them.

A session (RFC 5351 §2.2, RFC 5352 §3.8-3.9, RSPLIB's ``rsp_connect``/``rsp_forcefailover``)
looks for a pool element, connects to it, talks to it, and when the association fails it
fails over to another one. Before it was ever connected it is in the plain states; once it
was, a failure puts it in the ``FAILOVER_*`` states, and connecting from there sends the last
Cookie as Cookie Echo and reports ``FailoverComplete`` instead of ``SessionConnected``.

:data:`TRANSITIONS` maps (state, input) to the new state. ``PoolUserCore`` consults it for
every change of a session's state, through :func:`next_state`; an input the table has no
entry for cannot happen (the core routes it nowhere: a closed session is forgotten, and an
input about an association reaches only a session that has one), so meeting one is a bug and
raises :class:`SessionStateError` (an ``AssertionError``, like the registrar's tables).
Entries whose new state is the old one are inputs the session ignores on purpose.
:func:`transition_table` prints the table as Markdown (it is in ``docs/client.md``, checked
by a test).
"""

from __future__ import annotations

import enum


class SessionState(enum.Enum):
    """Where a pool user's session is (``PoolUserCore.session_state``)."""

    RESOLVING = "resolving"  # looking for a first PE: Handle Resolution under way
    WAITING = "waiting"  # no PE available: resolving again after the retry delay
    CONNECTING = "connecting"  # association to the chosen PE being set up
    ESTABLISHED = "established"  # connected: data flows
    FAILOVER_RESOLVING = "failover resolving"  # the PE failed: looking for another one
    FAILOVER_WAITING = "failover waiting"
    FAILOVER_CONNECTING = "failover connecting"  # on connect: Cookie Echo, FailoverComplete
    CLOSED = "closed"  # closed by the pool user (the core forgets the session)


class SessionInput(enum.Enum):
    """What moves a session (the core's inputs or its own decisions, see ``docs/client.md``)."""

    PE_CHOSEN = "PE chosen"  # from the PE's Business Card, the cache or a Handle Resolution
    NO_PE = "no PE"  # the Handle Resolution gave no usable PE, or no registrar answered
    RETRY_TIMER = "retry timer"  # the retry delay is over
    CONNECTED = "connected"  # session_connected: the association is up
    CONNECT_FAILED = "connect failed"  # session_connect_failed, or the connect timed out
    ASSOCIATION_LOST = "association lost"  # session_lost: COMM_LOST, ABORT, SHUTDOWN
    FORCE_FAILOVER = "force failover"  # force_failover (RSPLIB rsp_forcefailover)
    CLOSE = "close"  # close_session


class SessionStateError(AssertionError):
    """A session met an input its state has no transition for: a bug in the core, never the
    network's doing."""

    def __init__(self, state: SessionState, event: SessionInput) -> None:
        super().__init__(f"PU session: {event.name} cannot happen in {state.name}")
        self.state = state
        self.input = event


S = SessionState
I = SessionInput  # noqa: E741

TRANSITIONS: dict[tuple[SessionState, SessionInput], SessionState] = {
    # a new session starts in RESOLVING
    (S.RESOLVING, I.PE_CHOSEN): S.CONNECTING,
    (S.RESOLVING, I.NO_PE): S.WAITING,
    (S.RESOLVING, I.FORCE_FAILOVER): S.RESOLVING,  # ignored: no association to abort
    (S.RESOLVING, I.CLOSE): S.CLOSED,
    (S.WAITING, I.RETRY_TIMER): S.RESOLVING,
    (S.WAITING, I.FORCE_FAILOVER): S.WAITING,  # ignored
    (S.WAITING, I.CLOSE): S.CLOSED,
    (S.CONNECTING, I.CONNECTED): S.ESTABLISHED,
    (S.CONNECTING, I.CONNECT_FAILED): S.RESOLVING,
    (S.CONNECTING, I.ASSOCIATION_LOST): S.RESOLVING,
    (S.CONNECTING, I.FORCE_FAILOVER): S.RESOLVING,
    (S.CONNECTING, I.CLOSE): S.CLOSED,
    (S.ESTABLISHED, I.CONNECTED): S.ESTABLISHED,  # a second report: that association aborted
    (S.ESTABLISHED, I.CONNECT_FAILED): S.ESTABLISHED,  # ignored: too late
    (S.ESTABLISHED, I.ASSOCIATION_LOST): S.FAILOVER_RESOLVING,
    (S.ESTABLISHED, I.FORCE_FAILOVER): S.FAILOVER_RESOLVING,
    (S.ESTABLISHED, I.CLOSE): S.CLOSED,
    (S.FAILOVER_RESOLVING, I.PE_CHOSEN): S.FAILOVER_CONNECTING,
    (S.FAILOVER_RESOLVING, I.NO_PE): S.FAILOVER_WAITING,
    (S.FAILOVER_RESOLVING, I.FORCE_FAILOVER): S.FAILOVER_RESOLVING,  # ignored
    (S.FAILOVER_RESOLVING, I.CLOSE): S.CLOSED,
    (S.FAILOVER_WAITING, I.RETRY_TIMER): S.FAILOVER_RESOLVING,
    (S.FAILOVER_WAITING, I.FORCE_FAILOVER): S.FAILOVER_WAITING,  # ignored
    (S.FAILOVER_WAITING, I.CLOSE): S.CLOSED,
    (S.FAILOVER_CONNECTING, I.CONNECTED): S.ESTABLISHED,
    (S.FAILOVER_CONNECTING, I.CONNECT_FAILED): S.FAILOVER_RESOLVING,
    (S.FAILOVER_CONNECTING, I.ASSOCIATION_LOST): S.FAILOVER_RESOLVING,
    (S.FAILOVER_CONNECTING, I.FORCE_FAILOVER): S.FAILOVER_RESOLVING,
    (S.FAILOVER_CONNECTING, I.CLOSE): S.CLOSED,
    # CLOSED is final: the core has forgotten the session, nothing reaches it
}

#: The states in which a session has an association (connecting or up).
WITH_ASSOCIATION = frozenset({S.CONNECTING, S.FAILOVER_CONNECTING, S.ESTABLISHED})
#: The states in which a session waits for a Handle Resolution answer.
RESOLVING_STATES = frozenset({S.RESOLVING, S.FAILOVER_RESOLVING})
#: The states in which the retry timer runs.
WAITING_STATES = frozenset({S.WAITING, S.FAILOVER_WAITING})
#: The states in which the session connects (the connect timer runs).
CONNECTING_STATES = frozenset({S.CONNECTING, S.FAILOVER_CONNECTING})

del S, I


def next_state(state: SessionState, event: SessionInput) -> SessionState:
    """The state ``event`` moves a session in ``state`` to (:data:`TRANSITIONS`);
    :class:`SessionStateError` if the table has no entry (a bug in the core)."""
    new = TRANSITIONS.get((state, event))
    if new is None:
        raise SessionStateError(state, event)
    return new


def transition_table() -> str:
    """:data:`TRANSITIONS` as a Markdown table: one row per state, one column per input;
    a cell is the new state, *stays* for an input ignored on purpose, – for none (a bug)."""
    inputs = list(SessionInput)
    lines = [
        "| state | " + " | ".join(f"{i.value}" for i in inputs) + " |",
        "|---|" + "---|" * len(inputs),
    ]
    for state in SessionState:
        cells = []
        for event in inputs:
            new = TRANSITIONS.get((state, event))
            if new is None:
                cells.append("–")
            elif new is state:
                cells.append("*stays*")
            else:
                cells.append(f"`{new.name}`")
        lines.append(f"| `{state.name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
