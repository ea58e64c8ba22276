"""SCTP over UDP (RFC 6951) on the project's own sans-IO stack, :mod:`rserpool.sctp`: the
third transport, beside kernel SCTP and the in-memory network."""

from rserpool.transport.userland.host import SCTP_UDP_PORT, UserlandHost

__all__ = ["SCTP_UDP_PORT", "UserlandHost"]
