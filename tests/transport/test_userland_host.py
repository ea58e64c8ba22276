"""UserlandHost's own rules: one UDP socket per distinct address, all on one port; errors a user
can act on."""

from __future__ import annotations

import pytest
import trio

from rserpool.errors import TransportError
from rserpool.transport.userland import UserlandHost


def test_an_address_given_twice_is_bound_once() -> None:
    host = UserlandHost(["127.0.9.1", "127.0.9.1", "127.0.9.2"], 0)
    try:
        assert host.addresses() == ["127.0.9.1", "127.0.9.2"]
    finally:
        host.close()


def test_a_taken_port_is_one_clear_error() -> None:
    first = UserlandHost(["127.0.9.3"], 0)
    try:
        with pytest.raises(TransportError, match=r"cannot bind UDP port \d+ on 127\.0\.9\.3"):
            UserlandHost(["127.0.9.3"], first.udp_port)
    finally:
        first.close()


async def test_only_its_own_addresses_and_free_sctp_ports() -> None:
    host = UserlandHost(["127.0.9.4"], 0)
    try:
        with pytest.raises(TransportError, match="not an address of this host"):
            await host.sctp_endpoint(0, ["127.0.9.5"])
        endpoint = await host.sctp_endpoint(3863)
        with pytest.raises(TransportError, match="SCTP port 3863 is in use"):
            await host.sctp_listen(3863)
        await endpoint.aclose()
        await (await host.sctp_listen(3863)).aclose()  # free again
        await trio.lowlevel.checkpoint()
    finally:
        host.close()
