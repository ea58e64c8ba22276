"""``rserpool.errors``: one hierarchy, the RFC 5354 causes, cheap to import, and the CLI's
one-line errors are exactly the ``RSerPoolError``\\ s."""

from __future__ import annotations

import argparse
import importlib
import inspect
import logging
import pkgutil
import subprocess
import sys
from collections.abc import Iterator

import pytest
import trio

import rserpool
import rserpool.errors
from rserpool.cli.common import CommandError, describe_failure, run
from rserpool.drivers._asap_client import SessionGone
from rserpool.drivers.hsdump import HsdumpError
from rserpool.drivers.pool_user import ResolutionError
from rserpool.errors import (
    ProtocolError,
    RSerPoolError,
    TransportError,
    UsageError,
    WireError,
)
from rserpool.handlespace.model import RegistrationRejected
from rserpool.transport import AssociationGone, CannotConnect
from rserpool.wire import (
    PPID,
    Cause,
    DecodeError,
    EncodeError,
    InvalidValues,
    UnrecognizedMessage,
    UnrecognizedParameter,
    decode_message_untrusted,
)

BRANCHES = (WireError, ProtocolError, TransportError, UsageError)

#: Every error class and the branch it belongs to (CommandError: RSerPoolError itself).
EXPECTED: dict[str, type[RSerPoolError]] = {
    "DecodeError": WireError,
    "UnrecognizedParameter": WireError,
    "UnrecognizedMessage": WireError,
    "InvalidValues": WireError,
    "EncodeError": WireError,
    "CaptureError": WireError,
    "CaptureFormatError": WireError,
    "RegistrationRejected": ProtocolError,
    "ResolutionError": ProtocolError,
    "TransportError": TransportError,
    "AssociationGone": TransportError,
    "CannotConnect": TransportError,
    "SessionGone": TransportError,
    "HsdumpError": TransportError,
    "SctpDecodeError": TransportError,
    "SctpEncodeError": TransportError,
    "SctpUsageError": TransportError,
    "UsageError": UsageError,
    "CommandError": RSerPoolError,
}


#: Errors that signal a bug in rserpool, not a failure to tell as one line: no RSerPoolErrors.
BUGS = {"SessionStateError", "StateTableViolation"}


def _error_classes() -> Iterator[type[BaseException]]:
    """Every public exception class defined in a module of the rserpool package."""
    for info in pkgutil.walk_packages(rserpool.__path__, "rserpool."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
                and not name.startswith("_")
            ):
                yield value


def test_every_error_rserpool_defines_is_an_rserpool_error_in_its_branch() -> None:
    found = {cls.__name__: cls for cls in _error_classes()}
    for name in BUGS & found.keys():
        assert not issubclass(found.pop(name), RSerPoolError), name
    assert found.keys() == EXPECTED.keys() | {"RSerPoolError", *(b.__name__ for b in BRANCHES)}
    for name, branch in EXPECTED.items():
        assert issubclass(found[name], branch), name
        assert sum(issubclass(found[name], b) for b in BRANCHES) == (branch is not RSerPoolError)


def test_rserpool_errors_names_each_class_where_it_is_defined() -> None:
    for name in rserpool.errors.__all__:
        value = getattr(rserpool.errors, name)
        assert issubclass(value, RSerPoolError), name
    assert rserpool.errors.DecodeError is DecodeError
    assert rserpool.errors.ResolutionError is ResolutionError
    assert rserpool.errors.HsdumpError is HsdumpError
    assert set(rserpool.errors.__all__) <= set(dir(rserpool.errors))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = rserpool.errors.Nope


def test_the_old_import_paths_are_the_same_classes() -> None:
    import rserpool.cli.common
    import rserpool.transport
    import rserpool.transport.abc
    import rserpool.wire.errors

    assert rserpool.RSerPoolError is RSerPoolError
    assert rserpool.transport.TransportError is rserpool.transport.abc.TransportError
    assert rserpool.transport.TransportError is TransportError
    assert rserpool.cli.common.UsageError is UsageError
    assert rserpool.wire.errors.DecodeError is DecodeError
    assert issubclass(EncodeError, ValueError)  # still what a ValueError handler catches
    assert issubclass(AssociationGone, trio.BrokenResourceError)
    assert issubclass(SessionGone, trio.BrokenResourceError)


def test_import_is_cheap() -> None:
    """``rserpool.errors`` loads neither Trio nor the codec until a lazy name is asked for."""
    code = (
        "import sys, rserpool.errors\n"
        "loaded = [m for m in sys.modules if m.startswith(('trio', 'rserpool.'))]\n"
        "assert loaded == ['rserpool.errors'], loaded\n"
        "from rserpool.errors import DecodeError\n"
        "assert 'trio' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------- causes


@pytest.mark.parametrize(
    ("cls", "code"),
    [  # RFC 5354 §3.12 (and RSPLIB's Invalid Message for a plain DecodeError)
        (UnrecognizedParameter, 0x0001),
        (UnrecognizedMessage, 0x0002),
        (InvalidValues, 0x0003),
        (DecodeError, 0x0010),
    ],
)
def test_a_single_cause_is_a_class_attribute(cls: type[DecodeError], code: int) -> None:
    assert cls.cause == code and isinstance(cls.cause, Cause)
    error = cls("bad", offset=4)
    assert error.cause == code and error.offset == 4 and error.report


def test_errors_without_a_cause_say_none() -> None:
    for cls in (RSerPoolError, *BRANCHES, EncodeError, AssociationGone, CannotConnect):
        assert cls.cause is None, cls
    assert CommandError("x").cause is None and HsdumpError("x").cause is None


def test_varying_causes_are_per_instance_with_the_constructors_of_before() -> None:
    decode = DecodeError("why", cause=Cause.UNKNOWN_POOL_HANDLE, offset=8, tlv=b"t", report=False)
    assert (decode.cause, decode.offset, decode.tlv, decode.report) == (0x0009, 8, b"t", False)
    assert decode.reason == "why" and str(decode) == "why (at offset 0x8)"
    assert DecodeError.cause == Cause.RSPLIB_INVALID_MESSAGE  # the instance did not change it
    rejected = RegistrationRejected(Cause.INCONSISTENT_POOLING_POLICY, "RR vs. LU")
    assert rejected.cause == 0x0005 and rejected.detail == "RR vs. LU"
    resolution = ResolutionError(b"EchoPool", 0x0009, "unknown pool handle")
    assert resolution.cause == Cause.UNKNOWN_POOL_HANDLE and resolution.pool_handle == b"EchoPool"
    assert ResolutionError(b"P", None, "no pool element").cause is None


def test_the_decoder_raises_the_subclass_of_its_cause() -> None:
    unknown_type = bytes([0x4F, 0, 0, 4])  # ASAP type 0x4f, action bits 01: stop and report
    with pytest.raises(UnrecognizedMessage) as message:
        decode_message_untrusted(PPID.ASAP, unknown_type)
    assert message.value.cause == Cause.UNRECOGNIZED_MESSAGE and message.value.report
    # Handle Resolution whose pool handle parameter has type 0x4009 (unknown, action bits 01)
    resolution = bytes.fromhex("0500000c" "40090005" "50000000")  # fmt: skip
    with pytest.raises(UnrecognizedParameter) as parameter:
        decode_message_untrusted(PPID.ASAP, resolution)
    assert parameter.value.cause == Cause.UNRECOGNIZED_PARAMETER
    # ENRP Handle Update with update action 7 (only 0 and 1 exist)
    update = bytes.fromhex("04000010" "00000001" "00000002" "00070000")  # fmt: skip
    with pytest.raises(InvalidValues):
        decode_message_untrusted(PPID.ENRP, update)


# ---------------------------------------------------------------------------- the CLI


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize(
    "error",
    [
        DecodeError("truncated", offset=3),
        EncodeError("pool handle too long"),
        RegistrationRejected(Cause.RSPLIB_WRONG_PROTOCOL),
        ResolutionError(b"EchoPool", 0x0009, "unknown pool handle"),
        CannotConnect("connection refused"),
        SessionGone(),
        HsdumpError("cannot connect"),
        UsageError("argument --x: bad"),
        CommandError("no registrar answered"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_rserpool_error_is_one_line_without_a_traceback(
    error: RSerPoolError, capsys: pytest.CaptureFixture[str]
) -> None:
    line = describe_failure(error)
    assert line and "\n" not in line
    args = argparse.Namespace(verbose=0, quiet=0, log_level=None, prog="rserpool test")

    async def fail(_args: argparse.Namespace) -> int:
        raise error

    usage = isinstance(error, UsageError)
    assert run(args, fail) == (2 if usage else 1)
    hint = " (see rserpool test --help)" if usage else ""
    assert capsys.readouterr().err == f"rserpool test: error: {line}{hint}\n"


def test_except_rserpool_error_catches_them_and_nothing_else() -> None:
    with pytest.raises(RSerPoolError):
        decode_message_untrusted(PPID.ASAP, b"\x01")
    assert describe_failure(RuntimeError("a bug")) is None
