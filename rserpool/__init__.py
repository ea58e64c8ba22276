"""rserpool: Reliable Server Pooling (RSerPool, RFC 5351-5356) on Trio.

The package is layered like the protocol, from the bytes up:

* ``rserpool.wire``: every ASAP and ENRP message and parameter (RFC 5352-5354), encoded and
  decoded byte-exactly; annotated hex dumps. Sans-IO.
* ``rserpool.handlespace``: the registrar's handlespace (pools, PEs, deadlines, checksums,
  Handle Table paging). Sans-IO.
* ``rserpool.policies``: the pool member selection policies of RFC 5356 and RSPLIB. Sans-IO.
* ``rserpool.scope``: address scopes as RSPLIB classifies them (which addresses a transport
  parameter may carry).
* ``rserpool.transport``: the only layer with sockets: multi-homed kernel SCTP and UDP
  multicast on Trio (``KernelHost``), and an in-memory network in virtual time with the same
  interface (``MemoryNetwork``).
* ``rserpool.proto``: the protocol cores of the registrar (ASAP, ENRP, takeover), the pool
  element and the pool user (server hunt, sessions with cookie failover). Sans-IO: bytes and
  the time in, actions, events and deadlines out.
* ``rserpool.drivers``: the cores on a transport, as Trio components: ``serve_registrar``,
  ``open_pool_element``, ``open_pool_user``, RSPLIB's services, ``hsdump``.
* ``rserpool.errors``: one hierarchy of errors under ``RSerPoolError`` (wire, protocol,
  transport, usage), each with the RFC 5354 Operation Error cause it stands for.
* ``rserpool.testing``: deterministic simulators of registrars, pool elements and pool users
  in virtual time, for testing code built on rserpool (docs/testing.md).
* ``rserpool.cli``: the ``rserpool`` command (``registrar``, ``server``, ``terminal``,
  ``pingpong``, ``hsdump``) on kernel SCTP.

The names most programs need are importable from here (docs/api.md shows them at work)::

    from rserpool import MemoryNetwork, open_pool_element, open_pool_user, serve_registrar

They are imported on first use, so ``import rserpool`` stays cheap and needs neither Trio's
drivers nor pysctp until a program asks for them (``KernelHost`` needs pysctp).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from rserpool.apps.service_handlers import service_handler as service_handler
    from rserpool.drivers._asap_client import SessionGone as SessionGone
    from rserpool.drivers.pool_element import PoolElementNode as PoolElementNode
    from rserpool.drivers.pool_element import PoolElementSession as PoolElementSession
    from rserpool.drivers.pool_element import SessionHandler as SessionHandler
    from rserpool.drivers.pool_element import open_pool_element as open_pool_element
    from rserpool.drivers.pool_user import PoolUserNode as PoolUserNode
    from rserpool.drivers.pool_user import PoolUserSession as PoolUserSession
    from rserpool.drivers.pool_user import ResolutionError as ResolutionError
    from rserpool.drivers.pool_user import open_pool_user as open_pool_user
    from rserpool.drivers.registrar import Registrar as Registrar
    from rserpool.drivers.registrar import serve_registrar as serve_registrar
    from rserpool.errors import RSerPoolError as RSerPoolError
    from rserpool.proto.client.hunt_types import RegistrarHuntConfig as RegistrarHuntConfig
    from rserpool.proto.client.pool_user import PoolUserConfig as PoolUserConfig
    from rserpool.proto.client.session import BusinessCardReceived as BusinessCardReceived
    from rserpool.proto.client.session import CookieEchoReceived as CookieEchoReceived
    from rserpool.proto.client.session import CookieReceived as CookieReceived
    from rserpool.proto.client.session import DataReceived as DataReceived
    from rserpool.proto.client.session import FailoverComplete as FailoverComplete
    from rserpool.proto.client.session import FailoverNecessary as FailoverNecessary
    from rserpool.proto.client.session import SessionClosed as SessionClosed
    from rserpool.proto.client.session import SessionConnected as SessionConnected
    from rserpool.proto.common import TransportAddress as TransportAddress
    from rserpool.proto.registrar import RegistrarConfig as RegistrarConfig
    from rserpool.scope import AddressScope as AddressScope
    from rserpool.transport.abc import AssociationParams as AssociationParams
    from rserpool.transport.abc import Host as Host
    from rserpool.transport.kernel import KernelHost as KernelHost
    from rserpool.transport.memory import LINUX_DEFAULTS as LINUX_DEFAULTS
    from rserpool.transport.memory import TUNED as TUNED
    from rserpool.transport.memory import MemoryHost as MemoryHost
    from rserpool.transport.memory import MemoryNetwork as MemoryNetwork
    from rserpool.transport.userland import UserlandHost as UserlandHost
    from rserpool.wire.constants import PolicyType as PolicyType
    from rserpool.wire.policy import PoolMemberSelectionPolicy as PoolMemberSelectionPolicy

#: Where each lazily imported name is defined.
_LAZY: dict[str, str] = {
    # the three roles (rserpool.drivers)
    "serve_registrar": "rserpool.drivers.registrar",
    "Registrar": "rserpool.drivers.registrar",
    "open_pool_element": "rserpool.drivers.pool_element",
    "PoolElementNode": "rserpool.drivers.pool_element",
    "PoolElementSession": "rserpool.drivers.pool_element",
    "SessionHandler": "rserpool.drivers.pool_element",
    "open_pool_user": "rserpool.drivers.pool_user",
    "PoolUserNode": "rserpool.drivers.pool_user",
    "PoolUserSession": "rserpool.drivers.pool_user",
    "ResolutionError": "rserpool.drivers.pool_user",
    "SessionGone": "rserpool.drivers._asap_client",
    "service_handler": "rserpool.apps.service_handlers",
    # their configuration (rserpool.proto, rserpool.wire, rserpool.scope)
    "RegistrarConfig": "rserpool.proto.registrar",
    "PoolUserConfig": "rserpool.proto.client.pool_user",
    "RegistrarHuntConfig": "rserpool.proto.client.hunt_types",
    "TransportAddress": "rserpool.proto.common",
    "PolicyType": "rserpool.wire.constants",
    "PoolMemberSelectionPolicy": "rserpool.wire.policy",
    "AddressScope": "rserpool.scope",
    # what a session yields (rserpool.proto.client.session)
    "DataReceived": "rserpool.proto.client.session",
    "CookieReceived": "rserpool.proto.client.session",
    "CookieEchoReceived": "rserpool.proto.client.session",
    "BusinessCardReceived": "rserpool.proto.client.session",
    "SessionConnected": "rserpool.proto.client.session",
    "FailoverNecessary": "rserpool.proto.client.session",
    "FailoverComplete": "rserpool.proto.client.session",
    "SessionClosed": "rserpool.proto.client.session",
    # where they run (rserpool.transport)
    "Host": "rserpool.transport.abc",
    "AssociationParams": "rserpool.transport.abc",
    "KernelHost": "rserpool.transport.kernel",
    "MemoryNetwork": "rserpool.transport.memory",
    "MemoryHost": "rserpool.transport.memory",
    "LINUX_DEFAULTS": "rserpool.transport.memory",
    "TUNED": "rserpool.transport.memory",
    "UserlandHost": "rserpool.transport.userland",
    # what they raise (rserpool.errors: every error is an RSerPoolError)
    "RSerPoolError": "rserpool.errors",
}

__all__ = [
    "LINUX_DEFAULTS",
    "TUNED",
    "AddressScope",
    "AssociationParams",
    "BusinessCardReceived",
    "CookieEchoReceived",
    "CookieReceived",
    "DataReceived",
    "FailoverComplete",
    "FailoverNecessary",
    "Host",
    "KernelHost",
    "MemoryHost",
    "MemoryNetwork",
    "PolicyType",
    "PoolElementNode",
    "PoolElementSession",
    "PoolMemberSelectionPolicy",
    "PoolUserConfig",
    "PoolUserNode",
    "PoolUserSession",
    "RSerPoolError",
    "Registrar",
    "RegistrarConfig",
    "RegistrarHuntConfig",
    "ResolutionError",
    "SessionClosed",
    "SessionConnected",
    "SessionGone",
    "SessionHandler",
    "TransportAddress",
    "UserlandHost",
    "__version__",
    "open_pool_element",
    "open_pool_user",
    "serve_registrar",
    "service_handler",
]


def _lazy_names(
    module: str, sources: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``module`` (PEP 562; also used by
    :mod:`rserpool.errors`): a name of ``sources`` (name → the module
    that defines it) is imported on first use and kept in ``namespace`` (the module's
    globals), so the next lookup does not come here."""

    def __getattr__(name: str) -> object:
        source = sources.get(name)
        if source is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *sources})

    return __getattr__, __dir__


__getattr__, __dir__ = _lazy_names(__name__, _LAZY, globals())
