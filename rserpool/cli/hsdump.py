"""``rserpool hsdump ADDR[:PORT][,ADDR...]``: print a registrar's peers and handlespace.

Like RSPLIB's ``hsdump``, it talks ENRP to the registrar's ENRP port (default 9901), posing as
a registrar for a moment (:mod:`rserpool.proto.hsdump` explains the conversation). It works
against ``rserpool registrar`` and ``rspregistrar`` alike. ``--json`` prints the same as one
JSON document (:func:`rserpool.proto.hsdump.dump_document`).
"""

from __future__ import annotations

import argparse
import json
import logging

import trio

from rserpool.cli import common
from rserpool.cli.common import CommandError, add_logging_options, positive
from rserpool.cli.options import parse_remote, translate_rsplib
from rserpool.cli.transport import add_transport_options, make_host
from rserpool.proto.common import IPAddress
from rserpool.transport import Host
from rserpool.wire.constants import ENRP_PORT
from rserpool.wire.text import endpoint_text


def parse_registrar(text: str) -> tuple[tuple[IPAddress, ...], int]:
    return parse_remote(text, ENRP_PORT)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "hsdump",
        help="print a registrar's peer list and handlespace",
        description=(
            "Connect to a registrar's ENRP endpoint, send Presence, List Request and Handle "
            "Table Request (following More-to-send), and print its peers and every pool "
            "element with home registrar, life, policy, transports and checksum. Exit status "
            "0 when the whole handle table arrived, 1 otherwise."
        ),
    )
    p.add_argument("registrar", type=parse_registrar, metavar="REGISTRAR",
                   help="the registrar's ENRP endpoint, ADDR[:PORT][,ADDR...] (port 9901 "
                        "unless given; more addresses for a multi-homed registrar)")  # fmt: skip
    p.add_argument("--timeout", type=positive(float), default=30.0, metavar="S",
                   help="give up after this many seconds")  # fmt: skip
    p.add_argument("--json", action="store_true",
                   help="print one JSON document instead of text: the peers, every pool and "
                        "PE with all fields and its checksum, the ownership checksums and "
                        "whether the dump is complete (default: text)")  # fmt: skip
    add_transport_options(p)
    add_logging_options(p)
    p.set_defaults(func=run)


def translate(argv: list[str]) -> tuple[list[str], list[str]]:
    return translate_rsplib(argv, {})


def run(args: argparse.Namespace) -> int:
    return common.run(args, main)


async def main(args: argparse.Namespace, host: Host | None = None) -> int:
    """Dump the registrar ``args.registrar`` and print it; ``host`` defaults to what
    ``--transport`` says."""
    from rserpool.drivers.hsdump import HsdumpError, dump_handlespace
    from rserpool.proto.hsdump import dump_document, render_dump

    if host is None:
        toward = [str(a) for a in args.registrar[0]]
        host, line = make_host(args, [], role="client", toward=toward)
        logging.getLogger("rserpool.hsdump").debug("%s", line)  # stdout may be JSON
    addresses, port = args.registrar
    remote = [(str(a), port) for a in addresses]
    name = endpoint_text(addresses, port)
    try:
        with trio.fail_after(args.timeout):
            dump = await dump_handlespace(host, remote)
    except HsdumpError as exc:
        raise CommandError(str(exc)) from exc
    except trio.TooSlowError:
        raise CommandError(f"no complete answer from {name} within {args.timeout:g} s") from None
    if args.json:
        print(json.dumps(dump_document(dump, name), indent=2), flush=True)
    else:
        print(render_dump(dump, name), end="", flush=True)
    return 0 if dump.table_complete and not dump.table_rejected else 1
