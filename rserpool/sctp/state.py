"""The association's state machine (RFC 9260 §4) as one explicit table.

``TRANSITIONS[(state, input)]`` lists the states the association may be in after taking
``input`` in ``state``, with what it does. The association consults it for every chunk,
user call and timer: an input with no entry is discarded (a chunk or timer) or refused with
:class:`~rserpool.sctp.errors.SctpUsageError` (a user call), and every change of state is
checked against the entry. :func:`render_state_table` writes the table into docs/sctp.md;
a test checks the page and the table agree.

States are RFC 9260's; CLOSED is the state of an association that does not exist (yet or
any more): the endpoint answers INIT and creates the association from a valid COOKIE ECHO.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class State(enum.Enum):
    __hash__ = object.__hash__  # members are singletons; Enum's own hash is slow

    CLOSED = "CLOSED"
    COOKIE_WAIT = "COOKIE-WAIT"
    COOKIE_ECHOED = "COOKIE-ECHOED"
    ESTABLISHED = "ESTABLISHED"
    SHUTDOWN_PENDING = "SHUTDOWN-PENDING"
    SHUTDOWN_SENT = "SHUTDOWN-SENT"
    SHUTDOWN_RECEIVED = "SHUTDOWN-RECEIVED"
    SHUTDOWN_ACK_SENT = "SHUTDOWN-ACK-SENT"


class Input(enum.Enum):
    """What can happen to an association: chunks received, user calls (§11.1), timers."""

    __hash__ = object.__hash__  # members are singletons; Enum's own hash is slow

    # chunks received (a COOKIE ECHO counts only once its cookie is authentic and fresh)
    INIT = "INIT"
    INIT_ACK = "INIT ACK"
    COOKIE_ECHO = "COOKIE ECHO"
    COOKIE_ACK = "COOKIE ACK"
    DATA = "DATA"
    SACK = "SACK"
    HEARTBEAT = "HEARTBEAT"
    HEARTBEAT_ACK = "HEARTBEAT ACK"
    ERROR = "ERROR"
    STALE_COOKIE = "ERROR(Stale Cookie)"
    ABORT = "ABORT"
    SHUTDOWN = "SHUTDOWN"
    SHUTDOWN_ACK = "SHUTDOWN ACK"
    SHUTDOWN_COMPLETE = "SHUTDOWN COMPLETE"
    # user primitives
    ASSOCIATE = "user: associate"
    SEND = "user: send"
    USER_SHUTDOWN = "user: shutdown"
    USER_ABORT = "user: abort"
    # timers
    T1_INIT = "T1-init expires"
    T1_COOKIE = "T1-cookie expires"
    T2_SHUTDOWN = "T2-shutdown expires"
    T3_RTX = "T3-rtx expires"
    HEARTBEAT_TIMER = "heartbeat timer expires"
    DELAYED_SACK = "delayed SACK timer expires"


USER_INPUTS = frozenset({Input.ASSOCIATE, Input.SEND, Input.USER_SHUTDOWN, Input.USER_ABORT})


@dataclass(frozen=True, slots=True)
class Transition:
    to: tuple[State, ...]
    action: str


S = State
I = Input  # noqa: E741
_DATA_STATES = (S.ESTABLISHED, S.SHUTDOWN_PENDING, S.SHUTDOWN_SENT, S.SHUTDOWN_RECEIVED)
_LIVE_STATES = (*_DATA_STATES, S.SHUTDOWN_ACK_SENT)
_RTX = "retransmit, back off RTO; past Association.Max.Retrans: CLOSED, communication lost"

TRANSITIONS: dict[tuple[State, Input], Transition] = {
    (S.CLOSED, I.ASSOCIATE): Transition((S.COOKIE_WAIT,), "send INIT, start T1-init"),
    (S.CLOSED, I.COOKIE_ECHO): Transition(
        (S.ESTABLISHED,), "create the association from the cookie, send COOKIE ACK (§5.1.5)"
    ),
    # COOKIE-WAIT
    (S.COOKIE_WAIT, I.INIT_ACK): Transition(
        (S.COOKIE_ECHOED, S.CLOSED),
        "send COOKIE ECHO (with queued DATA), start T1-cookie; a bad INIT ACK: ABORT",
    ),
    (S.COOKIE_WAIT, I.INIT): Transition(
        (S.COOKIE_WAIT,), "collision (§5.2.1): INIT ACK with our original tag, no tie-tags"
    ),
    (S.COOKIE_WAIT, I.COOKIE_ECHO): Transition(
        (S.ESTABLISHED, S.COOKIE_WAIT), "collision (§5.2.4 B): adopt the peer's tag, COOKIE ACK"
    ),
    (S.COOKIE_WAIT, I.T1_INIT): Transition(
        (S.COOKIE_WAIT, S.CLOSED), "resend INIT; past Max.Init.Retransmits: CLOSED"
    ),
    (S.COOKIE_WAIT, I.SEND): Transition((S.COOKIE_WAIT,), "queue the message"),
    # COOKIE-ECHOED
    (S.COOKIE_ECHOED, I.COOKIE_ACK): Transition(
        (S.ESTABLISHED,), "stop T1-cookie, communication up, send queued DATA"
    ),
    (S.COOKIE_ECHOED, I.INIT): Transition(
        (S.COOKIE_ECHOED,), "collision (§5.2.1): INIT ACK with our original tag and tie-tags"
    ),
    (S.COOKIE_ECHOED, I.COOKIE_ECHO): Transition(
        (S.ESTABLISHED, S.COOKIE_ECHOED),
        "collision (§5.2.4 B or D): COOKIE ACK; case C: discard",
    ),
    (S.COOKIE_ECHOED, I.STALE_COOKIE): Transition(
        (S.COOKIE_WAIT, S.CLOSED),
        "new INIT with a Cookie Preservative (§5.2.6 option 3); past Max.Init.Retransmits: CLOSED",
    ),
    (S.COOKIE_ECHOED, I.T1_COOKIE): Transition(
        (S.COOKIE_ECHOED, S.CLOSED), "resend COOKIE ECHO; past Max.Init.Retransmits: CLOSED"
    ),
    (S.COOKIE_ECHOED, I.SEND): Transition((S.COOKIE_ECHOED,), "queue the message"),
}

for _state in (S.COOKIE_WAIT, S.COOKIE_ECHOED):
    TRANSITIONS[(_state, I.SHUTDOWN_ACK)] = Transition(
        (_state,), "out of the blue (§8.5.1 E): SHUTDOWN COMPLETE with the T bit"
    )
    TRANSITIONS[(_state, I.USER_SHUTDOWN)] = Transition((S.CLOSED,), "forget the association")

for _state in _DATA_STATES:
    TRANSITIONS[(_state, I.T3_RTX)] = Transition((_state, S.CLOSED), _RTX)
    TRANSITIONS[(_state, I.DELAYED_SACK)] = Transition((_state,), "send SACK")
for _state in (S.ESTABLISHED, S.SHUTDOWN_PENDING, S.SHUTDOWN_SENT):
    TRANSITIONS[(_state, I.DATA)] = Transition(
        (_state,),
        "record TSN, reassemble, deliver in order; SACK (delayed or at once)"
        + ("; answer with SHUTDOWN" if _state is S.SHUTDOWN_SENT else ""),
    )
for _state in _LIVE_STATES:
    TRANSITIONS[(_state, I.HEARTBEAT)] = Transition((_state,), "send HEARTBEAT ACK")
    TRANSITIONS[(_state, I.HEARTBEAT_ACK)] = Transition(
        (_state,), "path confirmed and active, RTT measured, error counters cleared"
    )
    TRANSITIONS[(_state, I.HEARTBEAT_TIMER)] = Transition(
        (_state, S.CLOSED),
        "count an unanswered HEARTBEAT, send the next; path inactive past Path.Max.Retrans",
    )
    TRANSITIONS[(_state, I.ERROR)] = Transition((_state,), "report the causes to the user")
for _state in (S.ESTABLISHED, S.SHUTDOWN_PENDING, S.SHUTDOWN_SENT, S.SHUTDOWN_RECEIVED):
    TRANSITIONS[(_state, I.INIT)] = Transition(
        (_state,), "unexpected INIT (§5.2.2): INIT ACK with tie-tags; new addresses: ABORT"
    )
    TRANSITIONS[(_state, I.COOKIE_ECHO)] = Transition(
        (S.ESTABLISHED, _state),
        "§5.2.4: peer restart (A), collision (B), duplicate (D): COOKIE ACK; C: discard",
    )
for _state in (S.COOKIE_WAIT, S.COOKIE_ECHOED, *_LIVE_STATES):
    TRANSITIONS[(_state, I.ABORT)] = Transition((S.CLOSED,), "communication lost")
    TRANSITIONS[(_state, I.USER_ABORT)] = Transition((S.CLOSED,), "send ABORT")

TRANSITIONS.update(
    {
        (S.ESTABLISHED, I.SACK): Transition((S.ESTABLISHED,), "free acked DATA, cwnd, rwnd"),
        (S.ESTABLISHED, I.SEND): Transition((S.ESTABLISHED,), "fragment, queue, send"),
        (S.ESTABLISHED, I.USER_SHUTDOWN): Transition(
            (S.SHUTDOWN_PENDING, S.SHUTDOWN_SENT),
            "wait for outstanding DATA; none: send SHUTDOWN, start T2-shutdown",
        ),
        (S.ESTABLISHED, I.SHUTDOWN): Transition(
            (S.SHUTDOWN_RECEIVED, S.SHUTDOWN_ACK_SENT),
            "take the cumulative ack; once our DATA is acked, SHUTDOWN ACK, T2-shutdown",
        ),
        (S.SHUTDOWN_PENDING, I.SACK): Transition(
            (S.SHUTDOWN_PENDING, S.SHUTDOWN_SENT),
            "free acked DATA; all acked: send SHUTDOWN, start T2-shutdown",
        ),
        (S.SHUTDOWN_PENDING, I.SHUTDOWN): Transition(
            (S.SHUTDOWN_RECEIVED, S.SHUTDOWN_ACK_SENT),
            "take the cumulative ack; once our DATA is acked, SHUTDOWN ACK",
        ),
        (S.SHUTDOWN_SENT, I.SACK): Transition((S.SHUTDOWN_SENT,), "nothing left to free"),
        (S.SHUTDOWN_SENT, I.SHUTDOWN): Transition(
            (S.SHUTDOWN_ACK_SENT,), "send SHUTDOWN ACK, restart T2-shutdown (§9.2)"
        ),
        (S.SHUTDOWN_SENT, I.SHUTDOWN_ACK): Transition(
            (S.CLOSED,), "send SHUTDOWN COMPLETE, shutdown complete"
        ),
        (S.SHUTDOWN_SENT, I.T2_SHUTDOWN): Transition(
            (S.SHUTDOWN_SENT, S.CLOSED), "resend SHUTDOWN; past Association.Max.Retrans: CLOSED"
        ),
        (S.SHUTDOWN_RECEIVED, I.SACK): Transition(
            (S.SHUTDOWN_RECEIVED, S.SHUTDOWN_ACK_SENT),
            "free acked DATA; all acked: send SHUTDOWN ACK, start T2-shutdown",
        ),
        (S.SHUTDOWN_RECEIVED, I.SHUTDOWN): Transition(
            (S.SHUTDOWN_RECEIVED, S.SHUTDOWN_ACK_SENT), "take the cumulative ack"
        ),
        (S.SHUTDOWN_ACK_SENT, I.SHUTDOWN_COMPLETE): Transition(
            (S.CLOSED,), "stop T2-shutdown, shutdown complete"
        ),
        (S.SHUTDOWN_ACK_SENT, I.SHUTDOWN_ACK): Transition(
            (S.CLOSED,), "both sides shut down at once: send SHUTDOWN COMPLETE (§9.2)"
        ),
        (S.SHUTDOWN_ACK_SENT, I.SHUTDOWN): Transition(
            (S.SHUTDOWN_ACK_SENT,), "resend SHUTDOWN ACK"
        ),
        (S.SHUTDOWN_ACK_SENT, I.INIT): Transition(
            (S.SHUTDOWN_ACK_SENT,), "discard the INIT, resend SHUTDOWN ACK (§9.2)"
        ),
        (S.SHUTDOWN_ACK_SENT, I.COOKIE_ECHO): Transition(
            (S.SHUTDOWN_ACK_SENT,),
            "resend SHUTDOWN ACK, ERROR(Cookie Received While Shutting Down) (§5.2.4 A)",
        ),
        (S.SHUTDOWN_ACK_SENT, I.T2_SHUTDOWN): Transition(
            (S.SHUTDOWN_ACK_SENT, S.CLOSED),
            "resend SHUTDOWN ACK; past Association.Max.Retrans: CLOSED",
        ),
    }
)
del _state


def transition(state: State, event: Input) -> Transition | None:
    """The table's entry, or None: the input is discarded (or refused, for a user call)."""
    return TRANSITIONS.get((state, event))


def render_state_table() -> str:
    """The table as Markdown, in state order then input order (docs/sctp.md embeds it)."""
    lines = [
        "| State | Input | Next state | What the association does |",
        "|---|---|---|---|",
    ]
    states = list(State)
    inputs = list(Input)
    for (state, event), entry in sorted(
        TRANSITIONS.items(), key=lambda kv: (states.index(kv[0][0]), inputs.index(kv[0][1]))
    ):
        to = " or ".join(s.value for s in entry.to)
        lines.append(f"| {state.value} | {event.value} | {to} | {entry.action} |")
    return "\n".join(lines) + "\n"
