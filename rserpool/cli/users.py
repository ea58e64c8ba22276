"""``rserpool terminal`` and ``rserpool pingpong``: the two pool users RSPLIB ships
(``rspterminal``, ``pingpongclient``).

    rserpool terminal --pool-handle EchoPool --registrar 198.51.100.1:3863
    rserpool pingpong --registrar 198.51.100.1:3863 --count 20 --interval 250

Both say every step of the server hunt and of the session (Handle Resolution, the PE connected
to, failovers). A message is told as sent only once it is on its way to a PE; until the session
has one, it is told as queued, and as sent when the session connects.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import AbstractAsyncContextManager
from typing import Protocol

import trio

from rserpool.apps.pingpong import run_pingpong
from rserpool.cli import csp
from rserpool.cli.common import integer, number, run, say
from rserpool.cli.roles import (
    MAX_PING_SIZE,
    Narrator,
    add_common_options,
    give_up_after,
    make_host,
    parse_pool_handle,
)
from rserpool.drivers.csp import pool_user_fields
from rserpool.drivers.pool_user import PoolUserNode, PoolUserSession, open_pool_user
from rserpool.presentation.explain import explain
from rserpool.proto.client.session import (
    DataReceived,
    FailoverComplete,
    FailoverNecessary,
    SessionConnected,
)
from rserpool.transport import ASAP_ANNOUNCE_GROUP, Host
from rserpool.wire.csp import ComponentGroup
from rserpool.wire.text import ident

SESSION_NOTICES = (SessionConnected, FailoverNecessary, FailoverComplete)
"""Told by the session's reader (in order with the data), not from the node's events."""


class LineSource(Protocol):
    async def readline(self) -> str: ...


class StdinLines:
    """Lines of standard input, read in a worker thread that a cancellation abandons: a
    SIGTERM ends the terminal even while it waits for a line (the thread dies with the
    process; stdin keeps its blocking mode, which a shell sharing it relies on)."""

    async def readline(self) -> str:
        # abandon_on_cancel is trio's (0.23 and later); the trio-typing stubs predate it
        return await trio.to_thread.run_sync(  # type: ignore[call-arg]
            sys.stdin.readline, abandon_on_cancel=True
        )


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "terminal",
        help="a pool user that sends stdin lines to a pool",
        description=(
            "A pool user like RSPLIB's rspterminal: every line of standard input goes to a PE "
            "of the pool (PPID 0), every reply is printed with the PE's identifier. RSPLIB's "
            "spellings (-poolhandle=..., -registrar=...) work too."
        ),
    )
    p.add_argument("--pool-handle", type=parse_pool_handle, default="EchoPool", metavar="NAME",
                   help="the pool to talk to, 1 to 32 bytes")  # fmt: skip
    p.add_argument("--linger", type=number(float, 0), default=2.0, metavar="S",
                   help="after the end of input, wait this many seconds for replies")  # fmt: skip
    add_common_options(p, pool_element=False)
    p.set_defaults(func=lambda args: run(args, terminal_main))

    p = subparsers.add_parser(
        "pingpong",
        help="a sequence-checked PingPong pool user",
        description=(
            "A pool user like RSPLIB's pingpongclient: a Ping every interval, every Pong "
            "checked (no gap, no duplicate, every Ping answered, across failovers). RSPLIB's "
            "spellings (-poolhandle=..., -interval=..., -registrar=...) work too, and -count=N."
        ),
    )
    p.add_argument("--pool-handle", type=parse_pool_handle, default="PingPongPool",
                   metavar="NAME", help="the pool to talk to, 1 to 32 bytes")  # fmt: skip
    p.add_argument("--count", type=integer(0), default=0, metavar="N",
                   help="Pings to send, then wait for the last Pongs and end (default 0: until "
                   "interrupted, as pingpongclient)")  # fmt: skip
    p.add_argument("--interval", type=integer(1), default=500, metavar="MS",
                   help="ms between two Pings")  # fmt: skip
    p.add_argument("--size", type=integer(0, MAX_PING_SIZE), default=0, metavar="BYTES",
                   help="payload bytes per Ping")  # fmt: skip
    add_common_options(p, pool_element=False)
    p.set_defaults(func=lambda args: run(args, pingpong_main))


async def _connected_within(
    args: argparse.Namespace, session: PoolUserSession, narrator: Narrator
) -> None:
    """``--timeout``: the session must be connected to a PE within that many seconds."""

    def message() -> str:
        progress = narrator.progress
        return progress.timeout_message(args.timeout, session.pool_handle, pool_element=False)

    await give_up_after(args.timeout, session.wait_connected, message)


async def terminal_main(
    args: argparse.Namespace, host: Host | None = None, stdin: LineSource | None = None
) -> int:
    """The pool user of ``rserpool terminal`` (tests give an in-memory ``host`` and input)."""
    csp.check(args)
    host = host or make_host(args, role="client")
    lines: LineSource = stdin or StdinLines()
    narrator = Narrator()
    say(f"rserpool terminal: Pool Handle = {args.pool_handle}; type lines, end with Ctrl-D")
    return await _terminal(args, host, lines, narrator)


def _pool_user(args: argparse.Namespace, host: Host) -> AbstractAsyncContextManager[PoolUserNode]:
    """The pool user both commands run, from the options they share."""
    addresses, _port = args.local
    return open_pool_user(
        host,
        registrars=args.registrar,
        announces=args.asap_announce is not None,
        announce_group=args.asap_announce or ASAP_ANNOUNCE_GROUP,
        addresses=addresses or None,
    )


def _report(args: argparse.Namespace, pu: PoolUserNode) -> AbstractAsyncContextManager[object]:
    """CSP reports while the pool user runs (``--csp-server``): a PU reports under a random
    56-bit object id unless ``--csp-identifier`` names one, as RSPLIB's clients do."""
    if line := csp.told(args.csp):
        say(line)
    return csp.report(args, ComponentGroup.POOL_USER, None, pool_user_fields(pu))


async def _terminal(
    args: argparse.Namespace, host: Host, lines: LineSource, narrator: Narrator
) -> int:
    async with (
        _pool_user(args, host) as pu,
        _report(args, pu),
        pu.session(args.pool_handle) as session,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(narrator.follow, pu.events, SESSION_NOTICES)
        nursery.start_soon(_connected_within, args, session, narrator)
        queued: list[int] = []  # line numbers held for the next PE
        told = 0

        def tell_released() -> None:
            nonlocal told
            out = min(session.released, len(queued))
            if out > told:
                numbers = ", ".join(f"#{n}" for n in queued[told:out])
                say(f"sent the queued line(s) {numbers} to PE {ident(session.pe_id)}")
                told = out

        async def replies() -> None:
            while True:
                try:
                    item = await session.receive()
                except trio.EndOfChannel:
                    return
                if isinstance(item, DataReceived):
                    text = item.data.decode("utf-8", "replace").rstrip("\n")
                    for line in text.split("\n"):
                        say(f"from PE {ident(session.pe_id)}> {line}")
                    continue
                narrator.progress.observe(item)
                notice = explain(item)
                if notice is not None:
                    say(notice)
                tell_released()

        nursery.start_soon(replies)
        number = 0
        while True:
            line = await lines.readline()
            if not line:
                break
            number += 1
            if await session.send(line.encode()) is None:
                queued.append(number)
                why = "failing over to another PE" if session.epoch else "no PE yet"
                say(f"line #{number} queued: {why}; it goes out when the session is connected")
                tell_released()
        if session.held:  # the input ended before a PE was found: deliver it first
            await session.wait_connected()
        await trio.sleep(args.linger)
        nursery.cancel_scope.cancel()
    return 0


async def pingpong_main(args: argparse.Namespace, host: Host | None = None) -> int:
    """The pool user of ``rserpool pingpong`` (tests give an in-memory ``host``)."""
    csp.check(args)
    host = host or make_host(args, role="client")
    narrator = Narrator()
    say(f"rserpool pingpong: Pool Handle = {args.pool_handle}, Ping Interval = {args.interval}ms")
    return await _pingpong(args, host, narrator)


async def _pingpong(args: argparse.Namespace, host: Host, narrator: Narrator) -> int:
    pu: PoolUserNode
    async with (
        _pool_user(args, host) as pu,
        _report(args, pu),
        pu.session(args.pool_handle) as session,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(narrator.follow, pu.events, SESSION_NOTICES)
        nursery.start_soon(_connected_within, args, session, narrator)
        result = await run_pingpong(
            session, args.count, args.interval / 1000, size=args.size, say=say
        )
        nursery.cancel_scope.cancel()
    client = result.client
    say(
        f"Summary: {result.sent} Pings, {result.pongs} Pongs, {result.resent} resent after "
        f"failover, {result.failovers} failover(s), gaps {len(client.gaps)}, duplicates "
        f"{len(client.duplicates)}, unanswered {len(client.outstanding)}"
    )
    return 0 if client.clean and not client.outstanding else 1
