"""Sans-IO protocol cores: the registrar (ENRP server), and later the PE and PU (ASAP).

A core is a plain object: the driver feeds it bytes, association ids and the current time in
integer milliseconds, and drains the actions it wants performed (:mod:`rserpool.proto.common`),
the events it observed, and its next deadline. No sockets, no clock, no Trio, no global random.
"""

from __future__ import annotations
