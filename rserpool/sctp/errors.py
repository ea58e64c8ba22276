"""The SCTP codec's exceptions: :class:`SctpDecodeError` for bad bytes, :class:`SctpEncodeError`
for objects that cannot go on the wire, :class:`SctpUsageError` for a user call that the
association's state does not allow."""

from __future__ import annotations

from rserpool.errors import TransportError


class SctpDecodeError(TransportError):
    """Untrusted bytes are not a well-formed SCTP packet; the only exception the decoder raises.

    ``offset`` is where in the packet the problem was found. The receiver discards the packet
    silently (RFC 9260 gives no reply to a malformed packet; a bad CRC32c is just dropped).
    """

    def __init__(self, reason: str, *, offset: int = 0) -> None:
        super().__init__(f"{reason} (at offset {offset:#x})")
        self.reason = reason
        self.offset = offset


class SctpEncodeError(TransportError, ValueError):
    """A chunk or parameter object holds a value that does not fit its wire field."""


class SctpUsageError(TransportError, RuntimeError):
    """A user primitive (send, shutdown, ...) that the association cannot take in its state."""
