"""``rserpool hsdump ADDR[:PORT][,ADDR...]``: print a registrar's peers and handlespace.

Like RSPLIB's ``hsdump``, it talks ENRP to the registrar's ENRP port (default 9901), posing as
a registrar for a moment (:mod:`rserpool.proto.hsdump` explains the conversation). It works
against ``rserpool registrar`` and ``rspregistrar`` alike.
"""

from __future__ import annotations

import argparse
import sys

import trio

from rserpool.cli.options import parse_ip, split_host_port, translate_rsplib
from rserpool.wire.constants import ENRP_PORT


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "hsdump",
        help="print a registrar's peer list and handlespace",
        description=(
            "Connect to a registrar's ENRP endpoint, send Presence, List Request and Handle "
            "Table Request (following More-to-send), and print its peers and every pool "
            "element with home registrar, life, policy, transports and checksum."
        ),
    )
    p.add_argument("registrar", metavar="ADDR[:PORT][,ADDR...]",
                   help="the registrar's ENRP endpoint (default port 9901)")  # fmt: skip
    p.add_argument("--timeout", type=float, default=30.0, metavar="S",
                   help="give up after this many seconds (default 30)")  # fmt: skip
    p.set_defaults(func=run)


def translate(argv: list[str]) -> tuple[list[str], list[str]]:
    return translate_rsplib(argv, {})


def run(args: argparse.Namespace) -> int:
    try:
        first, *rest = args.registrar.split(",")
        host, port = split_host_port(first, ENRP_PORT)
        addresses = [parse_ip(host), *(parse_ip(a) for a in rest)]
    except argparse.ArgumentTypeError as exc:
        print(f"rserpool hsdump: {exc}", file=sys.stderr)
        return 2
    remote = [(str(a), port or ENRP_PORT) for a in addresses]
    return trio.run(_dump, remote, args.registrar, args.timeout)


async def _dump(remote: list[tuple[str, int]], name: str, seconds: float) -> int:
    from rserpool.drivers.hsdump import HsdumpError, dump_handlespace
    from rserpool.proto.hsdump import render_dump
    from rserpool.transport.kernel import KernelHost

    try:
        with trio.fail_after(seconds):
            dump = await dump_handlespace(KernelHost(), remote)
    except HsdumpError as exc:
        print(f"rserpool hsdump: {exc}", file=sys.stderr)
        return 1
    except trio.TooSlowError:
        print(f"rserpool hsdump: no complete answer from {name} within {seconds} s",
              file=sys.stderr)  # fmt: skip
        return 1
    print(render_dump(dump, name), end="", flush=True)
    return 0 if dump.table_complete and not dump.table_rejected else 1
