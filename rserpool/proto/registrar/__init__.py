"""The sans-IO registrar (ENRP server): RFC 5352 §3 registrar side, RFC 5353, RSPLIB quirks.

Split by concern like RSPLIB's ``rspregistrar-*.c``: :mod:`.core` (dispatch, bad input,
timers, outbox), :mod:`.asap`, :mod:`.enrp`, :mod:`.takeover`, :mod:`.peers`,
:mod:`.ratelimit`, :mod:`.addresses`, :mod:`.config`, :mod:`.events`, :mod:`.state`,
:mod:`.keepalive` (the home PEs' keep-alive timers), :mod:`.replies` (Handle Resolution
Responses from cached bytes).
"""

from __future__ import annotations

from rserpool.proto.registrar.config import RegistrarConfig
from rserpool.proto.registrar.core import RegistrarCore
from rserpool.proto.registrar.events import (
    AssociationAborted,
    DeregistrationRefused,
    EndpointUnreachableReported,
    ErrorReceived,
    HandleResolved,
    HandleTableSynchronized,
    MentorSelected,
    MessageIgnored,
    MessageRejected,
    PeerAdded,
    PeerChecksumMismatched,
    PeerLossReason,
    PeerLost,
    PoolElementLearned,
    PoolElementRegistered,
    PoolElementRemoved,
    RateLimited,
    RegistrationRefused,
    RemovalReason,
    StartupCompleted,
    TakeoverAborted,
    TakeoverAbortReason,
    TakeoverCompleted,
    TakeoverStarted,
)
from rserpool.proto.registrar.peers import Peer
from rserpool.proto.registrar.state import Timer
from rserpool.scope import AddressScope

__all__ = [
    "AddressScope",
    "AssociationAborted",
    "DeregistrationRefused",
    "EndpointUnreachableReported",
    "ErrorReceived",
    "HandleResolved",
    "HandleTableSynchronized",
    "MentorSelected",
    "MessageIgnored",
    "MessageRejected",
    "Peer",
    "PeerAdded",
    "PeerChecksumMismatched",
    "PeerLossReason",
    "PeerLost",
    "PoolElementLearned",
    "PoolElementRegistered",
    "PoolElementRemoved",
    "RateLimited",
    "RegistrarConfig",
    "RegistrarCore",
    "RegistrationRefused",
    "RemovalReason",
    "StartupCompleted",
    "TakeoverAbortReason",
    "TakeoverAborted",
    "TakeoverCompleted",
    "TakeoverStarted",
    "Timer",
]
