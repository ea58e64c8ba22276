"""Kernel SCTP only: ``receive_nowait`` and ``send_nowait``, the non-checkpointing calls the
registrar driver uses to handle a batch of queued messages between two checkpoints."""

from __future__ import annotations

import pytest
import trio

from rserpool.transport import CommUp, SctpMessage
from tests.transport.conftest import kernel_pair
from tests.transport.helpers import messages, wait_for

pytestmark = pytest.mark.sctp

PORT = 3863


async def test_receive_nowait_drains_what_is_queued_in_order(
    request: pytest.FixtureRequest,
) -> None:
    from rserpool.transport.kernel import KernelEndpoint

    pair = kernel_pair(request)
    with trio.fail_after(pair.timeout):
        server = await pair.b.sctp_endpoint(PORT)
        client = await pair.a.sctp_endpoint()
        assert isinstance(server, KernelEndpoint) and isinstance(client, KernelEndpoint)
        client_id = await client.connect([(pair.b.addresses()[0], PORT)])
        await wait_for(client.receive, CommUp)
        server_id = (await wait_for(server.receive, CommUp)).assoc_id
        assert server.receive_nowait() is None  # nothing queued: None, no blocking

        for n in range(20):
            assert client.send_nowait(client_id, n.to_bytes(4, "big"), 11)
        got = await messages(server.receive, 1)
        deadline = trio.current_time() + 10
        while len(got) < 20 and trio.current_time() < deadline:
            item = server.receive_nowait()
            if item is None:
                await trio.sleep(0.01)  # the rest is still on its way
            elif isinstance(item, SctpMessage):
                got.append(item)
        assert [int.from_bytes(m.data, "big") for m in got] == list(range(20))
        assert {(m.assoc_id, m.ppid) for m in got} == {(server_id, 11)}
        assert server.receive_nowait() is None

        assert server.send_nowait(server_id, b"reply", 12)
        (reply,) = await messages(client.receive, 1)
        assert (reply.data, reply.ppid, reply.assoc_id) == (b"reply", 12, client_id)
        for sock in (client, server):
            await sock.aclose()
        with pytest.raises(trio.ClosedResourceError):
            server.receive_nowait()
        with pytest.raises(trio.ClosedResourceError):
            server.send_nowait(server_id, b"late", 11)
