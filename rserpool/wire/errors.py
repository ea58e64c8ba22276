"""Codec exceptions: :class:`DecodeError` for bad input, :class:`EncodeError` for bad objects."""

from __future__ import annotations

from rserpool.wire.constants import Cause


class DecodeError(Exception):
    """Untrusted bytes could not be decoded; the only exception a ``*_untrusted`` call raises.

    ``cause`` is the Operation Error cause a reply should carry (RFC 5354 §3.12, or an RSPLIB
    code where no RFC cause fits), ``tlv`` the offending parameter (or message) bytes to put in
    the cause data, and ``report`` whether a reply should be sent at all: ``False`` when the
    action bits of an unrecognized parameter or message type ask to stop *silently*.
    ``offset`` is the byte offset into the message where the problem was found.
    """

    def __init__(
        self,
        message: str,
        *,
        cause: Cause = Cause.RSPLIB_INVALID_MESSAGE,
        offset: int = 0,
        tlv: bytes | None = None,
        report: bool = True,
    ) -> None:
        super().__init__(f"{message} (at offset {offset:#x})")
        self.reason = message
        self.cause = cause
        self.offset = offset
        self.tlv = tlv
        self.report = report


class EncodeError(ValueError):
    """A message or parameter object holds a value that cannot go on the wire."""
