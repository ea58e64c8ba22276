"""Every ``rspregistrar`` parameter (RSPLIB 3.4.4), in milliseconds where timed."""

from __future__ import annotations

from dataclasses import dataclass, field

from rserpool.proto.common import IPAddress, TransportAddress
from rserpool.proto.registrar.addresses import AddressScope
from rserpool.wire.constants import ASAP_PORT, ENRP_PORT, MAX_HR_ITEMS

MAX_HT_RESPONSE_BYTES = 1400  # RSPLIB builds Handle Table Responses in 1400-byte buffers

#: ``rspregistrar``'s range of each timer (ms); RSPLIB clamps a value outside it silently.
RSPLIB_TIMER_RANGES: dict[str, tuple[int, int]] = {
    "endpoint_keep_alive_transmission_interval": (300, 300_000),
    "endpoint_keep_alive_timeout_interval": (100, 60_000),
    "server_announce_cycle": (100, 60_000),
    "peer_heartbeat_cycle": (1000, 300_000),
    "peer_max_time_last_heard": (1000, 300_000),
    "peer_max_time_no_response": (1000, 60_000),
    "mentor_discovery_timeout": (1000, 60_000),
    "takeover_expiry_interval": (1000, 60_000),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistrarConfig:
    """The registrar's configuration; names follow ``rspregistrar``'s options.

    ``server_id`` 0 means "draw one from the injected random generator" (as RSPLIB does
    without ``-identifier``). ``asap_addresses``/``enrp_addresses`` are the registrar's own
    addresses as advertised in Server Announce and Server Information: the driver fills them
    with the real local addresses of its SCTP endpoints (not a wildcard). An empty
    ``asap_addresses`` sends announces with the server id only (RSPLIB's format; PEs/PUs then
    use the UDP source address and port).
    """

    server_id: int = 0  # -identifier
    asap_addresses: tuple[IPAddress, ...] = ()  # -asap=addr:port{,addr}
    asap_port: int = ASAP_PORT
    enrp_addresses: tuple[IPAddress, ...] = ()  # -enrp=addr:port{,addr}
    enrp_port: int = ENRP_PORT
    asap_announce: bool = True  # -asapannounce=off disables Server Announce
    enrp_announce: bool = True  # -enrpannounce=off disables multicast Presence
    static_peers: tuple[TransportAddress, ...] = field(default=())  # -peer=addr[:port]
    # Peers only from ``static_peers`` (no TLS: the peer list is the only authorisation)
    static_peers_only: bool = False

    # ASAP (RSPLIB defaults and clamps)
    endpoint_keep_alive_transmission_interval: int = 5000  # 300 ms .. 300 s
    endpoint_keep_alive_timeout_interval: int = 5000  # 100 ms .. 60 s
    server_announce_cycle: int = 1000  # 100 ms .. 60 s, jittered ±12.5 %
    max_bad_pe_reports: int = 3  # >= 1
    max_hr_items: int = 3  # >= 1; a Handle Resolution never returns more than 128
    max_increment: int = 0  # 0 = the policy's default
    max_hr_rate: float = -1  # Handle Resolutions/s per PU and pool; -1 = unlimited
    max_eu_rate: float = -1  # Endpoint Unreachables/s per PU and PE; -1 = unlimited
    min_address_scope: AddressScope = AddressScope.SITE_LOCAL

    # ENRP
    max_elements_per_ht_request: int = 128  # >= 1 (and <= 1400 bytes per message)
    peer_heartbeat_cycle: int = 2444  # 1 s .. 300 s, jittered ±12.5 %
    peer_max_time_last_heard: int = 5000  # 1 s .. 300 s
    peer_max_time_no_response: int = 5000  # 1 s .. 60 s
    mentor_discovery_timeout: int = 5000  # 1 s .. 60 s
    takeover_expiry_interval: int = 5000  # 1 s .. 60 s
    support_takeover_suggestion: bool = False  # accepted; not acted upon yet

    def __post_init__(self) -> None:
        positive = {
            "endpoint_keep_alive_transmission_interval": 1,
            "endpoint_keep_alive_timeout_interval": 1,
            "server_announce_cycle": 1,
            "max_bad_pe_reports": 1,
            "max_hr_items": 1,
            "max_elements_per_ht_request": 1,
            "peer_heartbeat_cycle": 1,
            "peer_max_time_last_heard": 1,
            "peer_max_time_no_response": 1,
            "mentor_discovery_timeout": 1,
            "takeover_expiry_interval": 1,
        }
        for name, minimum in positive.items():
            if getattr(self, name) < minimum:
                raise ValueError(f"{name} must be at least {minimum}")
        if not 0 <= self.server_id <= 0xFFFFFFFF:
            raise ValueError("server_id must be a u32")
        if self.max_increment < 0:
            raise ValueError("max_increment must not be negative")
        for port in (self.asap_port, self.enrp_port):
            if not 0 <= port <= 0xFFFF:
                raise ValueError(f"port {port} out of range")

    @property
    def hr_items_default(self) -> int:
        """PEs per Handle Resolution Response when the PU does not ask (capped at 128)."""
        return min(self.max_hr_items, MAX_HR_ITEMS)

    @classmethod
    def rsplib_clamped(cls, **kwargs: object) -> RegistrarConfig:
        """A configuration with ``rspregistrar``'s clamps applied to the timer values."""
        for name, (low, high) in RSPLIB_TIMER_RANGES.items():
            value = kwargs.get(name)
            if isinstance(value, int):
                kwargs[name] = min(max(value, low), high)
        return cls(**kwargs)  # type: ignore[arg-type]
