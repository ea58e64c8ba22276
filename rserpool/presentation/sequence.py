"""A capture as a sequence diagram: who sent which ASAP/ENRP message to whom, and when.

:func:`sequence_diagram` is a pure function from the records of
:func:`rserpool.capture.read_capture` to a :class:`SequenceDiagram`: the lifelines
(:mod:`rserpool.presentation.sequence_nodes` finds and names them: ``PU 198.51.100.7``,
``PR $00000101``, ``PE $00002001``, in that order, so that most arrows are short) and one
:class:`Arrow` per message, labelled with the message's name from the RFCs, a short detail and
the time since the capture's first frame. Renderers draw it:
:mod:`rserpool.presentation.sequence_mermaid` as Mermaid text,
:mod:`rserpool.presentation.sequence_svg` as an SVG picture (``rserpool decode FILE --svg``).

Routine traffic is folded. Registrars send Endpoint Keep Alives to their PEs, Presences to
their peers and Server Announces to everyone every few seconds; a capture of a minute holds
dozens. Between two other messages (a Registration, a Handle Resolution, ...), repetitions of
the same routine message between the same two lifelines become one arrow, ``×N`` with the time
of the first and the last: the diagram keeps the story, not the heartbeat. An Endpoint Keep
Alive with the H bit (a registrar taking over a PE) is not routine.

What the capture layer does not decode is not drawn: the application's own messages (PPIDs
other than ASAP's and ENRP's) and SCTP's chunks (INIT, SHUTDOWN, ABORT); the diagram's caption
says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from rserpool.capture import Record
from rserpool.presentation.sequence_nodes import Participant, find_nodes
from rserpool.wire import (
    BusinessCard,
    Cookie,
    CookieEcho,
    Deregistration,
    DeregistrationResponse,
    EndpointKeepAlive,
    EndpointKeepAliveAck,
    EndpointUnreachable,
    HandleResolution,
    HandleResolutionResponse,
    HandleTableRequest,
    HandleTableResponse,
    HandleUpdate,
    InitTakeover,
    InitTakeoverAck,
    ListResponse,
    Message,
    Presence,
    Registration,
    RegistrationResponse,
    ServerAnnounce,
    TakeoverServer,
)
from rserpool.wire.constants import UpdateAction
from rserpool.wire.params import OperationError
from rserpool.wire.text import cause_text, handle_text, ident

__all__ = ["Arrow", "Note", "Participant", "SequenceDiagram", "sequence_diagram"]

NOT_SHOWN = (
    "ASAP and ENRP messages only: the application's own data and SCTP's chunks (INIT, "
    "SHUTDOWN, ABORT) are not drawn."
)
FOLDED = "Repeated Keep Alives, Presences and Server Announces are folded (×N)."


@dataclass(frozen=True, slots=True)
class Arrow:
    """One message, or ``count`` repetitions of a routine one, from ``src`` to ``dst``
    (participant ids)."""

    src: str
    dst: str
    label: str  # the message's name: "Registration", "ENRP Presence", ...
    detail: str  # "EchoPool $00002001", "OK", "checksum 0x7250", ...
    first: float  # seconds since the capture's first frame
    last: float
    count: int = 1
    frames: tuple[int, ...] = ()
    reply: bool = False  # a response or acknowledgement (drawn dashed)
    protocol: str = "asap"  # or "enrp"

    @property
    def text(self) -> str:
        """``Endpoint Keep Alive ×3: $00002001``."""
        times = f" ×{self.count}" if self.count > 1 else ""
        return f"{self.label}{times}: {self.detail}" if self.detail else f"{self.label}{times}"

    @property
    def when(self) -> str:
        """``0.037 s``, or for a folded arrow ``5.040–15.062 s``."""
        if self.count > 1:
            return f"{self.first:.3f}–{self.last:.3f} s"
        return f"{self.first:.3f} s"


@dataclass(frozen=True, slots=True)
class Note:
    """A remark on lifelines (``over``: participant ids), between arrows."""

    over: tuple[str, ...]
    text: str
    time: float


@dataclass(frozen=True, slots=True)
class SequenceDiagram:
    title: str
    participants: tuple[Participant, ...]
    rows: tuple[Arrow | Note, ...]
    caption: tuple[str, ...]  # sentences about what the diagram leaves out

    @property
    def arrows(self) -> list[Arrow]:
        return [row for row in self.rows if isinstance(row, Arrow)]

    def participant(self, pid: str) -> Participant:
        return next(p for p in self.participants if p.id == pid)


def sequence_diagram(records: Iterable[Record], title: str = "") -> SequenceDiagram:
    """The diagram of a capture's records (:attr:`rserpool.capture.DecodedCapture.records`)."""
    records = list(records)
    nodes = find_nodes(records)
    rows: list[Arrow | Note] = []
    open_runs: dict[tuple[str, str, str, str], int] = {}  # routine arrow -> its row
    incomplete = 0
    for r in records:
        if r.incomplete:
            incomplete += 1
            continue
        arrow = _arrow(r, nodes.of(r.src), nodes.of(r.dst))
        key = (arrow.src, arrow.dst, arrow.label, arrow.detail)
        if not _routine(r.message):
            rows.append(arrow)
            open_runs.clear()  # something happened: what repeats after it is drawn anew
        elif key in open_runs:
            at = open_runs[key]
            row = rows[at]
            assert isinstance(row, Arrow)
            rows[at] = dataclasses.replace(
                row, last=arrow.first, count=row.count + 1, frames=row.frames + arrow.frames
            )
        else:
            open_runs[key] = len(rows)
            rows.append(arrow)
            if isinstance(r.message, EndpointKeepAlive):  # its Ack follows it, not the last one
                open_runs.pop((arrow.dst, arrow.src, "Endpoint Keep Alive Ack", arrow.detail), None)
    caption = [NOT_SHOWN]
    if any(isinstance(row, Arrow) and row.count > 1 for row in rows):
        caption.append(FOLDED)
    if incomplete:
        caption.append(f"{incomplete} message(s) the capture holds only part of are left out.")
    return SequenceDiagram(title, nodes.participants, tuple(rows), tuple(caption))


def _routine(message: Message | None) -> bool:
    if isinstance(message, EndpointKeepAlive):
        return not message.home
    return isinstance(message, EndpointKeepAliveAck | Presence | ServerAnnounce)


def _arrow(r: Record, src: str, dst: str) -> Arrow:
    m = r.message
    if m is None:
        label, detail, reply = f"{r.name} (undecodable)", _short(r.error or ""), False
    else:
        label, detail = message_label(m), message_detail(m)
        reply = m.NAME.endswith(("Response", "Ack"))
    return Arrow(src, dst, label, detail, r.time, r.time, 1, (r.frame,), reply, r.protocol)


def message_label(message: Message) -> str:
    """The message's name as the RFCs write it; ENRP's Presence and both Errors say whose."""
    if message.NAME in ("Presence", "Error"):
        return f"{message.PPID.name} {message.NAME}"
    return message.NAME


def _short(text: str, limit: int = 48) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _outcome(error: OperationError | None, reject: bool = False) -> str:
    if error is None and not reject:
        return "OK"
    cause = "" if error is None else ": " + ", ".join(cause_text(c.code) for c in error.causes)
    return f"rejected{cause}"


def _ids(ids: list[int], most: int = 3) -> str:
    text = ", ".join(ident(i) for i in ids[:most])
    return text + (f" +{len(ids) - most}" if len(ids) > most else "")


def message_detail(m: Message) -> str:
    """A few words: the pool handle and PE, the outcome, what is special about it."""
    if isinstance(m, Registration):
        return f"{handle_text(m.pool_handle)} {ident(m.pool_element.pe_id)}"
    if isinstance(m, RegistrationResponse):
        return f"{ident(m.pe_id)} {_outcome(m.error, m.reject)}"
    if isinstance(m, DeregistrationResponse):
        return f"{ident(m.pe_id)} {_outcome(m.error)}"
    if isinstance(m, Deregistration | EndpointUnreachable):
        return f"{handle_text(m.pool_handle)} {ident(m.pe_id)}"
    if isinstance(m, EndpointKeepAlive):
        return ident(m.pe_id) + (" H: new home registrar" if m.home else "")
    if isinstance(m, EndpointKeepAliveAck):
        return ident(m.pe_id)
    if isinstance(m, HandleResolution):
        return handle_text(m.pool_handle)
    if isinstance(m, HandleResolutionResponse):
        if m.error is not None:
            return f"{handle_text(m.pool_handle)} {_outcome(m.error)}"
        ids = [pe.pe_id for pe in m.pool_elements]
        return f"{handle_text(m.pool_handle)}: {_ids(ids) or 'no PE'}"
    if isinstance(m, BusinessCard):
        return f"{handle_text(m.pool_handle)}: {_ids([pe.pe_id for pe in m.pool_elements])}"
    if isinstance(m, Cookie | CookieEcho):
        return f"{len(m.cookie)} bytes"
    if isinstance(m, ServerAnnounce):
        return ident(m.server_id)
    return _enrp_detail(m)


def _enrp_detail(m: Message) -> str:
    if isinstance(m, Presence):
        return f"checksum {m.pe_checksum:#06x}" + (", reply required" if m.reply_required else "")
    if isinstance(m, HandleTableRequest):
        return "own children only" if m.own_children_only else ""
    if isinstance(m, HandleTableResponse):
        if m.reject:
            return "rejected"
        pes = sum(len(e.pool_elements) for e in m.entries)
        more = ", more to send" if m.more_to_send else ""
        return f"{len(m.entries)} pool(s), {pes} PE(s){more}"
    if isinstance(m, HandleUpdate):
        action = "add" if m.action == UpdateAction.ADD_PE else "delete"
        return f"{action} {handle_text(m.pool_handle)} {ident(m.pool_element.pe_id)}"
    if isinstance(m, ListResponse):
        return "rejected" if m.reject else f"{len(m.servers)} registrar(s)"
    if isinstance(m, InitTakeover | InitTakeoverAck | TakeoverServer):
        return f"target {ident(m.target_id)}"
    error = getattr(m, "error", None)
    if isinstance(error, OperationError):
        return ", ".join(cause_text(c.code) for c in error.causes)
    return ""
