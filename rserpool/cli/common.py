"""What every ``rserpool`` subcommand shares: logging options, one-line errors, signals.

The conventions, the same for every subcommand:

* **Output.** What a component does is told on standard output, one line per event, in
  RFC terms (``Registration: PE $00002001 in "EchoPool" accepted by registrar $00000101``).
  Those lines are log records of level INFO and are printed bare; warnings, errors and debug
  records carry their level in front. Everything goes to the same stream, in order.
* **Verbosity.** ``-v`` adds debug records, ``-q`` keeps only warnings and errors (``-qq``:
  only errors); ``--log-level debug|info|warning|error`` says it explicitly. RSPLIB's
  ``-loglevel=0..9`` maps onto the same levels (:data:`RSPLIB_LOG_LEVELS`).
* **Errors.** A usage error (a bad option) is one line on standard error and exit status 2,
  naming the option as it was spelled on the command line. A failure at run time (no
  registrar answered, an address that cannot be bound, no SCTP in this kernel) is one line on
  standard error and exit status 1; ``-v`` adds the traceback.
"""

from __future__ import annotations

import argparse
import errno
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, NoReturn

import trio

from rserpool.errors import RSerPoolError
from rserpool.errors import UsageError as UsageError  # defined there, public here

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
#: RSPLIB's ``-loglevel=N`` (0 = nothing .. 9 = everything) → our level names.
RSPLIB_LOG_LEVELS = {0: "error", 1: "error", 2: "warning", 3: "info"}  # 4..9: debug
#: The errno values with which ``socket(AF_INET, ..., IPPROTO_SCTP)`` fails without kernel SCTP.
NO_SCTP_ERRNOS = {errno.EPROTONOSUPPORT, errno.ESOCKTNOSUPPORT, errno.EAFNOSUPPORT}
NO_SCTP_HINT = (
    "this kernel has no SCTP: use --transport udp (SCTP over UDP on rserpool's own stack: "
    "no kernel module, no root) or load it with `modprobe sctp` (as root)"
)

log = logging.getLogger("rserpool")


class CommandError(RSerPoolError):
    """A failure at run time, told as one line (exit status 1)."""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line: ``rserpool server: error: argument ...``.

    ``spellings`` maps our option names to the RSPLIB spelling the user typed (``--count`` →
    ``-count``), so that the error names the option as it was written.
    """

    spellings: ClassVar[dict[str, str]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        for ours, theirs in sorted(self.spellings.items(), key=lambda kv: -len(kv[0])):
            message = message.replace(f"argument {ours}", f"argument {theirs}")
            message = message.replace(f"/{ours}:", f"/{theirs}:")
        tell_error(self.prog, message, usage=True)
        self.exit(2)


def tell_error(prog: str, line: str, *, usage: bool = False) -> None:
    """The one line of a failure on standard error: ``rserpool X: error: ...``; a usage error
    points to ``--help``."""
    hint = f" (see {prog} --help)" if usage else ""
    print(f"{prog}: error: {line}{hint}", file=sys.stderr, flush=True)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help shows its default (unless it says so itself)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or action.nargs == 0
            or default is None
            or default is False  # not 0: a default of 0 is shown
            or default == []
            or default == argparse.SUPPRESS
        ):
            return text
        return super()._get_help_string(action)


def add_logging_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output")
    group.add_argument("-v", "--verbose", action="count", default=0,
                       help="tell more: debug records, tracebacks of failures")  # fmt: skip
    group.add_argument("-q", "--quiet", action="count", default=0,
                       help="tell less: only warnings (-qq: only errors)")  # fmt: skip
    group.add_argument("--log-level", choices=list(LEVELS), default=None,
                       help="the lowest level told (default info; overrides -v/-q)")  # fmt: skip


def log_level(args: argparse.Namespace) -> int:
    if getattr(args, "log_level", None):
        return LEVELS[args.log_level]
    verbosity = getattr(args, "verbose", 0) - getattr(args, "quiet", 0)
    if verbosity > 0:
        return logging.DEBUG
    return {0: logging.INFO, -1: logging.WARNING}.get(verbosity, logging.ERROR)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno == logging.INFO:
            return message
        if record.levelno == logging.DEBUG:
            return f"debug: {record.name}: {message}"
        return f"{record.levelname.lower()}: {message}"


def setup_logging(args: argparse.Namespace) -> None:
    """One handler on standard output for the whole ``rserpool`` logger tree."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_Formatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(log_level(args))


def say(line: str) -> None:
    """Tell the user what happened (an INFO record, printed bare; ``-q`` hides it)."""
    log.info(line)


def check_range(
    name: str, value: float, low: float | None = None, high: float | None = None
) -> None:
    """Raise :class:`UsageError` unless ``low <= value <= high`` (NaN is never in range)."""
    if value != value:  # NaN
        raise UsageError(f"argument {name}: not a number")
    if low is not None and value < low:
        raise UsageError(f"argument {name}: must be at least {low:g} (got {value:g})")
    if high is not None and value > high:
        raise UsageError(f"argument {name}: must be at most {high:g} (got {value:g})")


def number(
    kind: Callable[[str], float] = float,
    low: float | None = None,
    high: float | None = None,
) -> Callable[[str], float]:
    """An argparse ``type`` for a number within ``[low, high]``; NaN and infinities refused."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
        if low is not None and value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low:g}, not {text}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:g}, not {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def integer(low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type`` for an integer within ``[low, high]``."""
    parse = number(int, low, high)
    return lambda text: int(parse(text))


def positive(
    kind: Callable[[str], float] = float, high: float | None = None
) -> Callable[[str], float]:
    """An argparse ``type`` for a finite number above 0 (a timeout, an interval)."""
    parse = number(kind, None, high)

    def parse_positive(text: str) -> float:
        value = parse(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
        return value

    parse_positive.__name__ = kind.__name__
    return parse_positive


def spelled(option: str) -> str:
    """``option`` as the user spelled it (``--max-hr-rate`` → ``-maxhrrate`` when the
    RSPLIB spelling was used), for messages about it outside argparse."""
    return Parser.spellings.get(option, option)


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def describe_failure(exc: BaseException) -> str | None:
    """The one line for a failure the user can act on; None for a bug (show the traceback)."""
    if isinstance(exc, RSerPoolError):  # every error rserpool raises on purpose
        return str(exc) or type(exc).__name__
    if isinstance(exc, OSError):
        if exc.errno in NO_SCTP_ERRNOS:
            return NO_SCTP_HINT
        if exc.errno == errno.EADDRINUSE:
            return f"address already in use ({exc.strerror}): is another instance running?"
        if exc.errno == errno.EADDRNOTAVAIL:
            return f"cannot bind that address here ({exc.strerror}): it is not on this host"
        if exc.errno in (errno.EACCES, errno.EPERM):
            return f"not permitted ({exc.strerror}): ports below 1024 need root"
        return exc.strerror or str(exc)
    if isinstance(exc, ValueError):
        return str(exc)
    return None


def run(
    args: argparse.Namespace,
    main: Callable[[argparse.Namespace], Awaitable[int]],
) -> int:
    """Run ``main(args)`` under Trio: logging set up, SIGINT/SIGTERM end it cleanly (the
    component leaves in order: a PE deregisters), failures become one line (several at once,
    e.g. from the tasks of one nursery, are joined with "; ")."""
    setup_logging(args)
    try:
        return trio.run(_until_signal, main, args)
    except KeyboardInterrupt:
        return 130
    except BaseException as exc:
        leaves = _leaves(exc)
        if any(isinstance(leaf, KeyboardInterrupt) for leaf in leaves):
            return 130
        if any(isinstance(leaf, SystemExit) for leaf in leaves):
            raise
        lines = [describe_failure(leaf) for leaf in leaves]
        if getattr(args, "verbose", 0) or any(line is None for line in lines):
            import traceback

            traceback.print_exception(exc, file=sys.stderr)
        usage = all(isinstance(leaf, UsageError) for leaf in leaves)
        prog = getattr(args, "prog", "rserpool")
        told = dict.fromkeys(line or f"{type(leaf).__name__}: {leaf}"
                             for line, leaf in zip(lines, leaves, strict=True))  # fmt: skip
        tell_error(prog, "; ".join(told), usage=usage)
        return 2 if usage else 1


async def _until_signal(
    main: Callable[[argparse.Namespace], Awaitable[int]], args: argparse.Namespace
) -> int:
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
