"""Reading registrars' handlespaces for the web monitor, every few seconds, over ENRP.

CSP reports name no pools, so ``rserpool monitor --registrar ADDR[:PORT]`` also asks each
given registrar for its peer list and handle table the way ``rserpool hsdump`` does (the
conversation of :mod:`rserpool.proto.hsdump`: Presence, List Request, Handle Table Request,
following More-to-send). The answers become
:class:`~rserpool.monitor.web_graph.RegistrarPoll` records that the snapshot merges with the
CSP reports.

Unlike ``hsdump``, the monitor keeps **one** association per registrar and repeats the
conversation on it every :data:`POLL_INTERVAL` seconds. To the registrar it is a registrar
peer with a server identifier of its own: a registrar believes a peer's messages only on the
association the peer's Presence came on (or from the peer's own address and port), so a new
association for every read would leave a new peer behind each time. In between it answers a
Presence that asks for a reply, as a peer does. The snapshot leaves the monitor's identifier
out of the peerings it draws.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import trio

from rserpool.drivers.hsdump import LIST_GRACE, HsdumpError, advertised, close_gracefully
from rserpool.monitor.web_graph import RegistrarPoll
from rserpool.proto.hsdump import HandlespaceDump
from rserpool.transport import (
    ENDING_EVENTS,
    Address,
    Host,
    SctpAssociation,
    SctpMessage,
    TransportError,
)
from rserpool.wire import (
    PPID,
    DecodeError,
    EnrpMessage,
    Presence,
    decode_message_untrusted,
    encode_message,
)
from rserpool.wire import text as wire_text
from rserpool.wire.constants import ENRP_PORT
from rserpool.wire.text import ident

POLL_INTERVAL = 3.0  # seconds between two reads of the same registrar
POLL_TIMEOUT = 5.0  # seconds one read may take
STALE_AFTER = 3  # a failed read keeps the last handlespace for this many intervals

log = logging.getLogger("rserpool.monitor.web")

#: A registrar's ENRP endpoint: its addresses (one or more: multi-homed) and the port, as
#: :func:`rserpool.cli.hsdump.parse_registrar` returns it.
RegistrarEndpoint = tuple[Sequence[ipaddress.IPv4Address | ipaddress.IPv6Address | str], int]


def endpoint_text(endpoint: RegistrarEndpoint) -> str:
    """``198.51.100.1:9901``, ``[2001:db8::1]:9901``, ``198.51.100.1,203.0.113.1:9901``."""
    addresses, port = endpoint
    return wire_text.endpoint_text((ipaddress.ip_address(str(a)) for a in addresses), port)


def parse_endpoint(text: str) -> RegistrarEndpoint:
    """``ADDR[:PORT][,ADDR...]`` (port 9901 unless given), as ``rserpool hsdump`` reads it.
    Raises :class:`argparse.ArgumentTypeError` on a bad one."""
    from rserpool.cli.options import parse_remote

    return parse_remote(text, ENRP_PORT)


def _digest(dump: HandlespaceDump) -> tuple[object, ...]:
    """What the picture shows of a dump: registrar, peers, and every PE with pool and home."""
    pes = sorted(
        (handle, pe_id, pe.home_registrar_id)
        for handle, pool in dump.pools.items()
        for pe_id, pe in pool.items()
    )
    peers = sorted(s.server_id for s in dump.peers or ())
    return (dump.registrar_id, tuple(peers), tuple(pes))


def _same_failure(error: str, before: str) -> bool:
    """The same failure as last time, but for numbers (an association id, a time)."""
    return re.sub(r"\d+", "#", error) == re.sub(r"\d+", "#", before)


async def watch_handlespace(
    host: Host,
    registrar: Sequence[Address],
    report: Callable[[HandlespaceDump], None],
    *,
    sender_id: int,
    interval: float = POLL_INTERVAL,
    answer_within: float = POLL_TIMEOUT,
) -> None:
    """Read the registrar's handlespace every ``interval`` seconds over one association and
    hand every complete dump to ``report``; runs until cancelled.

    Raises :class:`HsdumpError` when the association cannot be set up or ends, or when a
    conversation gets no complete answer within ``answer_within`` seconds."""
    try:
        association = await host.sctp_connect(registrar)
    except TransportError as exc:
        raise HsdumpError(f"cannot connect: {exc}") from exc
    try:
        await _converse_forever(association, report, sender_id, interval, answer_within)
    except (trio.EndOfChannel, TransportError, trio.BrokenResourceError) as exc:
        raise HsdumpError(f"the registrar closed the association: {exc}") from exc
    finally:
        await close_gracefully(association)


async def _converse_forever(
    association: SctpAssociation,
    report: Callable[[HandlespaceDump], None],
    sender_id: int,
    interval: float,
    answer_within: float,
) -> None:
    local = advertised(association.local_addresses())  # as hsdump advertises it
    dump: HandlespaceDump | None = None  # the conversation under way
    complete_at: float | None = None  # when its handle table was complete
    started = next_start = trio.current_time()

    async def send(messages: Sequence[EnrpMessage]) -> None:
        for message in messages:
            await association.send(encode_message(message), PPID.ENRP)

    while True:
        now = trio.current_time()
        if dump is None and now >= next_start:
            dump, started, complete_at = HandlespaceDump(sender_id, local), now, None
            await send(dump.start())
        if dump is not None and dump.table_complete and complete_at is None:
            complete_at = now
        if dump is not None and (
            dump.done or (complete_at is not None and now >= complete_at + LIST_GRACE)
        ):  # a registrar may answer no List Request: the table is what counts
            report(dump)
            dump, next_start = None, started + interval
            continue
        if dump is None:
            deadline = next_start
        elif complete_at is not None:
            deadline = complete_at + LIST_GRACE
        elif now >= started + answer_within:
            raise HsdumpError(f"no complete answer within {answer_within:g} s")
        else:
            deadline = started + answer_within
        with trio.move_on_at(deadline):
            item = await association.receive()
            if isinstance(item, ENDING_EVENTS):
                raise HsdumpError(f"the association ended ({type(item).__name__})")
            if isinstance(item, SctpMessage):
                if _asks_for_presence(item):
                    await send(HandlespaceDump(sender_id, local).start()[:1])
                if dump is not None:
                    await send(dump.receive(item.ppid, item.data))


def _asks_for_presence(item: SctpMessage) -> bool:
    """A registrar's Presence with the reply-required flag: it checks its peer is alive."""
    if item.ppid != PPID.ENRP:
        return False
    try:
        message = decode_message_untrusted(item.ppid, item.data)
    except DecodeError:
        return False
    return isinstance(message, Presence) and message.reply_required


@dataclass
class HandlespacePoller:
    """Reads every registrar of ``registrars`` on ``host`` every ``interval`` seconds.

    ``polls`` holds the latest :class:`RegistrarPoll` per endpoint; ``revision`` counts the
    changes to what they show (a new pool or PE, a new home, a failure), so that a display
    redraws only then. :meth:`run` runs until cancelled; a registrar that cannot be reached
    is tried again every ``interval``."""

    host: Host
    registrars: Sequence[RegistrarEndpoint]
    interval: float = POLL_INTERVAL
    timeout: float = POLL_TIMEOUT
    sender_id: int = field(default_factory=lambda: random.SystemRandom().randint(1, 0xFFFFFFFF))
    polls: dict[str, RegistrarPoll] = field(default_factory=dict)
    revision: int = 0

    def __post_init__(self) -> None:
        for endpoint in self.registrars:
            name = endpoint_text(endpoint)
            self.polls[name] = RegistrarPoll(name)

    @property
    def own_ids(self) -> set[int]:
        """The server identifiers the monitor presents to registrars (not to be drawn)."""
        return {self.sender_id}

    async def run(self) -> None:
        """Watch every registrar at once, until cancelled."""
        async with trio.open_nursery() as nursery:
            for endpoint in self.registrars:
                nursery.start_soon(self._watch, endpoint)

    async def _watch(self, endpoint: RegistrarEndpoint) -> None:
        name = endpoint_text(endpoint)
        addresses, port = endpoint
        remote: list[Address] = [(str(a), port) for a in addresses]

        def report(dump: HandlespaceDump) -> None:
            self.record(name, dump, "")

        while True:
            try:
                await watch_handlespace(
                    self.host, remote, report,
                    sender_id=self.sender_id, interval=self.interval,
                    answer_within=self.timeout,
                )  # fmt: skip
            except (HsdumpError, TransportError, OSError) as exc:
                self.record(name, None, str(exc) or type(exc).__name__)
            await trio.sleep(self.interval)

    def record(self, name: str, dump: HandlespaceDump | None, error: str) -> None:
        """One read of registrar ``name``: a complete ``dump``, or why there is none."""
        old = self.polls.get(name, RegistrarPoll(name))
        now = trio.current_time()
        if dump is not None and dump.table_rejected:
            dump, error = None, "the registrar rejected the Handle Table Request"
        if dump is None:
            kept = old.dump
            if old.taken_at is not None and now - old.taken_at > STALE_AFTER * self.interval:
                kept = None  # a registrar silent for that long: its pools are history
            new = RegistrarPoll(name, kept, old.taken_at if kept else None, error)
            again = _same_failure(error, old.error)
            changed = not again or kept is not old.dump
            if not again:
                log.warning("handlespace of %s: %s", name, error)
        else:
            new = RegistrarPoll(name, dump, now, "")
            changed = old.dump is None or old.error != "" or _digest(dump) != _digest(old.dump)
            if old.dump is None or old.error:
                log.info(
                    "handlespace of %s: registrar %s, %d pool(s), %d PE(s)",
                    name, ident(dump.registrar_id), len(dump.pools), dump.pe_count(),
                )  # fmt: skip
        self.polls[name] = new
        self.revision += changed
