"""The registrar's explicit state machines: startup, each peer, each takeover (RFC 5353 §3).

Each machine is one table, (state, input) → new state, that the code consults for every
transition; nothing else changes a state. Every pair has an entry: an input that does not
change the state says so (the same state), and an input that cannot happen in a state (the
registrar's own bookkeeping rules it out) is :data:`IMPOSSIBLE`, which raises
``AssertionError``: a bug, never the network's doing. :func:`render_markdown` prints a table as
it appears in ``docs/registrar.md``; :func:`render_all` prints them all, between the comments
that mark them there:

    python -c "from rserpool.proto.registrar.machines import render_all; print(render_all())"

The states and inputs are enums whose values are their descriptions.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar


class Impossible(enum.Enum):
    IMPOSSIBLE = "cannot happen (internal error)"


IMPOSSIBLE = Impossible.IMPOSSIBLE

S = TypeVar("S", bound=enum.Enum)
I = TypeVar("I", bound=enum.Enum)  # noqa: E741


@dataclass(frozen=True)
class Machine(Generic[S, I]):
    """One state machine: its states, inputs and complete transition table."""

    name: str
    states: type[S]
    inputs: type[I]
    table: Mapping[tuple[S, I], S | Impossible]

    def __post_init__(self) -> None:
        pairs = {(s, i) for s in self.states for i in self.inputs}
        missing = pairs - set(self.table)
        extra = set(self.table) - pairs
        if missing or extra:
            raise TypeError(f"{self.name}: missing {sorted(map(str, missing))}, extra {extra}")

    def next(self, state: S, event: I) -> S:
        """The state after ``event`` in ``state``; ``AssertionError`` if impossible (a bug)."""
        new = self.table[state, event]
        if isinstance(new, Impossible):
            raise AssertionError(f"{self.name}: {event.name} cannot happen in {state.name}")
        return new


def render_markdown(machine: Machine[S, I]) -> str:
    """The machine as Markdown: its states, its inputs, then the table (one row per state)."""
    lines = [f"| {machine.name} state | meaning |", "|---|---|"]
    lines += [f"| `{s.name}` | {s.value} |" for s in machine.states]
    lines += ["", "| input | meaning |", "|---|---|"]
    lines += [f"| `{i.name}` | {i.value} |" for i in machine.inputs]
    inputs = list(machine.inputs)
    lines += ["", "| state \\ input | " + " | ".join(f"`{i.name}`" for i in inputs) + " |"]
    lines.append("|---" * (len(inputs) + 1) + "|")
    for state in machine.states:
        cells = []
        for event in inputs:
            new = machine.table[state, event]
            if isinstance(new, Impossible):
                cells.append("✗")
            elif new is state:
                cells.append("=")
            else:
                cells.append(f"`{new.name}`")
        lines.append(f"| `{state.name}` | " + " | ".join(cells) + " |")
    lines += ["", "`=`: the state does not change; ✗: cannot happen (an internal error)."]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ startup


class StartupState(enum.Enum):
    """The registrar's own phase (RFC 5353 §3.2)."""

    INITIALIZING = "created; no Presence sent yet"
    MENTOR_DISCOVERY = "Presence sent; the first peer heard becomes the mentor"
    SYNCHRONIZING = "mentor chosen; its handle table is being downloaded"
    IN_SERVICE = "startup over: Server Announces are sent"


class StartupInput(enum.Enum):
    START = "Presence to the static peers and the multicast group; discovery timer armed"
    PEER_HEARD = "a peer's Presence was accepted"
    MENTOR_TABLE_COMPLETE = "the mentor's last Handle Table Response (More-to-send clear)"
    MENTOR_LOST = "the mentor left the peer list or rejected the Handle Table Request"
    DISCOVERY_TIMEOUT = "the mentor discovery timer fired"


_S, _SI = StartupState, StartupInput
STARTUP: Machine[StartupState, StartupInput] = Machine(
    "startup",
    StartupState,
    StartupInput,
    {
        (_S.INITIALIZING, _SI.START): _S.MENTOR_DISCOVERY,
        (_S.INITIALIZING, _SI.PEER_HEARD): IMPOSSIBLE,
        (_S.INITIALIZING, _SI.MENTOR_TABLE_COMPLETE): IMPOSSIBLE,
        (_S.INITIALIZING, _SI.MENTOR_LOST): IMPOSSIBLE,
        (_S.INITIALIZING, _SI.DISCOVERY_TIMEOUT): IMPOSSIBLE,
        (_S.MENTOR_DISCOVERY, _SI.START): IMPOSSIBLE,
        (_S.MENTOR_DISCOVERY, _SI.PEER_HEARD): _S.SYNCHRONIZING,
        (_S.MENTOR_DISCOVERY, _SI.MENTOR_TABLE_COMPLETE): IMPOSSIBLE,  # no mentor
        (_S.MENTOR_DISCOVERY, _SI.MENTOR_LOST): IMPOSSIBLE,
        (_S.MENTOR_DISCOVERY, _SI.DISCOVERY_TIMEOUT): _S.IN_SERVICE,
        (_S.SYNCHRONIZING, _SI.START): IMPOSSIBLE,
        (_S.SYNCHRONIZING, _SI.PEER_HEARD): _S.SYNCHRONIZING,  # one mentor is enough
        (_S.SYNCHRONIZING, _SI.MENTOR_TABLE_COMPLETE): _S.IN_SERVICE,
        (_S.SYNCHRONIZING, _SI.MENTOR_LOST): _S.MENTOR_DISCOVERY,  # the next peer heard
        (_S.SYNCHRONIZING, _SI.DISCOVERY_TIMEOUT): _S.IN_SERVICE,
        (_S.IN_SERVICE, _SI.START): IMPOSSIBLE,
        (_S.IN_SERVICE, _SI.PEER_HEARD): _S.IN_SERVICE,
        (_S.IN_SERVICE, _SI.MENTOR_TABLE_COMPLETE): _S.IN_SERVICE,  # a later audit download
        (_S.IN_SERVICE, _SI.MENTOR_LOST): _S.IN_SERVICE,  # the mentor is remembered
        (_S.IN_SERVICE, _SI.DISCOVERY_TIMEOUT): IMPOSSIBLE,  # cancelled when startup ended
    },
)


# -------------------------------------------------------------------------------- peers


class PeerState(enum.Enum):
    """One peer's liveness as we monitor it (RFC 5353 §3.3, §3.4, §3.5)."""

    NEW = "known by address only (a static peer whose id is unknown): not monitored"
    ALIVE = "heard recently; MAX-TIME-LAST-HEARD runs"
    AWAITING_RESPONSE = "sent Presence with reply-required; MAX-TIME-NO-RESPONSE runs"
    BEING_TAKEN_OVER = "another registrar announced its takeover; watched for no-response"
    FAILED = "no response: we take it over (it owns PEs); it owes no Ack; no timer runs"
    REMOVED = "no longer in the peer list"


class PeerInput(enum.Enum):
    HEARD = "any ENRP message from the peer, on its association, other than Presence"
    PRESENCE = "a Presence from the peer over SCTP (it is active: a takeover of it ends)"
    LAST_HEARD_TIMEOUT = "MAX-TIME-LAST-HEARD fired: Presence with reply-required goes out"
    NO_RESPONSE_TIMEOUT = "MAX-TIME-NO-RESPONSE fired"
    TAKEOVER_ANNOUNCED = "another registrar's Init Takeover for the peer, which we ack"
    REMOVE = "the peer leaves the list (dead without PEs, taken over, takeover expired)"


_P, _PI = PeerState, PeerInput
_ANY_PRESENCE: dict[tuple[PeerState, PeerInput], PeerState | Impossible] = {
    (s, _PI.PRESENCE): _P.ALIVE for s in _P if s is not _P.REMOVED
}
PEERS: Machine[PeerState, PeerInput] = Machine(
    "peer",
    PeerState,
    PeerInput,
    {
        **_ANY_PRESENCE,
        (_P.NEW, _PI.HEARD): _P.ALIVE,
        (_P.NEW, _PI.LAST_HEARD_TIMEOUT): IMPOSSIBLE,
        (_P.NEW, _PI.NO_RESPONSE_TIMEOUT): IMPOSSIBLE,
        (_P.NEW, _PI.TAKEOVER_ANNOUNCED): IMPOSSIBLE,  # only peers with a known id
        (_P.NEW, _PI.REMOVE): _P.REMOVED,
        (_P.ALIVE, _PI.HEARD): _P.ALIVE,
        (_P.ALIVE, _PI.LAST_HEARD_TIMEOUT): _P.AWAITING_RESPONSE,
        (_P.ALIVE, _PI.NO_RESPONSE_TIMEOUT): IMPOSSIBLE,
        (_P.ALIVE, _PI.TAKEOVER_ANNOUNCED): _P.BEING_TAKEN_OVER,
        (_P.ALIVE, _PI.REMOVE): _P.REMOVED,
        (_P.AWAITING_RESPONSE, _PI.HEARD): _P.ALIVE,
        (_P.AWAITING_RESPONSE, _PI.LAST_HEARD_TIMEOUT): IMPOSSIBLE,
        (_P.AWAITING_RESPONSE, _PI.NO_RESPONSE_TIMEOUT): _P.FAILED,
        (_P.AWAITING_RESPONSE, _PI.TAKEOVER_ANNOUNCED): _P.BEING_TAKEN_OVER,
        (_P.AWAITING_RESPONSE, _PI.REMOVE): _P.REMOVED,
        (_P.BEING_TAKEN_OVER, _PI.HEARD): _P.BEING_TAKEN_OVER,  # only Presence revives it
        (_P.BEING_TAKEN_OVER, _PI.LAST_HEARD_TIMEOUT): IMPOSSIBLE,
        (_P.BEING_TAKEN_OVER, _PI.NO_RESPONSE_TIMEOUT): _P.FAILED,
        (_P.BEING_TAKEN_OVER, _PI.TAKEOVER_ANNOUNCED): _P.BEING_TAKEN_OVER,
        (_P.BEING_TAKEN_OVER, _PI.REMOVE): _P.REMOVED,
        (_P.FAILED, _PI.HEARD): _P.ALIVE,  # monitored again; our takeover goes on
        (_P.FAILED, _PI.LAST_HEARD_TIMEOUT): IMPOSSIBLE,
        (_P.FAILED, _PI.NO_RESPONSE_TIMEOUT): IMPOSSIBLE,
        (_P.FAILED, _PI.TAKEOVER_ANNOUNCED): _P.BEING_TAKEN_OVER,
        (_P.FAILED, _PI.REMOVE): _P.REMOVED,
        (_P.REMOVED, _PI.HEARD): IMPOSSIBLE,
        (_P.REMOVED, _PI.PRESENCE): IMPOSSIBLE,
        (_P.REMOVED, _PI.LAST_HEARD_TIMEOUT): IMPOSSIBLE,
        (_P.REMOVED, _PI.NO_RESPONSE_TIMEOUT): IMPOSSIBLE,
        (_P.REMOVED, _PI.TAKEOVER_ANNOUNCED): IMPOSSIBLE,
        (_P.REMOVED, _PI.REMOVE): IMPOSSIBLE,
    },
)


# ----------------------------------------------------------------------------- takeover


class TakeoverState(enum.Enum):
    """Our takeover of one failed peer, the target (RFC 5353 §3.5)."""

    IDLE = "no takeover of the target by us"
    AWAITING_ACKS = "Init Takeover sent to every peer; Init Takeover Acks are owed"
    PROPOSED = "Init Takeover sent; no Ack is owed: it completes at the takeover expiry"
    COMPLETED = "Takeover Server sent; we are home of the target's PEs"
    ABORTED = "given up: the target spoke, a rival won, or a live peer had not acked at expiry"


class TakeoverInput(enum.Enum):
    START_ACKS_OWED = "the target failed; other live, verified peers must ack"
    START_NONE_OWED = "the target failed; no live, verified peer to ack"
    ACK = "an Ack arrived (or an owing peer left or failed); Acks are still owed"
    LAST_ACK = "an Ack arrived (or the last owing peer left, failed or fell silent); none is owed"
    EXPIRY = "the takeover expiry timer fired; a live peer still owes an Ack (or none was owed)"
    TARGET_ALIVE = "the target sent Presence"
    RIVAL_LOWER_ID = "Init Takeover for the target from a registrar with a lower id"
    RIVAL_HIGHER_ID = "Init Takeover for the target from a registrar with a higher id"
    TAKEN_OVER_ELSEWHERE = "Takeover Server for the target from another registrar"
    TARGET_REMOVED = "the target left the peer list"


_T, _TI = TakeoverState, TakeoverInput
_ENDED = {(s, i): IMPOSSIBLE for s in (_T.COMPLETED, _T.ABORTED) for i in _TI}
_NOT_STARTED = {(_T.IDLE, i): IMPOSSIBLE for i in _TI}
_RUNNING = {
    (s, i): _T.ABORTED
    for s in (_T.AWAITING_ACKS, _T.PROPOSED)
    for i in (_TI.TARGET_ALIVE, _TI.RIVAL_LOWER_ID, _TI.TAKEN_OVER_ELSEWHERE, _TI.TARGET_REMOVED)
}
TAKEOVER: Machine[TakeoverState, TakeoverInput] = Machine(
    "takeover",
    TakeoverState,
    TakeoverInput,
    {
        **_ENDED,
        **_NOT_STARTED,
        **_RUNNING,
        (_T.IDLE, _TI.START_ACKS_OWED): _T.AWAITING_ACKS,
        (_T.IDLE, _TI.START_NONE_OWED): _T.PROPOSED,
        (_T.AWAITING_ACKS, _TI.START_ACKS_OWED): IMPOSSIBLE,
        (_T.AWAITING_ACKS, _TI.START_NONE_OWED): IMPOSSIBLE,
        (_T.AWAITING_ACKS, _TI.ACK): _T.AWAITING_ACKS,
        (_T.AWAITING_ACKS, _TI.LAST_ACK): _T.COMPLETED,
        (_T.AWAITING_ACKS, _TI.EXPIRY): _T.ABORTED,  # live peers did not ack: PEs stay
        (_T.AWAITING_ACKS, _TI.RIVAL_HIGHER_ID): _T.AWAITING_ACKS,  # the lower id wins
        (_T.PROPOSED, _TI.START_ACKS_OWED): IMPOSSIBLE,
        (_T.PROPOSED, _TI.START_NONE_OWED): IMPOSSIBLE,
        (_T.PROPOSED, _TI.ACK): IMPOSSIBLE,  # nobody owes one
        (_T.PROPOSED, _TI.LAST_ACK): _T.COMPLETED,  # RSPLIB: any Ack completes it
        (_T.PROPOSED, _TI.EXPIRY): _T.COMPLETED,
        (_T.PROPOSED, _TI.RIVAL_HIGHER_ID): _T.PROPOSED,
    },
)

#: Every machine, in the order docs/registrar.md shows them.
MACHINES: tuple[Machine[Any, Any], ...] = (STARTUP, PEERS, TAKEOVER)


def render_all() -> str:
    """Every machine's Markdown between the markers docs/registrar.md has around it."""
    return "\n\n".join(
        f"<!-- state table: {m.name} -->\n{render_markdown(m)}\n<!-- end state table -->"
        for m in MACHINES
    )
