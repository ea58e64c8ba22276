"""``rserpool server``, ``rserpool terminal`` and ``rserpool pingpong``: a pool element running
one of RSPLIB's services, and the two pool users RSPLIB ships (rspterminal, pingpongclient).

    rserpool server --echo --pool-handle EchoPool --registrar 198.51.100.1:3863 --identifier 0x2001
    rserpool terminal --pool-handle EchoPool --registrar 198.51.100.1:3863
    rserpool pingpong --registrar 198.51.100.1:3863 --count 20 --interval 250

RSPLIB's spellings work as well (``rspserver -echo -poolhandle=EchoPool -registrar=...``,
``-identifier=``, ``-policy=``, ``-local=``, ``-rereginterval=``; ``-log*`` options are accepted and
ignored with a note). Every line printed says what happened in RFC 5352 terms.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence

import trio

from rserpool.cli.options import parse_identifier, split_host_port, translate_rsplib
from rserpool.drivers.explain import explain
from rserpool.drivers.pingpong import run_pingpong
from rserpool.drivers.pool_element import PoolElementNode, open_pool_element
from rserpool.drivers.pool_user import PoolUserNode, open_pool_user
from rserpool.drivers.services import DEFAULT_POOL_HANDLES, SERVICES, service_handler
from rserpool.policies.definitions import policy_by_name
from rserpool.proto.common import Event
from rserpool.proto.session import (
    DataReceived,
    FailoverComplete,
    FailoverNecessary,
    SessionConnected,
)
from rserpool.transport import Host
from rserpool.wire import PolicyType, PoolMemberSelectionPolicy
from rserpool.wire.text import ident

Translator = Callable[[list[str]], tuple[list[str], list[str]]]

COMMON = {"registrar": "--registrar", "asapannounce": "--asap-announce", "local": "--local"}
RSPLIB_NAMES = {
    "server": {
        **COMMON,
        "poolhandle": "--pool-handle",
        "identifier": "--identifier",
        "policy": "--policy",
        "rereginterval": "--rereg-interval",
        "runtime": "--runtime",
        "pppfailureafter": "--ppp-failure-after",
    },
    "terminal": {**COMMON, "poolhandle": "--pool-handle"},
    "pingpong": {**COMMON, "poolhandle": "--pool-handle", "interval": "--interval"},
}
RSPLIB_FLAGS = {"server": {name: f"--{name}" for name in SERVICES}}
FRACTION_FIELDS = {"load", "load_degradation", "load_dpf", "weight_dpf"}
#: The fields ``-policy=Name:a:b`` sets, in order (RSPLIB rspserver; fractions as 0.0-1.0).
POLICY_ARGUMENTS: dict[PolicyType, tuple[str, ...]] = {
    PolicyType.WEIGHTED_ROUND_ROBIN: ("weight",),
    PolicyType.WEIGHTED_RANDOM: ("weight",),
    PolicyType.PRIORITY: ("priority",),
    PolicyType.LEAST_USED_DEGRADATION: ("load_degradation",),
    PolicyType.PRIORITY_LEAST_USED: ("load_degradation",),
    PolicyType.PRIORITY_LEAST_USED_DEGRADATION: ("load_degradation",),
    PolicyType.RANDOMIZED_PRIORITY_LEAST_USED: ("load_degradation",),
    PolicyType.RANDOMIZED_LEAST_USED_DEGRADATION: ("load_degradation",),
    PolicyType.RANDOMIZED_PRIORITY_LEAST_USED_DEGRADATION: ("load_degradation",),
    PolicyType.WEIGHTED_RANDOM_DPF: ("weight", "weight_dpf"),
    PolicyType.LEAST_USED_DPF: ("load_dpf",),
    PolicyType.LEAST_USED_DEGRADATION_DPF: ("load_degradation", "load_dpf"),
}
log = logging.getLogger("rserpool")


def parse_policy(text: str) -> PoolMemberSelectionPolicy:
    """RSPLIB's ``-policy=`` spelling: ``RoundRobin``, ``WeightedRoundRobin:5``,
    ``Priority:3``, ``LeastUsedDegradation:0.01``, ``WeightedRandomDPF:10:0.5``, ..."""
    name, *args = text.split(":")
    try:
        policy_type = policy_by_name(name).policy_type
    except KeyError:
        raise argparse.ArgumentTypeError(f"unknown policy {name!r}") from None
    wanted = POLICY_ARGUMENTS.get(policy_type, ())
    if len(args) > len(wanted):
        raise argparse.ArgumentTypeError(f"{name} takes {len(wanted)} argument(s)")
    values: dict[str, int] = {}
    for field_name, arg in zip(wanted, args, strict=False):
        try:
            number = float(arg)
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad {field_name} {arg!r} in {text!r}") from None
        if field_name in FRACTION_FIELDS:
            if not 0 <= number <= 1:
                raise argparse.ArgumentTypeError(f"{field_name} must be 0.0-1.0 in {text!r}")
            values[field_name] = round(number * 0xFFFFFFFF)
        elif number != int(number) or not 0 <= number <= 0xFFFFFFFF:
            raise argparse.ArgumentTypeError(f"{field_name} must be a u32 in {text!r}")
        else:
            values[field_name] = int(number)
    if policy_type is PolicyType.WEIGHTED_ROUND_ROBIN and "weight" not in values:
        values["weight"] = 1
    return PoolMemberSelectionPolicy(policy_type, **values)


def parse_local(text: str) -> tuple[list[str], int]:
    """``ADDR[,ADDR][:PORT]`` or RSPLIB's ``ADDR:PORT{,ADDR}``."""
    parts = text.split(",")
    port = 0
    addresses: list[str] = []
    for part in parts:
        host, p = split_host_port(part, None)
        if p is not None:
            port = p
        addresses.append(host.strip("[]"))
    return addresses, port


def translate(command: str) -> Translator:
    def run(argv: list[str]) -> tuple[list[str], list[str]]:
        return translate_rsplib(argv, RSPLIB_NAMES[command], RSPLIB_FLAGS.get(command, {}))

    return run


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--registrar", action="append", default=[], metavar="ADDR:PORT[,ADDR]",
                   help="a registrar's ASAP endpoint (repeatable); without one, registrars "
                   "are found through Server Announces on 239.0.0.50:3863")  # fmt: skip
    p.add_argument("--asap-announce", default="auto", metavar="auto|off",
                   help="listen for Server Announces (default auto)")  # fmt: skip
    p.add_argument("--local", metavar="ADDR[,ADDR][:PORT]", help="local addresses (and port)")
    p.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("server", help="run a pool element with an RSPLIB service",
                              description="A pool element (like RSPLIB's rspserver).")  # fmt: skip
    group = p.add_mutually_exclusive_group()
    for name in SERVICES:
        group.add_argument(f"--{name}", dest="service", action="store_const", const=name,
                           help=f"the {name} service")  # fmt: skip
    p.add_argument("--pool-handle", help="pool to register in (default: EchoPool, ...)")
    p.add_argument("--identifier", type=parse_identifier, default=0, help="PE id (0: random)")
    p.add_argument("--policy", type=parse_policy, default=None, metavar="SPEC",
                   help="pool policy in RSPLIB's spelling, e.g. RoundRobin, "
                   "WeightedRoundRobin:5, LeastUsed, Priority:3 (default RoundRobin)")  # fmt: skip
    p.add_argument("--rereg-interval", type=int, default=30_000, metavar="MS",
                   help="re-registration interval, life 3x (default 30000)")  # fmt: skip
    p.add_argument("--runtime", type=int, default=0, metavar="MS", help="stop after this long")
    p.add_argument("--ppp-failure-after", type=int, default=0, metavar="N",
                   help="pingpong: abort a session after N replies (failure test)")  # fmt: skip
    _common(p)
    p.set_defaults(func=lambda args: _run(server_main, args), service="echo")

    p = subparsers.add_parser("terminal", help="a pool user that sends stdin lines to a pool",
                              description="A pool user like RSPLIB's rspterminal.")  # fmt: skip
    p.add_argument("--pool-handle", default="EchoPool")
    p.add_argument("--linger", type=float, default=2.0, metavar="S",
                   help="after end of input, wait this long for replies (default 2)")  # fmt: skip
    _common(p)
    p.set_defaults(func=lambda args: _run(terminal_main, args))

    p = subparsers.add_parser("pingpong", help="a sequence-checked PingPong pool user",
                              description="A pool user like RSPLIB's pingpongclient.")  # fmt: skip
    p.add_argument("--pool-handle", default="PingPongPool")
    p.add_argument("--count", type=int, default=0, help="Pings to send (0: until interrupted)")
    p.add_argument("--interval", type=int, default=500, metavar="MS", help="default 500")
    p.add_argument("--size", type=int, default=0, help="payload bytes per Ping")
    _common(p)
    p.set_defaults(func=lambda args: _run(pingpong_main, args))


def say(line: str) -> None:
    print(line, flush=True)


def _host(args: argparse.Namespace) -> tuple[Host, list[str] | None, int]:
    from rserpool.transport.kernel import KernelHost

    addresses, port = parse_local(args.local) if args.local else ([], 0)
    return KernelHost(addresses or None), addresses or None, port


async def _until_signal(
    main: Callable[[argparse.Namespace], Awaitable[int]], args: argparse.Namespace
) -> int:
    """Run ``main``; SIGTERM or SIGINT ends it cleanly (a PE deregisters first)."""
    result = 0
    async with trio.open_nursery() as nursery:

        async def run_main() -> None:
            nonlocal result
            result = await main(args)
            nursery.cancel_scope.cancel()

        nursery.start_soon(run_main)
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                say(f"signal {signal.Signals(signum).name}: shutting down")
                nursery.cancel_scope.cancel()
                break
    return result


def _run(main: Callable[[argparse.Namespace], Awaitable[int]], args: argparse.Namespace) -> int:
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(name)s: %(message)s")
    try:
        result = trio.run(_until_signal, main, args)
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return result


async def _tell(events: trio.MemoryReceiveChannel[Event], skip: tuple[type, ...] = ()) -> None:
    async for event in events:
        if isinstance(event, skip):
            continue
        line = explain(event)
        if line is not None:
            say(line)


def _tell_rest(events: trio.MemoryReceiveChannel[Event]) -> None:
    while True:
        try:
            event = events.receive_nowait()
        except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
            return
        line = explain(event)
        if line is not None:
            say(line)


async def server_main(args: argparse.Namespace) -> int:
    host, addresses, port = _host(args)
    handle = args.pool_handle or DEFAULT_POOL_HANDLES[args.service]
    if args.service == "pingpong" and args.ppp_failure_after:
        from rserpool.proto.services import PingPongService

        handler = service_handler("pingpong", lambda: PingPongService(args.ppp_failure_after))
    else:
        handler = service_handler(args.service)
    say(f"rserpool server: {args.service} service, pool {handle}")
    pe: PoolElementNode | None = None
    try:
        async with open_pool_element(
            host,
            handle,
            registrars=args.registrar,
            announces=args.asap_announce != "off",
            policy=args.policy,
            pe_id=args.identifier,
            addresses=addresses,
            port=port,
            reregistration_interval=args.rereg_interval,
            handler=handler,
        ) as pe:
            say(f"PE {ident(pe.pe_id)}: user transport (where pool users connect) "
                f"{pe.user_transport}")  # fmt: skip
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_tell, pe.events)
                if args.runtime:
                    await trio.sleep(args.runtime / 1000)
                    nursery.cancel_scope.cancel()
                else:
                    await trio.sleep_forever()
    finally:
        if pe is not None:  # what happened while leaving (the Deregistration)
            _tell_rest(pe.events)
    return 0


async def terminal_main(args: argparse.Namespace) -> int:
    host, addresses, _port = _host(args)
    pu: PoolUserNode
    say(f"rserpool terminal: Pool Handle = {args.pool_handle}; type lines, end with Ctrl-D")
    async with (
        open_pool_user(
            host,
            registrars=args.registrar,
            announces=args.asap_announce != "off",
            addresses=addresses,
        ) as pu,
        pu.session(args.pool_handle) as session,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(
            _tell, pu.events, (SessionConnected, FailoverNecessary, FailoverComplete)
        )

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
                else:
                    notice = explain(item)
                    if notice is not None:
                        say(notice)

        nursery.start_soon(replies)
        stdin = trio.wrap_file(sys.stdin)
        while True:
            line = await stdin.readline()
            if not line:
                break
            await session.send(line.encode())
        await trio.sleep(args.linger)
        nursery.cancel_scope.cancel()
    return 0


async def pingpong_main(args: argparse.Namespace) -> int:
    host, addresses, _port = _host(args)
    say(f"rserpool pingpong: Pool Handle = {args.pool_handle}, Ping Interval = {args.interval}ms")
    async with (
        open_pool_user(
            host,
            registrars=args.registrar,
            announces=args.asap_announce != "off",
            addresses=addresses,
        ) as pu,
        pu.session(args.pool_handle) as session,
    ):
        run = await run_pingpong(session, args.count, args.interval / 1000, size=args.size, say=say)
    client = run.client
    say(
        f"Summary: {run.sent} Pings, {run.pongs} Pongs, {run.resent} resent after failover, "
        f"{run.failovers} failover(s), gaps {len(client.gaps)}, duplicates "
        f"{len(client.duplicates)}, unanswered {len(client.outstanding)}"
    )
    return 0 if client.clean and not client.outstanding else 1


def register_subcommands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """The hook for :mod:`rserpool.cli`."""
    add_parsers(subparsers)


def translators() -> dict[str, Translator]:
    return {name: translate(name) for name in RSPLIB_NAMES}


def main(argv: Sequence[str]) -> int:  # pragma: no cover - convenience
    from rserpool.cli import main as cli_main

    return cli_main(argv)
