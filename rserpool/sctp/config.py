"""Protocol parameters (RFC 9260 §16 defaults; all times in integer milliseconds)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SctpConfig:
    """One endpoint's settings. The defaults are RFC 9260 §16's suggested values, except
    ``mtu``: over UDP (RFC 6951) the SCTP packet is the UDP payload, and 1200 bytes keeps
    IPv6 + UDP + SCTP under the 1280-byte IPv6 minimum MTU without path MTU discovery."""

    rto_initial: int = 1000  # RTO.Initial
    rto_min: int = 1000  # RTO.Min
    rto_max: int = 60_000  # RTO.Max
    max_burst: int = 4  # Max.Burst
    rto_alpha: float = 1 / 8  # RTO.Alpha
    rto_beta: float = 1 / 4  # RTO.Beta
    valid_cookie_life: int = 60_000  # Valid.Cookie.Life
    max_cookie_life_increment: int = 1000  # cap on a peer's Cookie Preservative (§5.2.6)
    association_max_retrans: int = 10  # Association.Max.Retrans
    path_max_retrans: int = 5  # Path.Max.Retrans
    max_init_retransmits: int = 8  # Max.Init.Retransmits
    hb_interval: int = 30_000  # HB.interval
    hb_enabled: bool = True
    sack_delay: int = 200  # the delayed SACK timer (§6.2: at most 500 ms)
    sack_every: int = 2  # SACK at least every second packet with DATA (§6.2)
    mtu: int = 1200  # largest SCTP packet we send (the UDP payload)
    a_rwnd: int = 131_072  # receive buffer advertised (at least 1500)
    outbound_streams: int = 16  # OS we ask for
    inbound_streams: int = 16  # MIS we allow
    cookie_key_period: int = 3_600_000  # the State Cookie MAC key changes every hour (§5.1.3)
    max_message_size: int = 256 * 1024  # largest user message send() accepts

    @property
    def max_data_size(self) -> int:
        """PMDCS: the largest DATA payload in one packet (MTU - common header - DATA header)."""
        return self.mtu - 12 - 16
