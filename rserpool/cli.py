"""The ``rserpool`` command: one entry point, a subcommand per role or tool."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rserpool import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rserpool",
        description=(
            "Reliable Server Pooling (RSerPool, RFC 5351-5356) on Trio: a registrar (ENRP "
            "server), pool elements and pool users speaking ASAP and ENRP over SCTP."
        ),
    )
    parser.add_argument("--version", action="version", version=f"rserpool {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return 0  # pragma: no cover - every subcommand returns on its own


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
