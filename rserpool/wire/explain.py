"""One sentence per message: what an ASAP or ENRP message means in the conversation.

RSerPool has three roles. A *pool element* (PE) is a server; it registers under a *pool
handle* (a name such as ``EchoPool``) at one *registrar*, its *home* registrar, which then
watches it with keep-alives. A *pool user* (PU) is a client; it asks a registrar which PEs
serve a pool handle, picks one by the pool's selection policy and, when that PE dies, fails
over to another one. ASAP (RFC 5352) is what PEs and PUs say to registrars and to each other;
ENRP (RFC 5353) is what registrars say to each other to keep one shared *handlespace* (every
pool and its PEs) in step, and to take over the PEs of a registrar that died.

:func:`explain` turns one decoded message into the sentence a person would say about it, e.g.
``the registrar accepts PE $00002001 into EchoPool and is now its home registrar ...``.
``rserpool decode`` prints it for every message of a capture, and ``make demo`` for its trace.
Identifiers are printed as RSPLIB prints them (``$00002001``), so that the sentences can be
matched against RSPLIB's logs.
"""

from __future__ import annotations

from functools import singledispatch

from rserpool.wire.asap import (
    AsapError,
    Deregistration,
    DeregistrationResponse,
    EndpointKeepAlive,
    EndpointKeepAliveAck,
    EndpointUnreachable,
    HandleResolution,
    HandleResolutionResponse,
    Registration,
    RegistrationResponse,
    ServerAnnounce,
)
from rserpool.wire.asap_session import BusinessCard, Cookie, CookieEcho
from rserpool.wire.constants import HR_ITEMS_ALL, HR_ITEMS_DEFAULT, UpdateAction
from rserpool.wire.enrp import (
    EnrpError,
    HandleTableRequest,
    HandleTableResponse,
    HandleUpdate,
    InitTakeover,
    InitTakeoverAck,
    ListRequest,
    ListResponse,
    Presence,
    TakeoverServer,
)
from rserpool.wire.message import EnrpMessage, Message
from rserpool.wire.params import OperationError, PoolElement
from rserpool.wire.text import cause_text, handle_text, ident, policy_text, transport_text

__all__ = ["explain"]


@singledispatch
def explain(message: Message) -> str:
    """One sentence on what ``message`` means in the conversation (no trailing period)."""
    return f"an {message.PPID.name} {message.NAME}"  # pragma: no cover - every type is below


# ---------------------------------------------------------------------- helpers


def _ids(pes: tuple[PoolElement, ...]) -> str:
    return ", ".join(ident(pe.pe_id) for pe in pes)


def _causes(error: OperationError | None) -> str:
    if error is None or not error.causes:
        return "no reason given"
    return ", ".join(cause_text(c.code) for c in error.causes)


def _life(milliseconds: int) -> str:
    if milliseconds == 0xFFFFFFFF:
        return "never drop it for lack of re-registration"
    return f"drop it unless it re-registers within {milliseconds} ms"


def _peer(message: EnrpMessage) -> str:
    """ENRP's receiver id is 0 while the sender does not know the receiver's id yet (the first
    messages of an association, and Presence sent by multicast)."""
    if message.receiver_id == 0:
        return "a peer it does not know yet"
    return f"registrar {ident(message.receiver_id)}"


# ---------------------------------------------------------------------- ASAP: PE <-> registrar


@explain.register
def _registration(message: Registration) -> str:
    pe = message.pool_element
    return (
        f"PE {ident(pe.pe_id)} asks its home registrar to add it to pool "
        f"{handle_text(message.pool_handle)}: pool users reach it at "
        f"{transport_text(pe.user_transport)} and choose among the pool's PEs by "
        f"{policy_text(pe.policy)}; {_life(pe.registration_life)}"
    )


@explain.register
def _registration_response(message: RegistrationResponse) -> str:
    if message.reject:
        return (
            f"the registrar rejects PE {ident(message.pe_id)} in "
            f"{handle_text(message.pool_handle)}: {_causes(message.error)}"
        )
    return (
        f"the registrar accepts PE {ident(message.pe_id)} into "
        f"{handle_text(message.pool_handle)} and is now its home registrar: it tells its "
        f"peers (ENRP Handle Update) and will check on the PE with Keep Alives"
    )


@explain.register
def _deregistration(message: Deregistration) -> str:
    return (
        f"PE {ident(message.pe_id)} asks its home registrar to remove it from "
        f"{handle_text(message.pool_handle)}: a clean shutdown, so pool users stop being "
        f"sent to it"
    )


@explain.register
def _deregistration_response(message: DeregistrationResponse) -> str:
    if message.error is not None:
        return (
            f"the registrar could not remove PE {ident(message.pe_id)} from "
            f"{handle_text(message.pool_handle)}: {_causes(message.error)}"
        )
    return (
        f"the registrar confirms that PE {ident(message.pe_id)} has left "
        f"{handle_text(message.pool_handle)}"
    )


@explain.register
def _keep_alive(message: EndpointKeepAlive) -> str:
    pe = "" if message.pe_id is None else f" PE {ident(message.pe_id)} of"
    handle = handle_text(message.pool_handle)
    if message.home:
        return (
            f"registrar {ident(message.server_id)} tells{pe} {handle} that it is the PE's "
            f"home registrar now (H bit: it took over from a registrar that died) and asks "
            f"whether the PE is alive"
        )
    return (
        f"home registrar {ident(message.server_id)} asks whether{pe} {handle} is still "
        f"alive; a PE that does not answer with a Keep Alive Ack is removed"
    )


@explain.register
def _keep_alive_ack(message: EndpointKeepAliveAck) -> str:
    return (
        f"PE {ident(message.pe_id)} of {handle_text(message.pool_handle)} answers its home "
        f"registrar's Keep Alive: still alive"
    )


@explain.register
def _server_announce(message: ServerAnnounce) -> str:
    where = ", ".join(transport_text(t) for t in message.transports)
    where = where or "the address this datagram comes from"
    return (
        f"registrar {ident(message.server_id)} announces itself by UDP multicast, so that "
        f"PEs and pool users without a configured registrar can find it: ASAP at {where}"
    )


# ---------------------------------------------------------------------- ASAP: PU <-> registrar


@explain.register
def _handle_resolution(message: HandleResolution) -> str:
    if message.items is None or message.items == HR_ITEMS_DEFAULT:
        items = ""
    elif message.items == HR_ITEMS_ALL:
        items = ", as many as it has"
    else:
        items = f", at most {message.items}"
    subscribe = "; S bit: and send me updates to that list" if message.subscribe else ""
    return (
        f"a pool user asks the registrar which PEs serve {handle_text(message.pool_handle)}"
        f"{items}{subscribe}"
    )


@explain.register
def _handle_resolution_response(message: HandleResolutionResponse) -> str:
    handle = handle_text(message.pool_handle)
    if message.error is not None:
        return f"the registrar cannot resolve {handle}: {_causes(message.error)}"
    if not message.pool_elements:
        return f"the registrar answers that {handle} has no PEs: the pool user must ask again"
    policy = "" if message.policy is None else f" (policy {policy_text(message.policy)})"
    return (
        f"the registrar answers: {handle} is served by {_ids(message.pool_elements)}"
        f"{policy}; the pool user picks one and remembers the rest for failover"
    )


@explain.register
def _unreachable(message: EndpointUnreachable) -> str:
    return (
        f"a pool user reports that it cannot reach PE {ident(message.pe_id)} of "
        f"{handle_text(message.pool_handle)}; after enough such reports the registrar "
        f"removes the PE"
    )


# ---------------------------------------------------------------------- ASAP: PU <-> PE


@explain.register
def _cookie(message: Cookie) -> str:
    return (
        f"the PE hands the pool user a state cookie ({len(message.cookie)} bytes) to keep: "
        f"after a failover the pool user gives it to the next PE, which resumes the session"
    )


@explain.register
def _cookie_echo(message: CookieEcho) -> str:
    return (
        f"after a failover, the pool user gives the new PE the last cookie it received "
        f"({len(message.cookie)} bytes), so that the session resumes where it left off"
    )


@explain.register
def _business_card(message: BusinessCard) -> str:
    handle = handle_text(message.pool_handle)
    if not message.pool_elements:
        return f"a Business Card: if I fail, fail over to another PE of {handle}"
    return f"a Business Card: if I fail, fail over to {_ids(message.pool_elements)} of {handle}"


@explain.register
def _asap_error(message: AsapError) -> str:
    return f"an ASAP endpoint could not process a message it received: {_causes(message.error)}"


# ---------------------------------------------------------------------- ENRP: between registrars


@explain.register
def _presence(message: Presence) -> str:
    to = "its peers" if message.receiver_id == 0 else _peer(message)
    text = (
        f"registrar {ident(message.sender_id)} tells {to} that it is alive; PE checksum "
        f"{message.pe_checksum:#06x} sums the PEs it is home for: a peer whose copy sums "
        f"differently asks for its handle table"
    )
    if message.server_information is not None:
        text += f"; reach it at {transport_text(message.server_information.transport)}"
    if message.reply_required:
        text += "; R bit: answer with a Presence"
    return text


@explain.register
def _handle_table_request(message: HandleTableRequest) -> str:
    which = "the PEs it is home for" if message.own_children_only else "its whole handlespace"
    return (
        f"registrar {ident(message.sender_id)} asks {_peer(message)} for {which}: a new or "
        f"out-of-step registrar catches up"
    )


@explain.register
def _handle_table_response(message: HandleTableResponse) -> str:
    sender, peer = ident(message.sender_id), _peer(message)
    if message.reject:
        return f"registrar {sender} refuses to send its handle table to {peer}"
    pes = sum(len(e.pool_elements) for e in message.entries)
    text = f"registrar {sender} sends {peer} {len(message.entries)} pool(s) with {pes} PE(s)"
    if message.more_to_send:
        return text + "; M bit: there is more, ask again"
    return text + ", the rest of its handle table"


@explain.register
def _handle_update(message: HandleUpdate) -> str:
    pe = message.pool_element
    sender, handle = ident(message.sender_id), handle_text(message.pool_handle)
    if message.action == UpdateAction.DEL_PE:
        text = f"registrar {sender} tells {_peer(message)} that PE {ident(pe.pe_id)} left {handle}"
    else:
        text = (
            f"registrar {sender} tells {_peer(message)} that PE {ident(pe.pe_id)} is in "
            f"{handle} (home {ident(pe.home_registrar_id)}), so that every registrar can "
            f"resolve it"
        )
    if message.takeover_suggested:
        text += "; T bit: a takeover of its home's PEs is suggested"
    return text


@explain.register
def _list_request(message: ListRequest) -> str:
    return (
        f"registrar {ident(message.sender_id)} asks {_peer(message)} which registrars it "
        f"knows, to find more peers"
    )


@explain.register
def _list_response(message: ListResponse) -> str:
    sender, peer = ident(message.sender_id), _peer(message)
    if message.reject:
        return f"registrar {sender} refuses to send its list of registrars to {peer}"
    known = ", ".join(ident(s.server_id) for s in message.servers) or "none"
    return f"registrar {sender} tells {peer} the registrars it knows: {known}"


@explain.register
def _init_takeover(message: InitTakeover) -> str:
    return (
        f"registrar {ident(message.sender_id)} has lost registrar "
        f"{ident(message.target_id)} and proposes to take over its PEs; every peer must agree"
    )


@explain.register
def _init_takeover_ack(message: InitTakeoverAck) -> str:
    return (
        f"registrar {ident(message.sender_id)} agrees that {_peer(message)} may take over "
        f"the PEs of registrar {ident(message.target_id)}"
    )


@explain.register
def _takeover_server(message: TakeoverServer) -> str:
    return (
        f"registrar {ident(message.sender_id)} has taken over the PEs of registrar "
        f"{ident(message.target_id)}: it is their home registrar now"
    )


@explain.register
def _enrp_error(message: EnrpError) -> str:
    return (
        f"registrar {ident(message.sender_id)} could not process a message from "
        f"{_peer(message)}: {_causes(message.error)}"
    )
