"""A sans-IO SCTP stack for UDP encapsulation (RFC 9260 over RFC 6951).

* :mod:`~rserpool.sctp.packet`, :mod:`~rserpool.sctp.chunks`, :mod:`~rserpool.sctp.params`,
  :mod:`~rserpool.sctp.causes`: the wire format; :func:`decode_packet_untrusted` raises only
  :class:`SctpDecodeError`.
* :class:`Endpoint`: one SCTP port and its associations; datagrams, events and deadlines out.
* :mod:`~rserpool.sctp.state`: the association's state table, rendered into docs/sctp.md.

No module here imports a socket, a clock or an event loop; ``now`` is integer milliseconds.
"""

from rserpool.sctp.association import Datagram
from rserpool.sctp.config import SctpConfig
from rserpool.sctp.endpoint import Endpoint, answer_closed_port
from rserpool.sctp.errors import SctpDecodeError, SctpEncodeError, SctpUsageError
from rserpool.sctp.events import (
    CommunicationError,
    CommunicationLost,
    CommunicationUp,
    DataArrive,
    LostReason,
    NetworkStatusChange,
    PeerShutdown,
    Restart,
    SctpEvent,
    ShutdownComplete,
    Undelivered,
)
from rserpool.sctp.packet import Packet, decode_packet_untrusted, encode_packet
from rserpool.sctp.state import State, render_state_table

__all__ = [
    "CommunicationError",
    "CommunicationLost",
    "CommunicationUp",
    "DataArrive",
    "Datagram",
    "Endpoint",
    "LostReason",
    "NetworkStatusChange",
    "Packet",
    "PeerShutdown",
    "Restart",
    "SctpConfig",
    "SctpDecodeError",
    "SctpEncodeError",
    "SctpEvent",
    "SctpUsageError",
    "ShutdownComplete",
    "State",
    "Undelivered",
    "answer_closed_port",
    "decode_packet_untrusted",
    "encode_packet",
    "render_state_table",
]
