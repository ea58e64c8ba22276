"""Every error rserpool raises, in one hierarchy: ``except RSerPoolError`` catches them all.

::

    RSerPoolError
    ├── WireError          bytes that are no ASAP/ENRP message, or a message that cannot be bytes
    │   ├── DecodeError            (rserpool.wire) untrusted bytes did not decode; cause varies
    │   │   ├── UnrecognizedParameter   cause 0x0001 Unrecognized Parameter
    │   │   ├── UnrecognizedMessage     cause 0x0002 Unrecognized Message
    │   │   └── InvalidValues           cause 0x0003 Invalid Values
    │   ├── EncodeError            (rserpool.wire) also a ValueError
    │   └── CaptureError           (rserpool.capture) a pcap/pcapng file that cannot be read
    ├── ProtocolError      a peer said no: the protocol ran, the answer is a refusal
    │   ├── RegistrationRejected   (rserpool.handlespace) cause varies
    │   └── ResolutionError        (rserpool.drivers.pool_user) cause 0x0009 or None
    ├── TransportError     (rserpool.transport) SCTP or UDP failed under the protocol
    │   ├── AssociationGone        also a trio.BrokenResourceError
    │   ├── CannotConnect
    │   ├── SessionGone            (rserpool.drivers) also a trio.BrokenResourceError
    │   ├── HsdumpError            (rserpool.drivers.hsdump)
    │   └── SctpDecodeError, SctpEncodeError, SctpUsageError   (rserpool.sctp, user-space SCTP)
    ├── UsageError         (rserpool.cli) a bad option or argument value (exit status 2)
    └── CommandError       (rserpool.cli) a subcommand failed at run time (exit status 1)

Each class stays importable where it is defined (``from rserpool.wire import DecodeError``
keeps working); this module names them all, and imports each one only when it is first asked
for, so ``import rserpool.errors`` costs nothing (no Trio, no codec).

**Causes.** An error that stands for an Operation Error cause (RFC 5354 §3.12; RSPLIB adds its
own codes, :class:`rserpool.wire.constants.Cause` lists them all) carries it in ``cause``: as a
class attribute where one cause applies to the whole class (``UnrecognizedMessage.cause`` is
``Cause.UNRECOGNIZED_MESSAGE``), per instance where it varies (a :class:`DecodeError` says which
cause a reply should carry, a :class:`RegistrationRejected` what the handlespace refused, a
:class:`ResolutionError` what the registrar answered). ``cause`` is None for an error that no
cause describes (a transport failure, a bad option)::

    try:
        await pool_user.resolve(b"EchoPool")
    except RSerPoolError as exc:
        if exc.cause == Cause.UNKNOWN_POOL_HANDLE:
            ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rserpool import _lazy_names

if TYPE_CHECKING:
    from rserpool.capture import CaptureError as CaptureError
    from rserpool.cli.common import CommandError as CommandError
    from rserpool.drivers._asap_client import SessionGone as SessionGone
    from rserpool.drivers.hsdump import HsdumpError as HsdumpError
    from rserpool.drivers.pool_user import ResolutionError as ResolutionError
    from rserpool.handlespace.model import RegistrationRejected as RegistrationRejected
    from rserpool.transport.abc import AssociationGone as AssociationGone
    from rserpool.transport.abc import CannotConnect as CannotConnect
    from rserpool.wire.errors import DecodeError as DecodeError
    from rserpool.wire.errors import EncodeError as EncodeError
    from rserpool.wire.errors import InvalidValues as InvalidValues
    from rserpool.wire.errors import UnrecognizedMessage as UnrecognizedMessage
    from rserpool.wire.errors import UnrecognizedParameter as UnrecognizedParameter


class RSerPoolError(Exception):
    """The base of every error rserpool raises on purpose (a bug raises something else).

    ``cause`` is the Operation Error cause code this error stands for (a
    :class:`~rserpool.wire.constants.Cause` member; a plain int only for a code a peer sent
    that no RFC or RSPLIB names), or None when no cause applies.
    """

    cause: int | None = None


class WireError(RSerPoolError):
    """Bytes that are no valid ASAP or ENRP message (or capture file), or a message object
    that cannot go on the wire: the errors of :mod:`rserpool.wire` and :mod:`rserpool.capture`."""


class ProtocolError(RSerPoolError):
    """The protocol ran and the answer is no: a registrar refused a registration, a handle
    resolution found no pool element. ``cause`` says why, in the registrar's words."""


class TransportError(RSerPoolError):
    """A transport operation failed for a reason other than cancellation (an address not on
    this host, a port in use, an association that is gone): :mod:`rserpool.transport`."""


class UsageError(RSerPoolError):
    """A bad option or argument value, told as one line (exit status 2)."""


#: Where each lazily imported error class is defined.
_LAZY: dict[str, str] = {
    "DecodeError": "rserpool.wire.errors",
    "UnrecognizedParameter": "rserpool.wire.errors",
    "UnrecognizedMessage": "rserpool.wire.errors",
    "InvalidValues": "rserpool.wire.errors",
    "EncodeError": "rserpool.wire.errors",
    "CaptureError": "rserpool.capture",
    "RegistrationRejected": "rserpool.handlespace.model",
    "ResolutionError": "rserpool.drivers.pool_user",
    "AssociationGone": "rserpool.transport.abc",
    "CannotConnect": "rserpool.transport.abc",
    "SessionGone": "rserpool.drivers._asap_client",
    "HsdumpError": "rserpool.drivers.hsdump",
    "CommandError": "rserpool.cli.common",
}

__all__ = [
    "AssociationGone",
    "CannotConnect",
    "CaptureError",
    "CommandError",
    "DecodeError",
    "EncodeError",
    "HsdumpError",
    "InvalidValues",
    "ProtocolError",
    "RSerPoolError",
    "RegistrationRejected",
    "ResolutionError",
    "SessionGone",
    "TransportError",
    "UnrecognizedMessage",
    "UnrecognizedParameter",
    "UsageError",
    "WireError",
]


__getattr__, __dir__ = _lazy_names(__name__, _LAZY, globals())
