"""TLV framing: splitting a region into parameters and scanning them in RSPLIB's strict order.

The two high bits of a parameter type are its *action bits* (RFC 5354 §3): what a receiver
that does not expect the parameter must do. :class:`Scanner` applies them exactly as RSPLIB
does while it looks for the next expected parameter:

* ``00`` stop: :class:`DecodeError` with ``report=False`` (discard silently);
* ``01`` stop and report: :class:`DecodeError`, cause Unrecognized Parameter, with the TLV;
* ``10`` skip: kept as :class:`UnknownParameter` so the message re-encodes byte-exactly;
* ``11`` skip and report: kept as well; ``Message.to_report()`` lists them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rserpool.wire.buffer import PADDING, TLV_HEADER, pad4, tlv
from rserpool.wire.constants import Cause, ParamType, UnknownParameterAction
from rserpool.wire.errors import DecodeError, InvalidValues, UnrecognizedParameter

STANDARD_PARAM_TYPES = frozenset(int(t) for t in ParamType)


@dataclass(frozen=True, slots=True)
class UnknownParameter:
    """A parameter the codec skipped (action bits 1x), kept raw so it round-trips.

    ``position`` is how many known parameters of the same TLV list precede it, so the encoder
    puts it back in the same place. ``value`` excludes the TLV header and padding.
    """

    type: int
    value: bytes
    position: int = 0

    @property
    def action(self) -> UnknownParameterAction:
        return UnknownParameterAction.of(self.type)

    def encode(self) -> bytes:
        return tlv(self.type, self.value)


class Tlv:
    """One parameter found in a buffer: type and the [start, end) span of its TLV."""

    __slots__ = ("data", "end", "start", "type")

    def __init__(self, data: bytes, param_type: int, start: int, end: int) -> None:
        self.data = data
        self.type = param_type
        self.start = start
        self.end = end

    @property
    def raw(self) -> bytes:
        """The whole TLV without padding: what an Operation Error cause carries."""
        return self.data[self.start : self.end]

    @property
    def value(self) -> bytes:
        return self.data[self.start + 4 : self.end]

    @property
    def value_length(self) -> int:
        return self.end - self.start - 4

    def invalid(self, reason: str, cause: Cause = Cause.INVALID_VALUES) -> DecodeError:
        """An :class:`InvalidValues` error blaming this TLV (a plain DecodeError with
        ``cause`` when told another cause)."""
        error = InvalidValues if cause is Cause.INVALID_VALUES else DecodeError
        text = f"parameter {self.type:#06x}: {reason}"
        return error(text, cause=cause, offset=self.start, tlv=self.raw)


def split_tlvs(data: bytes, start: int, end: int) -> list[Tlv]:
    """The TLVs in ``data[start:end]``; a last TLV's padding may lie past ``end``."""
    tlvs: list[Tlv] = []
    pos = start
    unpack = TLV_HEADER.unpack_from
    while pos < end:
        if end - pos < 4:
            raise DecodeError(f"{end - pos} stray bytes where a parameter should start", offset=pos)
        param_type, length = unpack(data, pos)
        if length < 4 or pos + length > end:
            raise DecodeError(
                f"parameter {param_type:#06x} length {length} does not fit in {end - pos} bytes",
                offset=pos,
                tlv=data[pos : min(end, pos + max(length, 4))],
            )
        tlvs.append(Tlv(data, param_type, pos, pos + length))
        pos += length + pad4(length)
    return tlvs


def join_tlvs(known: Sequence[bytes], extensions: Sequence[UnknownParameter]) -> bytes:
    """Concatenate encoded TLVs, putting each extension back at its recorded position."""
    if not extensions:
        return b"".join(known)
    out: list[bytes] = []
    pending = sorted(extensions, key=lambda e: e.position)
    j = 0
    for i, item in enumerate(known):
        while j < len(pending) and pending[j].position <= i:
            out.append(pending[j].encode())
            j += 1
        out.append(item)
    out.extend(e.encode() for e in pending[j:])
    return b"".join(out)


def _stop(t: Tlv, expected: str) -> DecodeError:
    """The error for meeting ``t`` (action bits 0x) where ``expected`` was wanted."""
    action = UnknownParameterAction.of(t.type)
    return UnrecognizedParameter(
        f"unexpected parameter {t.type:#06x} where {expected} was expected",
        offset=t.start,
        tlv=t.raw,
        report=action is UnknownParameterAction.STOP_AND_REPORT,
    )


class Scanner:
    """Walks a TLV list in a fixed order, applying the action bits to anything unexpected."""

    __slots__ = ("_i", "_known", "_tlvs", "end", "extensions")

    def __init__(self, tlvs: list[Tlv], end: int) -> None:
        self._tlvs = tlvs
        self._i = 0
        self._known = 0
        self.end = end
        self.extensions: list[UnknownParameter] = []

    def _skip(self, want: frozenset[int]) -> Tlv | None:
        """Skip (and keep) skip-bit parameters not in ``want``; return the next TLV, if any."""
        tlvs = self._tlvs
        while self._i < len(tlvs):
            t = tlvs[self._i]
            if t.type in want or not t.type & 0x8000:
                return t
            self.extensions.append(UnknownParameter(t.type, t.value, self._known))
            self._i += 1
        return None

    def _take(self, t: Tlv) -> Tlv:
        self._i += 1
        self._known += 1
        return t

    def optional(self, want: frozenset[int]) -> Tlv | None:
        t = self._skip(want)
        if t is not None and t.type in want:
            return self._take(t)
        return None

    def expect(self, want: frozenset[int], name: str) -> Tlv:
        t = self._skip(want)
        if t is None:
            raise DecodeError(f"missing {name} parameter", offset=self.end)
        if t.type in want:
            return self._take(t)
        raise _stop(t, name)

    def repeat(self, want: frozenset[int]) -> list[Tlv]:
        found = []
        while (t := self.optional(want)) is not None:
            found.append(t)
        return found

    def finish(self) -> tuple[UnknownParameter, ...]:
        """Check nothing but skippable parameters is left; return the kept extensions."""
        t = self._skip(frozenset())
        if t is not None:
            if t.type in STANDARD_PARAM_TYPES:
                raise DecodeError(
                    f"parameter {t.type:#06x} after the last expected one",
                    cause=Cause.RSPLIB_INVALID_MESSAGE,
                    offset=t.start,
                    tlv=t.raw,
                )
            raise _stop(t, "the end")
        return tuple(self.extensions)


def types(*members: int) -> frozenset[int]:
    return frozenset(int(m) for m in members)


__all__ = [
    "PADDING",
    "STANDARD_PARAM_TYPES",
    "Scanner",
    "Tlv",
    "UnknownParameter",
    "join_tlvs",
    "split_tlvs",
    "types",
]
