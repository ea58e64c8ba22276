"""A PingPong pool user on a session (RSPLIB's ``pingpongclient``, sequence-checked).

A Ping goes out every ``interval`` seconds; each Pong is checked by
:class:`~rserpool.apps.services.PingPongClient` (ReplyNo without gaps, every Ping answered
exactly once). After the *k*-th ``FailoverNecessary`` the Pings handed to the failed PE's
association (epoch *k* - 1) that got no Pong are sent again; the PE the session fails over to
continues the ReplyNo sequence from the Cookie Echo.

A Ping is told as "sent" only once it is on its way to a PE: while the session has no PE yet
(or is failing over), it is told as queued, and as sent when the session connects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import trio

from rserpool.apps.services import PINGPONG_PPID, PingPongClient
from rserpool.drivers.pool_user import PoolUserSession
from rserpool.proto.client.session import (
    DataReceived,
    FailoverComplete,
    FailoverNecessary,
    SessionConnected,
)
from rserpool.wire.text import ident


@dataclass
class PingPongRun:
    client: PingPongClient = field(default_factory=PingPongClient)
    sent: int = 0
    pongs: int = 0
    resent: int = 0
    failovers: int = 0
    epoch_of: dict[int, int | None] = field(default_factory=dict)  # message no -> epoch
    queued: list[int] = field(default_factory=list)  # message nos held for the next PE
    queued_out: int = 0  # how many of ``queued`` went out so far (and were told)


async def run_pingpong(
    session: PoolUserSession,
    count: int,
    interval: float,
    *,
    size: int = 0,
    say: Callable[[str], None] = lambda line: None,
    answer_timeout: float = 30.0,
) -> PingPongRun:
    """Send ``count`` Pings (0: forever) and wait for every Pong (up to ``answer_timeout`` s
    after the last Ping); returns the tally."""
    run = PingPongRun()
    client = run.client
    all_sent = trio.Event()

    def tell_released() -> None:
        """The queued Pings that went out when the session connected."""
        out = min(session.released, len(run.queued))
        for n in run.queued[run.queued_out : out]:
            say(f"Message #{n} sent (it was queued)")
        run.queued_out = max(run.queued_out, out)

    async def receive() -> None:
        failovers_seen = 0
        while True:
            item = await session.receive()
            if isinstance(item, DataReceived):
                pong = client.received(item.ppid, item.data)
                if pong is None:
                    say(f"garbage: {len(item.data)} bytes PPID {item.ppid}")
                    continue
                run.pongs += 1
                pe = session.pe_id or 0
                say(f"Ack #{pong.message_no} from PE {ident(pe)} (reply #{pong.reply_no})")
                if client.gaps and client.gaps[-1][1] == pong.reply_no:
                    expected, got = client.gaps[-1]
                    say(f"*** Detected gap of {got - expected}! *** (expected reply #{expected})")
                if all_sent.is_set() and not client.outstanding:
                    return
            elif isinstance(item, FailoverNecessary):
                failovers_seen += 1
                say(f"FAILOVER #{failovers_seen} ... PE {ident(item.pe_id)} gone ({item.reason})")
                lost = [
                    n
                    for n in sorted(client.outstanding)
                    if run.epoch_of.get(n) == failovers_seen - 1
                ]
                for n in lost:
                    run.epoch_of[n] = await session.send(client.outstanding[n], PINGPONG_PPID)
                    run.resent += 1
                if lost:
                    say(f"resending Ping(s) {lost}: the failed PE took them along unanswered")
            elif isinstance(item, FailoverComplete):
                run.failovers += 1
                echo = " with Cookie Echo" if item.cookie_echoed else ""
                say(f"FAILOVER done: now at PE {ident(item.pe_id)}{echo}")
                tell_released()
            elif isinstance(item, SessionConnected):
                say(f"Session: connected to PE {ident(item.pe_id)}")
                tell_released()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(receive)
        n = 0
        while count == 0 or n < count:
            n += 1
            data = client.ping(bytes(size))
            run.epoch_of[n] = epoch = await session.send(data, PINGPONG_PPID)
            run.sent += 1
            if epoch is not None:
                say(f"Message #{n} sent")
            else:
                run.queued.append(n)
                why = "failing over to another PE" if session.epoch else "no PE yet"
                say(f"Message #{n} queued: {why}")
                tell_released()
            await trio.sleep(interval)
        all_sent.set()
        if session.held:  # the answer time starts when the last Ping is out
            await session.wait_connected()
        if not client.outstanding:
            nursery.cancel_scope.cancel()
        with trio.move_on_after(answer_timeout):
            while client.outstanding:  # noqa: ASYNC110
                await trio.sleep(0.05)
        nursery.cancel_scope.cancel()
    return run
