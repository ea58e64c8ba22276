"""Watching a running RSerPool system: the Component Status Protocol's monitor side.

:mod:`rserpool.monitor.model` is the sans-IO table of components built from CSP reports
(:mod:`rserpool.wire.csp`), purged when they fall silent, as RSPLIB's ``cspmonitor`` keeps it.
"""
