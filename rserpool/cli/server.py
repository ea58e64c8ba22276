"""``rserpool server``: a pool element running one of RSPLIB's services (like ``rspserver``).

    rserpool server --echo --pool-handle EchoPool --registrar 198.51.100.1:3863 --identifier 0x2001
    rspserver-style: rserpool server -pingpong -poolhandle=PingPongPool -registrar=198.51.100.1:3863

It says where pool users reach it, every step of its server hunt (which registrar it tries,
why that failed) and every (re-)registration; on SIGINT/SIGTERM it deregisters, then ends.
"""

from __future__ import annotations

import argparse

import trio

from rserpool.apps.service_handlers import DEFAULT_POOL_HANDLES, SERVICES, service_handler
from rserpool.cli import csp
from rserpool.cli.common import integer, run, say
from rserpool.cli.options import parse_identifier
from rserpool.cli.roles import (
    MAX_REREG_INTERVAL,
    MIN_REREG_INTERVAL,
    Narrator,
    add_common_options,
    give_up_after,
    make_host,
    parse_policy,
    parse_pool_handle,
)
from rserpool.drivers.csp import pool_element_fields
from rserpool.drivers.pool_element import PoolElementNode, open_pool_element
from rserpool.scope import AddressScope
from rserpool.transport import ASAP_ANNOUNCE_GROUP, Host
from rserpool.wire.csp import ComponentGroup
from rserpool.wire.text import ident


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "server",
        help="run a pool element with an RSPLIB service",
        description=(
            "A pool element (like RSPLIB's rspserver): registers in a pool at a registrar and "
            "serves the pool users that connect. RSPLIB's spellings (-echo, -poolhandle=..., "
            "-registrar=..., -identifier=..., -policy=..., -rereginterval=...) work too."
        ),
    )
    group = p.add_mutually_exclusive_group()
    for name in SERVICES:
        default = " (the default service)" if name == "echo" else ""
        group.add_argument(f"--{name}", dest="service", action="store_const", const=name,
                           help=f"the {name} service{default}; its pool is "
                           f"{DEFAULT_POOL_HANDLES[name]} unless --pool-handle says")  # fmt: skip
    p.add_argument("--pool-handle", type=parse_pool_handle, default=None, metavar="NAME",
                   help="the pool to register in, 1 to 32 bytes (default: the service's pool, "
                   "e.g. EchoPool)")  # fmt: skip
    p.add_argument("--identifier", type=parse_identifier, default=0, metavar="ID",
                   help="the PE identifier, 0x2001, $2001 or decimal (default 0: "
                   "random)")  # fmt: skip
    p.add_argument("--policy", type=parse_policy, default=None, metavar="SPEC",
                   help="the pool policy in RSPLIB's spelling, e.g. RoundRobin, "
                   "WeightedRoundRobin:5, LeastUsed, Priority:3 (default RoundRobin)")  # fmt: skip
    p.add_argument("--rereg-interval", type=integer(MIN_REREG_INTERVAL, MAX_REREG_INTERVAL),
                   default=30_000, metavar="MS",
                   help="re-registration interval in ms (at least 10, as rspserver); the "
                   "registration life is 3 times as long")  # fmt: skip
    p.add_argument("--runtime", type=integer(0), default=0, metavar="MS",
                   help="deregister and end after this many ms (default 0: run until "
                   "interrupted)")  # fmt: skip
    p.add_argument("--ppp-failure-after", type=integer(0), default=0, metavar="N",
                   help="pingpong service: abort a session after N replies, to test failover "
                   "(default 0: never)")  # fmt: skip
    add_common_options(p, pool_element=True)
    p.set_defaults(func=lambda args: run(args, server_main), service="echo")


async def server_main(args: argparse.Namespace, host: Host | None = None) -> int:
    """The pool element of ``rserpool server`` (``host``: tests give an in-memory one)."""
    addresses, port = args.local
    csp.check(args)
    host = host or make_host(args, role="pool element")
    handle = args.pool_handle or DEFAULT_POOL_HANDLES[args.service]
    loopback = getattr(args, "loopback", False)  # a system on this machine alone
    scope = AddressScope.LOOPBACK if loopback else AddressScope.SITE_LOCAL
    if args.service == "pingpong" and args.ppp_failure_after:
        from rserpool.apps.services import PingPongService

        handler = service_handler("pingpong", lambda: PingPongService(args.ppp_failure_after))
    else:
        handler = service_handler(args.service)
    say(f"rserpool server: {args.service} service, pool {handle}")
    narrator = Narrator()
    pe: PoolElementNode | None = None

    def timed_out() -> str:
        return narrator.progress.timeout_message(args.timeout, handle.encode(), pool_element=True)

    try:
        async with open_pool_element(
            host,
            handle,
            registrars=args.registrar,
            announces=args.asap_announce is not None,
            announce_group=args.asap_announce or ASAP_ANNOUNCE_GROUP,
            policy=args.policy,
            pe_id=args.identifier,
            addresses=addresses or None,
            port=port,
            reregistration_interval=args.rereg_interval,
            handler=handler,
            min_address_scope=scope,
        ) as pe:
            say(f"PE {ident(pe.pe_id)}: user transport (where pool users connect) "
                f"{pe.user_transport}")  # fmt: skip
            if line := csp.told(args.csp):
                say(line)
            reports = csp.report(args, ComponentGroup.POOL_ELEMENT, pe.pe_id,
                                 pool_element_fields(pe))  # fmt: skip
            async with reports, trio.open_nursery() as nursery:
                nursery.start_soon(narrator.follow, pe.events)
                nursery.start_soon(give_up_after, args.timeout, pe.wait_registered, timed_out)
                if args.runtime:
                    await trio.sleep(args.runtime / 1000)
                    nursery.cancel_scope.cancel()
                else:
                    await trio.sleep_forever()
    finally:
        if pe is not None:  # what happened while leaving (the Deregistration)
            narrator.tell_rest(pe.events)
    return 0
