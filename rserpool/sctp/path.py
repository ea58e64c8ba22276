"""One destination transport address of the peer (RFC 9260 §14.3): its RTO (§6.3.1), its
congestion window (§7.2), its error counter and reachability (§8.2), its heartbeats (§8.3)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rserpool.sctp.config import SctpConfig
from rserpool.sctp.params import IPAddress


@dataclass(slots=True)
class RtoEstimator:
    """SRTT, RTTVAR and RTO per RFC 9260 §6.3.1, in ms (clock granularity G = 1 ms)."""

    config: SctpConfig
    rto: int = 0
    srtt: float | None = None
    rttvar: float = 0.0

    def __post_init__(self) -> None:
        self.rto = self.config.rto_initial  # C1

    def measure(self, rtt: int) -> None:
        """One RTT sample R (never from a retransmitted chunk: Karn, C5)."""
        c = self.config
        r = max(0, rtt)
        if self.srtt is None:  # C2
            self.srtt = float(r)
            self.rttvar = r / 2
        else:  # C3: RTTVAR first, with the old SRTT
            self.rttvar = (1 - c.rto_beta) * self.rttvar + c.rto_beta * abs(self.srtt - r)
            self.srtt = (1 - c.rto_alpha) * self.srtt + c.rto_alpha * r
        self.rto = self._clamp(round(self.srtt + max(1.0, 4 * self.rttvar)))  # C3, G = 1 ms

    def back_off(self) -> None:
        """E2/§6.3.3: double the RTO, up to RTO.Max."""
        self.rto = self._clamp(self.rto * 2)

    def _clamp(self, rto: int) -> int:
        return min(self.config.rto_max, max(self.config.rto_min, rto))  # C6, C7


@dataclass(slots=True, eq=False)
class Path:
    """State kept per destination address of the peer."""

    address: IPAddress
    udp_port: int  # the remote UDP encapsulation port (RFC 6951 §5.1), learned on receipt
    config: SctpConfig
    confirmed: bool = False  # §5.4: no DATA to an unconfirmed address
    active: bool = True
    error_count: int = 0
    rto: RtoEstimator = field(init=False)
    cwnd: int = 0
    ssthresh: int = 0
    partial_bytes_acked: int = 0
    flight_size: int = 0  # bytes of DATA chunks sent here, not acked, not marked for rtx
    heartbeat_outstanding: bool = False
    heartbeat_nonce: int = 0
    rtt_tsn: int | None = None  # the DATA chunk being timed for an RTT sample (one per RTT)

    def __post_init__(self) -> None:
        self.rto = RtoEstimator(self.config)
        self.reset_congestion(peer_rwnd=self.config.a_rwnd)

    @property
    def pmdcs(self) -> int:
        return self.config.max_data_size

    def reset_congestion(self, peer_rwnd: int) -> None:
        """§7.2.1: initial cwnd; ssthresh arbitrarily high (the peer's a_rwnd)."""
        mss = self.pmdcs
        floor = 4404 if self.address.version == 4 else 4344
        self.cwnd = min(4 * mss, max(2 * mss, floor))
        self.ssthresh = max(peer_rwnd, 4 * mss)
        self.partial_bytes_acked = 0

    def on_acked(self, acked_bytes: int, flight_before: int, in_fast_recovery: bool) -> None:
        """§7.2.1/§7.2.2: grow cwnd for DATA newly acked on this path."""
        mss = self.pmdcs
        if self.cwnd <= self.ssthresh:
            if flight_before >= self.cwnd and not in_fast_recovery:
                self.cwnd += min(acked_bytes, mss)  # L = 1
            return
        self.partial_bytes_acked += acked_bytes
        if self.partial_bytes_acked >= self.cwnd:
            if flight_before >= self.cwnd:
                self.partial_bytes_acked -= self.cwnd
                self.cwnd += mss
            else:
                self.partial_bytes_acked = self.cwnd

    def on_loss(self) -> None:
        """§7.2.3, loss seen in SACKs (fast retransmit)."""
        self.ssthresh = max(self.cwnd // 2, 4 * self.pmdcs)
        self.cwnd = self.ssthresh
        self.partial_bytes_acked = 0

    def on_timeout(self) -> None:
        """§7.2.3, T3-rtx expired: slow start from one packet; §6.3.3 E2: back off."""
        self.ssthresh = max(self.cwnd // 2, 4 * self.pmdcs)
        self.cwnd = self.pmdcs
        self.partial_bytes_acked = 0
        self.rto.back_off()

    def __str__(self) -> str:
        return f"{self.address}:{self.udp_port}"
