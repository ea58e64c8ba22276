"""The registrar driver's action output without a coroutine (``ActionPerformer.perform_now``):
what it takes on, what it leaves to ``perform``, and how it counts."""

from __future__ import annotations

import logging

import pytest
import trio

from rserpool.drivers.registrar_actions import ActionPerformer
from rserpool.drivers.registrar_sockets import Socket
from rserpool.drivers.registrar_stats import RegistrarStatistics
from rserpool.proto.common import Abort, Endpoint, Send, TransportAddress
from rserpool.transport import Received, TransportError
from rserpool.wire import RegistrationResponse


class FakeEndpoint:
    """Just the non-checkpointing half of an SCTP endpoint."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, bytes, int]] = []
        self.accept: bool | Exception = True

    def receive_nowait(self) -> Received | None:
        return None

    def send_nowait(self, assoc_id: int, data: bytes, ppid: int) -> bool:
        if isinstance(self.accept, Exception):
            raise self.accept
        if self.accept:
            self.sent.append((assoc_id, data, ppid))
        return self.accept


def _performer() -> tuple[ActionPerformer, FakeEndpoint, RegistrarStatistics]:
    endpoint = FakeEndpoint()
    sock = Socket(Endpoint.ASAP, endpoint)  # type: ignore[arg-type]
    stats = RegistrarStatistics()
    return ActionPerformer({Endpoint.ASAP: sock}, {}, {}, stats), endpoint, stats


RESPONSE = RegistrationResponse(pool_handle=b"P", pe_id=7)


def test_a_send_on_an_association_goes_out_at_once() -> None:
    performer, endpoint, stats = _performer()
    assert performer.perform_now(Send(Endpoint.ASAP, 5, RESPONSE))
    assert endpoint.sent == [(5, RESPONSE.encode(), 11)]
    assert stats.sent["ASAP"] == 1
    assert performer._sockets[Endpoint.ASAP].sent_types[RESPONSE.TYPE] == 1


def test_what_needs_a_coroutine_is_left_to_perform() -> None:
    performer, endpoint, stats = _performer()
    to = TransportAddress((), 0)
    assert not performer.perform_now(Send(Endpoint.ASAP, None, RESPONSE, to))
    assert not performer.perform_now(Abort(Endpoint.ASAP, 5))
    endpoint.accept = False  # the socket would block
    assert not performer.perform_now(Send(Endpoint.ASAP, 5, RESPONSE))
    assert endpoint.sent == [] and stats.sent["ASAP"] == 0


@pytest.mark.parametrize("error", [TransportError("gone"), trio.BrokenResourceError()])
def test_a_failed_send_is_counted_as_dropped(error: Exception) -> None:
    performer, endpoint, stats = _performer()
    endpoint.accept = error
    assert performer.perform_now(Send(Endpoint.ASAP, 5, RESPONSE))
    assert stats.sends_dropped == 1 and stats.sent["ASAP"] == 0


def test_debug_logging_takes_the_logging_path(caplog: pytest.LogCaptureFixture) -> None:
    performer, endpoint, _ = _performer()
    with caplog.at_level(logging.DEBUG, logger="rserpool.registrar"):
        assert not performer.perform_now(Send(Endpoint.ASAP, 5, RESPONSE))
    assert endpoint.sent == []
