"""The ``rserpool`` command: one entry point, a subcommand per role or tool.

* ``rserpool registrar``: a registrar (ENRP server), :mod:`rserpool.cli.registrar`;
* ``rserpool hsdump``: print a registrar's handlespace, :mod:`rserpool.cli.hsdump`;
* ``rserpool decode``: explain the ASAP/ENRP messages of a capture, :mod:`rserpool.cli.decode`;
* ``rserpool server|terminal|pingpong``: a pool element, two pool users, :mod:`rserpool.cli.roles`;
* ``rserpool monitor``: watch components through their CSP reports, :mod:`rserpool.cli.monitor`.

RSPLIB's single-dash ``-name=value`` options are translated before argparse sees them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import cast

from rserpool import __version__
from rserpool.cli import decode as cli_decode
from rserpool.cli import hsdump as cli_hsdump
from rserpool.cli import monitor as cli_monitor
from rserpool.cli import registrar as cli_registrar
from rserpool.cli import roles as cli_roles
from rserpool.cli.common import Parser
from rserpool.cli.options import SPELLINGS

TRANSLATORS: dict[str, Callable[[list[str]], tuple[list[str], list[str]]]] = {
    "registrar": cli_registrar.translate,
    "hsdump": cli_hsdump.translate,
    "decode": cli_decode.translate,
    "monitor": cli_monitor.translate,
    **cli_roles.translators(),  # server, terminal, pingpong
}


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="rserpool",
        description=(
            "Reliable Server Pooling (RSerPool, RFC 5351-5356) on Trio: a registrar (ENRP "
            "server), pool elements and pool users speaking ASAP and ENRP over SCTP."
        ),
    )
    parser.add_argument("--version", action="version", version=f"rserpool {__version__}")
    subparsers = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest="command", metavar="COMMAND"),
    )
    cli_registrar.add_parser(subparsers)
    cli_hsdump.add_parser(subparsers)
    cli_decode.add_parser(subparsers)
    cli_roles.register_subcommands(subparsers)
    cli_monitor.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    SPELLINGS.clear()
    if args_list and args_list[0] in TRANSLATORS:
        rest, notes = TRANSLATORS[args_list[0]](args_list[1:])
        args_list = [args_list[0], *rest]
        for note in notes:
            print(note, file=sys.stderr)
    parser = build_parser()
    Parser.spellings = dict(SPELLINGS)
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    args.prog = f"rserpool {args.command}"
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
