"""Codec exceptions: :class:`DecodeError` for bad input, :class:`EncodeError` for bad objects.

Both are :class:`rserpool.errors.WireError`\\ s (so :class:`rserpool.errors.RSerPoolError`\\ s).
The subclasses of :class:`DecodeError` name the RFC 5354 §3.12 causes a decoder meets (an
unknown parameter or message type, a value out of range); each carries its cause as a class
attribute, so ``except UnrecognizedMessage`` and ``exc.cause`` agree.
"""

from __future__ import annotations

from rserpool.errors import WireError
from rserpool.wire.constants import Cause

__all__ = [
    "DecodeError",
    "EncodeError",
    "InvalidValues",
    "UnrecognizedMessage",
    "UnrecognizedParameter",
]


class DecodeError(WireError):
    """Untrusted bytes could not be decoded; the only exception a ``*_untrusted`` call raises.

    ``cause`` is the Operation Error cause a reply should carry (RFC 5354 §3.12, or an RSPLIB
    code where no RFC cause fits): the one given, else the class's (RSPLIB's Invalid Message
    for a plain DecodeError); ``tlv`` the offending parameter (or message) bytes to put in the
    cause data, and ``report`` whether a reply should be sent at all: ``False`` when the action
    bits of an unrecognized parameter or message type ask to stop *silently*. ``offset`` is the
    byte offset into the message where the problem was found.
    """

    cause: Cause = Cause.RSPLIB_INVALID_MESSAGE

    def __init__(
        self,
        message: str,
        *,
        cause: Cause | None = None,
        offset: int = 0,
        tlv: bytes | None = None,
        report: bool = True,
    ) -> None:
        super().__init__(f"{message} (at offset {offset:#x})")
        self.reason = message
        if cause is not None:
            self.cause = cause
        self.offset = offset
        self.tlv = tlv
        self.report = report


class UnrecognizedParameter(DecodeError):
    """A parameter type this decoder does not know, whose action bits ask for a report."""

    cause = Cause.UNRECOGNIZED_PARAMETER


class UnrecognizedMessage(DecodeError):
    """A message type this decoder does not know (of a known protocol)."""

    cause = Cause.UNRECOGNIZED_MESSAGE


class InvalidValues(DecodeError):
    """A well-formed message whose values the protocol does not allow."""

    cause = Cause.INVALID_VALUES


class EncodeError(WireError, ValueError):
    """A message or parameter object holds a value that cannot go on the wire."""
