"""The base class of every ASAP and ENRP message: header framing, flags, summaries."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, ClassVar, Self

from rserpool.wire.buffer import HEADER, PADDING, U32_U32
from rserpool.wire.constants import PPID, UnknownParameterAction
from rserpool.wire.errors import EncodeError
from rserpool.wire.tlv import Scanner, UnknownParameter, join_tlvs


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """An ASAP or ENRP message (RFC 5354 §4): ``u8 type, u8 flags, u16 length``, then a body.

    ``extensions`` holds top-level parameters with skip action bits that the codec does not
    expect in this message; they are re-encoded where they were found.
    """

    PPID: ClassVar[PPID]
    TYPE: ClassVar[int]
    NAME: ClassVar[str]
    FIXED: ClassVar[struct.Struct | None] = None  # fixed u32/u16 fields before the TLVs
    #: Every field but ``extensions`` holds a plain value (bytes, int, bool, None), so the
    #: parameters to report can only be in ``extensions``.
    FLAT: ClassVar[bool] = False

    extensions: tuple[UnknownParameter, ...] = ()

    # -- subclasses override these --------------------------------------------------------
    def _flags(self) -> int:
        return 0

    def _fixed(self) -> bytes:
        return b""

    def _params(self) -> list[bytes]:
        return []

    def _details(self) -> str:
        return ""

    @classmethod
    def _from_wire(cls, flags: int, fixed: tuple[int, ...], scan: Scanner) -> Self:
        raise NotImplementedError

    @classmethod
    def _exact(cls, data: bytes, flags: int, length: int) -> Self | None:
        """The message if ``data`` has the one layout a subclass reads without scanning its
        parameters (the same message ``_from_wire`` makes of it); None: scan as usual."""
        return None

    # -- public ---------------------------------------------------------------------------
    def encode(self) -> bytes:
        """The message on the wire, trailing padding included."""
        body = self._fixed() + join_tlvs(self._params(), self.extensions)
        length = 4 + len(body)
        if length > 0xFFFF:
            raise EncodeError(f"{self.NAME} too long: {length} bytes")
        return HEADER.pack(self.TYPE, self._flags(), length) + body + PADDING[length & 3]

    def summary(self) -> str:
        """One line for logs and traces, e.g. ``ASAP Registration EchoPool PE 0x...``."""
        details = self._details()
        text = f"{self.PPID.name} {self.NAME}" + (f" {details}" if details else "")
        if self.extensions:
            text += f" +{len(self.extensions)} unknown param(s)"
        return text

    def __str__(self) -> str:
        return self.summary()

    def to_report(self) -> tuple[UnknownParameter, ...]:
        """Skipped parameters whose action bits (11) ask for an Unrecognized Parameter report."""
        if self.FLAT:  # fast path: saves walking the fields of every plain request
            report = UnknownParameterAction.SKIP_AND_REPORT
            return tuple(e for e in self.extensions if e.action is report)
        return tuple(_reportable(self))


def _reportable(obj: Any) -> Iterator[UnknownParameter]:
    for f in fields(obj):
        value = getattr(obj, f.name)
        if f.name == "extensions":
            for e in value:
                if e.action is UnknownParameterAction.SKIP_AND_REPORT:
                    yield e
        elif isinstance(value, tuple):
            for item in value:
                if is_dataclass(item) and not isinstance(item, type):
                    yield from _reportable(item)
        elif is_dataclass(value) and not isinstance(value, type):
            yield from _reportable(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrpMessage(Message):
    """An ENRP message: every body starts with the sending and receiving server ids."""

    PPID: ClassVar[PPID] = PPID.ENRP
    FIXED: ClassVar[struct.Struct | None] = U32_U32

    sender_id: int
    receiver_id: int = 0

    def _fixed(self) -> bytes:
        return U32_U32.pack(self.sender_id, self.receiver_id)

    def summary(self) -> str:
        text = Message.summary(self)
        return f"{text} [{self.sender_id:#010x}->{self.receiver_id:#010x}]"
