"""Moved to :mod:`rserpool.testing.registrar`; this re-export keeps ``from .sim import`` working."""

from rserpool.testing.registrar import Fake, Sim, SimEndpoint, ip

__all__ = ["Fake", "Sim", "SimEndpoint", "ip"]
