"""Numbers from RFC 9260: chunk types, parameter types, error cause codes, action bits."""

from __future__ import annotations

import enum


class ChunkType(enum.IntEnum):
    """RFC 9260 §3.2, Table 1 (ECNE 12 and CWR 13 are reserved, not implemented)."""

    DATA = 0
    INIT = 1
    INIT_ACK = 2
    SACK = 3
    HEARTBEAT = 4
    HEARTBEAT_ACK = 5
    ABORT = 6
    SHUTDOWN = 7
    SHUTDOWN_ACK = 8
    ERROR = 9
    COOKIE_ECHO = 10
    COOKIE_ACK = 11
    SHUTDOWN_COMPLETE = 14


class ParamType(enum.IntEnum):
    """Parameter types used in INIT, INIT ACK and HEARTBEAT (RFC 9260 §3.3)."""

    HEARTBEAT_INFO = 1
    IPV4_ADDRESS = 5
    IPV6_ADDRESS = 6
    STATE_COOKIE = 7
    UNRECOGNIZED_PARAMETER = 8
    COOKIE_PRESERVATIVE = 9
    HOST_NAME_ADDRESS = 11
    SUPPORTED_ADDRESS_TYPES = 12
    ECN_CAPABLE = 0x8000  # reserved for ECN: treated as unknown, action bits 10 (skip)


class CauseCode(enum.IntEnum):
    """Error cause codes (RFC 9260 §3.3.10)."""

    INVALID_STREAM_IDENTIFIER = 1
    MISSING_MANDATORY_PARAMETER = 2
    STALE_COOKIE = 3
    OUT_OF_RESOURCE = 4
    UNRESOLVABLE_ADDRESS = 5
    UNRECOGNIZED_CHUNK_TYPE = 6
    INVALID_MANDATORY_PARAMETER = 7
    UNRECOGNIZED_PARAMETERS = 8
    NO_USER_DATA = 9
    COOKIE_RECEIVED_WHILE_SHUTTING_DOWN = 10
    RESTART_WITH_NEW_ADDRESSES = 11
    USER_INITIATED_ABORT = 12
    PROTOCOL_VIOLATION = 13


class UnknownAction(enum.Enum):
    """What the upper two bits of an unrecognized chunk or parameter type ask for
    (RFC 9260 §3.2 Table 2 for chunks, §3.2.1 Table 3 for parameters)."""

    STOP = 0b00
    STOP_AND_REPORT = 0b01
    SKIP = 0b10
    SKIP_AND_REPORT = 0b11

    @classmethod
    def of_chunk(cls, chunk_type: int) -> UnknownAction:
        return cls(chunk_type >> 6)

    @classmethod
    def of_parameter(cls, param_type: int) -> UnknownAction:
        return cls(param_type >> 14)

    @property
    def stops(self) -> bool:
        return self in (UnknownAction.STOP, UnknownAction.STOP_AND_REPORT)

    @property
    def reports(self) -> bool:
        return self in (UnknownAction.STOP_AND_REPORT, UnknownAction.SKIP_AND_REPORT)


# Chunk flags (RFC 9260 §3.3.1, §3.3.7, §3.3.13).
DATA_FLAG_E = 0x01  # ending fragment
DATA_FLAG_B = 0x02  # beginning fragment
DATA_FLAG_U = 0x04  # unordered
DATA_FLAG_I = 0x08  # immediate: the receiver should SACK at once (RFC 7053)
FLAG_T = 0x01  # ABORT, SHUTDOWN COMPLETE: the verification tag is the reflected one

COMMON_HEADER_SIZE = 12
CHUNK_HEADER_SIZE = 4
DATA_HEADER_SIZE = 16  # chunk header + TSN + stream id + SSN + PPID
SCTP_UDP_PORT = 9899  # IANA "sctp-tunneling" (RFC 6951 §5.1)
MIN_A_RWND = 1500  # RFC 9260 §3.3.2: a smaller a_rwnd in INIT is rejected
