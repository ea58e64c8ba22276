"""Error causes (RFC 9260 §3.3.10), carried in ERROR and ABORT chunks.

A cause is a TLV like a parameter: code, length, cause-specific information. One class,
:class:`ErrorCause`, holds any of them; constructors and accessors give the RFC's fields
for the causes this stack sends or reads. Causes of a known code whose information has the
wrong size are a decode error; unknown codes are kept as they are.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from rserpool.sctp.constants import CauseCode
from rserpool.sctp.errors import SctpDecodeError, SctpEncodeError
from rserpool.sctp.params import U16, U32, split_tlvs, strip_final_padding, tlv

_FIXED_SIZE: dict[int, int] = {  # causes whose information has one fixed size
    CauseCode.INVALID_STREAM_IDENTIFIER: 4,  # stream identifier, reserved
    CauseCode.STALE_COOKIE: 4,  # measure of staleness (µs)
    CauseCode.OUT_OF_RESOURCE: 0,
    CauseCode.INVALID_MANDATORY_PARAMETER: 0,
    CauseCode.NO_USER_DATA: 4,  # TSN
    CauseCode.COOKIE_RECEIVED_WHILE_SHUTTING_DOWN: 0,
}
_MISSING = struct.Struct("!I")


@dataclass(frozen=True, slots=True)
class ErrorCause:
    """One error cause: ``code`` and its cause-specific information, unpadded."""

    code: int
    info: bytes = b""

    # ------------------------------------------------------------ constructors

    @classmethod
    def invalid_stream(cls, stream: int) -> ErrorCause:
        return cls(CauseCode.INVALID_STREAM_IDENTIFIER, U16.pack(stream) + b"\0\0")

    @classmethod
    def missing_mandatory(cls, types: tuple[int, ...]) -> ErrorCause:
        return cls(
            CauseCode.MISSING_MANDATORY_PARAMETER,
            _MISSING.pack(len(types)) + b"".join(U16.pack(t) for t in types),
        )

    @classmethod
    def stale_cookie(cls, staleness_us: int) -> ErrorCause:
        return cls(CauseCode.STALE_COOKIE, U32.pack(min(staleness_us, 0xFFFFFFFF)))

    @classmethod
    def unrecognized_chunk(cls, chunk: bytes) -> ErrorCause:
        return cls(CauseCode.UNRECOGNIZED_CHUNK_TYPE, chunk)

    @classmethod
    def unrecognized_parameters(cls, tlvs: bytes) -> ErrorCause:
        return cls(CauseCode.UNRECOGNIZED_PARAMETERS, tlvs)

    @classmethod
    def no_user_data(cls, tsn: int) -> ErrorCause:
        return cls(CauseCode.NO_USER_DATA, U32.pack(tsn))

    @classmethod
    def user_abort(cls, reason: bytes) -> ErrorCause:
        return cls(CauseCode.USER_INITIATED_ABORT, reason)

    @classmethod
    def protocol_violation(cls, text: str) -> ErrorCause:
        return cls(CauseCode.PROTOCOL_VIOLATION, text.encode())

    # --------------------------------------------------------------- accessors

    @property
    def name(self) -> str:
        try:
            return CauseCode(self.code).name
        except ValueError:
            return f"cause {self.code}"

    @property
    def stream(self) -> int:
        """Invalid Stream Identifier: the stream."""
        return int(U16.unpack_from(self.info, 0)[0])

    @property
    def staleness_us(self) -> int:
        """Stale Cookie: how late the cookie was, in microseconds."""
        return int(U32.unpack_from(self.info, 0)[0])

    @property
    def tsn(self) -> int:
        """No User Data: the TSN of the empty DATA chunk."""
        return int(U32.unpack_from(self.info, 0)[0])

    @property
    def missing_types(self) -> tuple[int, ...]:
        """Missing Mandatory Parameter: the parameter types."""
        (count,) = _MISSING.unpack_from(self.info, 0)
        return tuple(t for (t,) in U16.iter_unpack(self.info[4 : 4 + 2 * count]))

    def encode(self) -> bytes:
        if not 0 <= self.code <= 0xFFFF:
            raise SctpEncodeError(f"cause code {self.code} out of range")
        return tlv(self.code, self.info)

    def __str__(self) -> str:
        return self.name if not self.info else f"{self.name}({self.info.hex()})"


def decode_causes(data: bytes, start: int, end: int) -> tuple[ErrorCause, ...]:
    causes = []
    for code, info in split_tlvs(data, start, end):
        size = _FIXED_SIZE.get(code)
        if size is not None and len(info) != size:
            raise SctpDecodeError(f"cause {code} needs {size} bytes, has {len(info)}", offset=start)
        if code == CauseCode.MISSING_MANDATORY_PARAMETER and (
            len(info) < 4 or len(info) != 4 + 2 * _MISSING.unpack_from(info, 0)[0]
        ):
            raise SctpDecodeError("Missing Mandatory Parameter count lies", offset=start)
        causes.append(ErrorCause(code, info))
    return tuple(causes)


def encode_causes(causes: tuple[ErrorCause, ...]) -> bytes:
    return strip_final_padding([c.encode() for c in causes])
