"""Running ``rserpool server|terminal|pingpong`` in-process: parse as the command line does,
collect what they say, unwrap Trio's exception groups."""

from __future__ import annotations

import argparse
import logging
import re

import pytest

from rserpool.cli import build_parser
from rserpool.cli.roles import translators
from rserpool.transport import MemoryNetwork


def parse(argv: list[str]) -> argparse.Namespace:
    """The namespace ``rserpool`` would run with (RSPLIB spellings translated)."""
    command, *rest = argv
    rest, _notes = translators()[command](rest)
    return build_parser().parse_args([command, *rest])


def leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaves(inner)]
    return [exc]


def said(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The lines told (INFO records of the ``rserpool`` logger, as printed)."""
    return [r.getMessage() for r in caplog.records if r.name == "rserpool"]


def matching(lines: list[str], pattern: str) -> list[str]:
    return [line for line in lines if re.search(pattern, line)]


def network() -> MemoryNetwork:
    """A registrar host (nothing runs there unless a test starts it), a PE and a PU."""
    net = MemoryNetwork(seed=7, latency=0.001)
    net.add_host("pr", ["198.51.100.1"])
    net.add_host("pe", ["198.51.100.11"])
    net.add_host("pu", ["198.51.100.30"])
    return net


def tell_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="rserpool")
