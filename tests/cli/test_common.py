"""``rserpool.cli.common``: argparse number types, and ``run``: one line per failure (also
inside Trio's ExceptionGroups), exit status 1 or 2, ``-v`` tracebacks, signals."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
from collections.abc import Iterator

import pytest
import trio
import trio.lowlevel

from rserpool.cli.common import (
    NO_SCTP_HINT,
    CommandError,
    Parser,
    UsageError,
    integer,
    number,
    positive,
    run,
    spelled,
)
from rserpool.errors import TransportError


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``run`` installs its own handler on the root logger; put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def args(verbose: int = 0) -> argparse.Namespace:
    return argparse.Namespace(verbose=verbose, quiet=0, log_level=None, prog="rserpool test")


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (number(), "nan", "not a finite number: 'nan'"),
        (number(), "-inf", "not a finite number: '-inf'"),
        (number(), "x", "not a number: 'x'"),
        (number(float, 0, 1), "1.5", "must be at most 1, not 1.5"),
        (integer(1), "0", "must be at least 1, not 0"),
        (integer(1), "2.0", "not a number: '2.0'"),
        (positive(), "0", "must be more than 0, not 0"),
        (positive(), "-3", "must be more than 0, not -3"),
        (positive(), "inf", "not a finite number: 'inf'"),
    ],
)
def test_number_types_refuse_nan_infinity_and_out_of_range(
    parse: object, text: str, message: str
) -> None:
    assert callable(parse)
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        parse(text)
    assert str(refused.value) == message


def test_number_types_accept_what_is_in_range() -> None:
    assert integer(1, 10)("10") == 10
    assert number(float, -1)("-1") == -1.0
    assert positive()("0.25") == 0.25


def test_spelled_names_the_option_as_typed() -> None:
    Parser.spellings = {"--max-hr-rate": "-maxhrrate"}
    try:
        assert spelled("--max-hr-rate") == "-maxhrrate"
        assert spelled("--asap") == "--asap"
    finally:
        Parser.spellings = {}


async def _in_a_nursery(exc: BaseException) -> int:
    async def fail() -> None:
        raise exc

    async with trio.open_nursery() as nursery:
        nursery.start_soon(fail)
        await trio.sleep_forever()


def test_no_sctp_inside_an_exception_group_is_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    no_sctp = OSError(errno.ESOCKTNOSUPPORT, "Socket type not supported")
    assert run(args(), lambda _a: _in_a_nursery(no_sctp)) == 1
    captured = capsys.readouterr()
    assert captured.err == f"rserpool test: error: {NO_SCTP_HINT}\n"
    assert captured.out == ""


def test_nested_groups_are_unwrapped_and_equal_lines_told_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    nested = ExceptionGroup("outer", [ExceptionGroup("inner", [CommandError("no registrar")]),
                                      CommandError("no registrar")])  # fmt: skip
    assert run(args(), lambda _a: _in_a_nursery(nested)) == 1
    assert capsys.readouterr().err == "rserpool test: error: no registrar\n"


def test_different_failures_at_once_are_still_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    both = ExceptionGroup("tasks", [TransportError("cannot bind 192.0.2.9"),
                                    CommandError("no registrar")])  # fmt: skip
    assert run(args(), lambda _a: _in_a_nursery(both)) == 1
    assert capsys.readouterr().err == (
        "rserpool test: error: cannot bind 192.0.2.9; no registrar\n"
    )


def test_a_usage_error_at_run_time_is_exit_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(args(), lambda _a: _in_a_nursery(UsageError("argument --x: bad"))) == 2
    assert capsys.readouterr().err == (
        "rserpool test: error: argument --x: bad (see rserpool test --help)\n"
    )


def test_verbose_adds_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(args(verbose=1), lambda _a: _in_a_nursery(CommandError("gone"))) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.endswith("rserpool test: error: gone\n")


def test_a_bug_shows_its_traceback_and_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(args(), lambda _a: _in_a_nursery(RuntimeError("boom"))) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.endswith("rserpool test: error: RuntimeError: boom\n")


def test_other_os_errors_are_told_plainly(capsys: pytest.CaptureFixture[str]) -> None:
    in_use = OSError(errno.EADDRINUSE, "Address already in use")
    assert run(args(), lambda _a: _in_a_nursery(in_use)) == 1
    assert capsys.readouterr().err == (
        "rserpool test: error: address already in use (Address already in use): is another "
        "instance running?\n"
    )


def test_the_result_of_main_is_the_exit_status() -> None:
    async def main(_args: argparse.Namespace) -> int:
        await trio.lowlevel.checkpoint()
        return 3

    assert run(args(), main) == 3


def test_sigterm_ends_main_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    async def main(_args: argparse.Namespace) -> int:
        os.kill(os.getpid(), signal.SIGTERM)
        await trio.sleep_forever()

    assert run(args(), main) == 0
    assert capsys.readouterr().out == "signal SIGTERM: shutting down\n"
