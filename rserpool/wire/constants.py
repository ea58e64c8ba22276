"""Numbers from the RFCs: PPIDs, ports, message and parameter types, causes, policies.

Every value here is on the wire; the names follow RFC 5352 §8, RFC 5353 §5, RFC 5354 §3/§5 and
RFC 5356 §7. RSPLIB 3.4.4's extensions (extra cause codes, private-use policies) are marked.
"""

from __future__ import annotations

import enum


class PPID(enum.IntEnum):
    """SCTP Payload Protocol Identifiers (RFC 5352 §8.3, RFC 5353 §5.4, RSPLIB services)."""

    ASAP = 11
    ENRP = 12
    FRACTAL_GENERATOR = 32  # RSPLIB service
    PINGPONG = 33  # RSPLIB service
    CALCAPP = 34  # RSPLIB service
    SCRIPTING = 35  # RSPLIB service


ASAP_PORT = 3863  # RFC 5352 §8.2 (sctp, tcp, udp)
ASAP_TLS_PORT = 3864
ENRP_PORT = 9901  # RFC 5353 §5.3
ENRP_TLS_PORT = 9902
ASAP_ANNOUNCE_GROUP = ("239.0.0.50", 3863)  # what RSPLIB 3.4.4 uses
ENRP_ANNOUNCE_GROUP = ("239.0.0.51", 9901)  # what RSPLIB 3.4.4 uses
ASAP_IANA_ANNOUNCE_GROUP = ("224.0.1.185", 3863)  # RFC 5352 §8.4
ANNOUNCE_TTL = 30


class AsapType(enum.IntEnum):
    """ASAP message types (RFC 5352 §8.1)."""

    REGISTRATION = 0x01
    DEREGISTRATION = 0x02
    REGISTRATION_RESPONSE = 0x03
    DEREGISTRATION_RESPONSE = 0x04
    HANDLE_RESOLUTION = 0x05
    HANDLE_RESOLUTION_RESPONSE = 0x06
    ENDPOINT_KEEP_ALIVE = 0x07
    ENDPOINT_KEEP_ALIVE_ACK = 0x08
    ENDPOINT_UNREACHABLE = 0x09
    SERVER_ANNOUNCE = 0x0A
    COOKIE = 0x0B
    COOKIE_ECHO = 0x0C
    BUSINESS_CARD = 0x0D
    ERROR = 0x0E


class EnrpType(enum.IntEnum):
    """ENRP message types (RFC 5353 §5.1)."""

    PRESENCE = 0x01
    HANDLE_TABLE_REQUEST = 0x02
    HANDLE_TABLE_RESPONSE = 0x03
    HANDLE_UPDATE = 0x04
    LIST_REQUEST = 0x05
    LIST_RESPONSE = 0x06
    INIT_TAKEOVER = 0x07
    INIT_TAKEOVER_ACK = 0x08
    TAKEOVER_SERVER = 0x09
    ERROR = 0x0A


class UpdateAction(enum.IntEnum):
    """ENRP Handle Update actions (RFC 5353 §2.3.4)."""

    ADD_PE = 0x0000
    DEL_PE = 0x0001


class ParamType(enum.IntEnum):
    """Parameter types (RFC 5354 §3), including the Handle Resolution option."""

    IPV4_ADDRESS = 0x0001
    IPV6_ADDRESS = 0x0002
    DCCP_TRANSPORT = 0x0003
    SCTP_TRANSPORT = 0x0004
    TCP_TRANSPORT = 0x0005
    UDP_TRANSPORT = 0x0006
    UDP_LITE_TRANSPORT = 0x0007
    POOL_MEMBER_SELECTION_POLICY = 0x0008
    POOL_HANDLE = 0x0009
    POOL_ELEMENT = 0x000A
    SERVER_INFORMATION = 0x000B
    OPERATION_ERROR = 0x000C
    COOKIE = 0x000D
    PE_IDENTIFIER = 0x000E
    PE_CHECKSUM = 0x000F
    OPAQUE_TRANSPORT = 0x0010
    HANDLE_RESOLUTION_OPTION = 0x803F  # draft-dreibholz-rserpool-asap-hropt


class UnknownParameterAction(enum.IntEnum):
    """What the two high bits of a parameter type ask of a receiver that does not know it."""

    STOP = 0b00
    STOP_AND_REPORT = 0b01
    SKIP = 0b10
    SKIP_AND_REPORT = 0b11

    @classmethod
    def of(cls, param_type: int) -> UnknownParameterAction:
        return cls((param_type >> 14) & 0b11)


class TransportUse(enum.IntEnum):
    """Transport use field of SCTP/TCP/DCCP transport parameters (RFC 5354 §3.3)."""

    DATA_ONLY = 0x0000
    DATA_PLUS_CONTROL = 0x0001


class Cause(enum.IntEnum):
    """Operation Error cause codes: RFC 5354 §5, then RSPLIB 3.4.4's own codes."""

    UNSPECIFIED_ERROR = 0x0000
    UNRECOGNIZED_PARAMETER = 0x0001
    UNRECOGNIZED_MESSAGE = 0x0002
    INVALID_VALUES = 0x0003
    NON_UNIQUE_PE_IDENTIFIER = 0x0004
    INCONSISTENT_POOLING_POLICY = 0x0005
    LACK_OF_RESOURCES = 0x0006
    INCONSISTENT_TRANSPORT_TYPE = 0x0007
    INCONSISTENT_DATA_CONTROL_CONFIGURATION = 0x0008
    UNKNOWN_POOL_HANDLE = 0x0009
    REJECTED_DUE_TO_SECURITY_CONSIDERATIONS = 0x000A
    # RSPLIB 3.4.4 (rserpoolerror.h)
    RSPLIB_INVALID_MESSAGE = 0x0010
    RSPLIB_INVALID_VALUE = 0x0011
    RSPLIB_WRONG_PROTOCOL = 0x100A
    RSPLIB_UNSUPPORTED_POOL_POLICY = 0x100B
    RSPLIB_INVALID_ID = 0xF000
    RSPLIB_OWN_ID = 0xF001
    RSPLIB_DUPLICATE_ID = 0xF002
    RSPLIB_INVALID_POOL_POLICY = 0xF003
    RSPLIB_INVALID_POOL_HANDLE = 0xF004
    RSPLIB_INVALID_ADDRESSES = 0xF005
    RSPLIB_INVALID_REGISTRATOR = 0xF006
    RSPLIB_NO_USABLE_ASAP_ADDRESSES = 0xF007
    RSPLIB_NO_USABLE_USER_ADDRESSES = 0xF008


class PolicyType(enum.IntEnum):
    """Pool member selection policies (RFC 5356 §7.1; 0xb... are RSPLIB's private-use ones)."""

    ROUND_ROBIN = 0x00000001
    WEIGHTED_ROUND_ROBIN = 0x00000002
    RANDOM = 0x00000003
    WEIGHTED_RANDOM = 0x00000004
    PRIORITY = 0x00000005
    LEAST_USED = 0x40000001
    LEAST_USED_DEGRADATION = 0x40000002
    PRIORITY_LEAST_USED = 0x40000003
    RANDOMIZED_LEAST_USED = 0x40000004
    RANDOMIZED_PRIORITY_LEAST_USED = 0xB0001001
    RANDOMIZED_LEAST_USED_DEGRADATION = 0xB0001002
    PRIORITY_LEAST_USED_DEGRADATION = 0xB0001003
    RANDOMIZED_PRIORITY_LEAST_USED_DEGRADATION = 0xB0001004
    WEIGHTED_RANDOM_DPF = 0xB0002001
    LEAST_USED_DPF = 0xB0002002
    LEAST_USED_DEGRADATION_DPF = 0xB0002003


# The u32 fields that follow the policy type on the wire, in wire order (RFC 5356 §7,
# RSPLIB's creator/parser for the private-use ones). Field names are attributes of
# ``rserpool.wire.policy.PoolMemberSelectionPolicy``.
POLICY_FIELDS: dict[PolicyType, tuple[str, ...]] = {
    PolicyType.ROUND_ROBIN: (),
    PolicyType.WEIGHTED_ROUND_ROBIN: ("weight",),
    PolicyType.RANDOM: (),
    PolicyType.WEIGHTED_RANDOM: ("weight",),
    PolicyType.PRIORITY: ("priority",),
    PolicyType.LEAST_USED: ("load",),
    PolicyType.LEAST_USED_DEGRADATION: ("load", "load_degradation"),
    PolicyType.PRIORITY_LEAST_USED: ("load", "load_degradation"),
    PolicyType.RANDOMIZED_LEAST_USED: ("load",),
    PolicyType.RANDOMIZED_PRIORITY_LEAST_USED: ("load", "load_degradation"),
    PolicyType.RANDOMIZED_LEAST_USED_DEGRADATION: ("load", "load_degradation"),
    PolicyType.PRIORITY_LEAST_USED_DEGRADATION: ("load", "load_degradation"),
    PolicyType.RANDOMIZED_PRIORITY_LEAST_USED_DEGRADATION: ("load", "load_degradation"),
    PolicyType.WEIGHTED_RANDOM_DPF: ("weight", "weight_dpf", "distance"),
    PolicyType.LEAST_USED_DPF: ("load", "load_dpf", "distance"),
    PolicyType.LEAST_USED_DEGRADATION_DPF: ("load", "load_degradation", "load_dpf", "distance"),
}

MAX_POOL_HANDLE_SIZE = 32  # RSPLIB MAX_POOLHANDLESIZE
MAX_ADDRESSES_PER_TRANSPORT = 64
MAX_HR_ITEMS = 128  # hard cap on PEs per Handle Resolution Response
HR_ITEMS_ALL = 0xFFFFFFFF  # Handle Resolution option: "as many as possible"
HR_ITEMS_DEFAULT = 0  # Handle Resolution option: "the registrar's default"
FULL_LOAD = 0xFFFFFFFF  # load/degradation/DPF values are fractions of this
