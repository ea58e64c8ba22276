"""The registrar driver's output: the core's actions carried out on its sockets.

``Send`` goes on the association it names, else on the association the endpoint's
:class:`~rserpool.drivers.associations.AssociationTable` has for its destination, else on a new
``connect`` (and is sent without a checkpoint where the transport allows); ``Abort`` aborts the
association; ``Multicast`` sends an announce to its endpoint's group. Whatever goes wrong stays
with that action: an encoding failure (a core bug) is logged and counted, a transport failure
counts the message as dropped (the protocol's timers deal with it).
"""

from __future__ import annotations

import logging
from contextlib import suppress

import trio

from rserpool.drivers.registrar_sockets import Socket
from rserpool.drivers.registrar_stats import RegistrarStatistics
from rserpool.proto.common import Abort, Action, Endpoint, Multicast, Send
from rserpool.transport import Address, TransportError, UdpSocket

log = logging.getLogger("rserpool.registrar")


class ActionPerformer:
    """Carries out the registrar core's actions on the driver's sockets (shared, filled in
    once they are bound), counting them in ``statistics``."""

    def __init__(
        self,
        sockets: dict[Endpoint, Socket],
        udp: dict[Endpoint, UdpSocket],
        groups: dict[Endpoint, Address],
        statistics: RegistrarStatistics,
    ) -> None:
        self._sockets = sockets
        self._udp = udp
        self._groups = groups
        self.statistics = statistics
        self._warned: set[Endpoint] = set()

    def perform_now(self, action: Action) -> bool:
        """Carry out a ``Send`` on a known association of a socket that sends without a
        checkpoint, without a coroutine; False: ``perform`` must do it (anything else, or the
        socket would block). Whatever goes wrong is counted and logged as by ``perform``."""
        if type(action) is not Send or action.assoc_id is None:
            return False
        sock = self._sockets[action.endpoint]
        immediate = sock.immediate
        if immediate is None or self._debug:
            return False
        try:
            data = action.encode()
        except Exception:
            return False  # ``perform`` logs and counts it
        try:
            if not immediate.send_nowait(action.assoc_id, data, action.ppid):
                return False
        except (TransportError, trio.BrokenResourceError, OSError) as exc:
            self.statistics.sends_dropped += 1
            log.debug("dropped %s: %s", action, exc)
            return True
        except Exception:
            self.statistics.send_errors += 1
            log.exception("%s assoc %s: Send failed", action.endpoint.value, action.assoc_id)
            return True
        self.statistics.sent[sock.name] += 1
        sock.sent_types[data[0]] += 1
        return True

    @property
    def _debug(self) -> bool:
        """Every action is logged at DEBUG: ``perform`` does that."""
        return log.isEnabledFor(logging.DEBUG)

    async def perform(self, action: Action) -> None:
        """Carry out one action; whatever goes wrong stays with that action."""
        try:
            await self._perform_one(action)
        except Exception:
            self.statistics.send_errors += 1
            assoc = getattr(action, "assoc_id", None)
            log.exception("%s assoc %s: %s failed", action.endpoint.value, assoc,
                          type(action).__name__)  # fmt: skip

    async def _perform_one(self, action: Action) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s", action)
        if isinstance(action, Send):
            await self._send(action)
        elif isinstance(action, Abort):
            sock = self._sockets[action.endpoint]
            sock.table.lost(action.assoc_id)
            self.statistics.aborts += 1
            with suppress(TransportError, trio.BrokenResourceError, OSError):  # already gone
                await sock.sctp.abort(action.assoc_id)
        elif isinstance(action, Multicast):
            await self._multicast(action)

    async def _send(self, send: Send) -> None:
        sock = self._sockets[send.endpoint]
        assoc_id = send.assoc_id
        try:
            data = send.encode()
        except Exception as exc:  # EncodeError: a core bug; the message is lost, nothing else
            self.statistics.send_errors += 1
            where = f"assoc {assoc_id}" if assoc_id is not None else f"to {send.to}"
            log.error("%s %s: cannot encode %s: %s", send.endpoint.value, where,
                      send.message.summary(), exc)  # fmt: skip
            return
        try:
            if assoc_id is None:
                if send.to is None or not send.to.addresses:
                    self.statistics.sends_dropped += 1
                    return
                assoc_id = sock.table.find(send.to)
                if assoc_id is None:
                    remote = [(str(a), send.to.port) for a in send.to.addresses]
                    assoc_id = await sock.sctp.connect(remote)
                    sock.table.starting(assoc_id, send.to)
                    self.statistics.connects += 1
            immediate = sock.immediate
            if immediate is None or not immediate.send_nowait(assoc_id, data, send.ppid):
                await sock.sctp.send(assoc_id, data, send.ppid)
            self.statistics.sent[sock.name] += 1
            sock.sent_types[data[0]] += 1
        except (TransportError, trio.BrokenResourceError, OSError) as exc:
            self.statistics.sends_dropped += 1
            log.debug("dropped %s: %s", send, exc)

    async def _multicast(self, multicast: Multicast) -> None:
        udp = self._udp.get(multicast.endpoint)
        if udp is None:
            return
        group = self._groups[multicast.endpoint]
        try:
            await udp.send(multicast.encode(), group)
            self.statistics.multicasts[multicast.endpoint.value] += 1
        except (TransportError, OSError) as exc:
            self.statistics.multicast_failures += 1
            level = logging.DEBUG if multicast.endpoint in self._warned else logging.WARNING
            self._warned.add(multicast.endpoint)
            log.log(level, "sending %s to %s:%d failed: %s", multicast.message.summary(),
                    *group, exc)  # fmt: skip
