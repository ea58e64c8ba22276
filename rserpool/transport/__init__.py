"""The transport layer: the only place in rserpool with sockets.

* :mod:`rserpool.transport.abc`: the interface (``Host``, ``SctpEndpoint``, ``SctpAssociation``,
  ``SctpListener``, ``UdpSocket``) and its value types (``SctpMessage``, events).
* :mod:`rserpool.transport.kernel`: kernel SCTP on Trio (``KernelHost``), UDP multicast.
* :mod:`rserpool.transport.memory`: an in-memory network in virtual time (``MemoryNetwork``).
* address scopes as RSPLIB classifies them are re-exported from :mod:`rserpool.scope`.

The kernel implementation is imported lazily (it needs pysctp's C module).
"""

from __future__ import annotations

from rserpool.scope import AddressScope, address_scope, advertisable, is_advertisable
from rserpool.transport.abc import (
    ANNOUNCE_TTL,
    ASAP_ANNOUNCE_GROUP,
    ENDING_EVENTS,
    ENRP_ANNOUNCE_GROUP,
    Address,
    AddressState,
    AssociationGone,
    AssociationParams,
    CannotConnect,
    CantStartAssociation,
    CommLost,
    CommUp,
    Datagram,
    Host,
    PeerAddressChange,
    PeerShutdown,
    Received,
    Restart,
    SctpAssociation,
    SctpEndpoint,
    SctpEvent,
    SctpListener,
    SctpMessage,
    SendFailed,
    ShutdownComplete,
    TransportError,
    UdpSocket,
)
from rserpool.transport.memory import LINUX_DEFAULTS, TUNED, MemoryHost, MemoryNetwork

__all__ = [
    "ANNOUNCE_TTL",
    "ASAP_ANNOUNCE_GROUP",
    "ENDING_EVENTS",
    "ENRP_ANNOUNCE_GROUP",
    "LINUX_DEFAULTS",
    "TUNED",
    "Address",
    "AddressScope",
    "AddressState",
    "AssociationGone",
    "AssociationParams",
    "CannotConnect",
    "CantStartAssociation",
    "CommLost",
    "CommUp",
    "Datagram",
    "Host",
    "MemoryHost",
    "MemoryNetwork",
    "PeerAddressChange",
    "PeerShutdown",
    "Received",
    "Restart",
    "SctpAssociation",
    "SctpEndpoint",
    "SctpEvent",
    "SctpListener",
    "SctpMessage",
    "SendFailed",
    "ShutdownComplete",
    "TransportError",
    "UdpSocket",
    "address_scope",
    "advertisable",
    "is_advertisable",
]
