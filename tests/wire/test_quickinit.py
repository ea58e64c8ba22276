"""``quick_init``: the same objects as the dataclass's own ``__init__`` makes, still frozen."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from rserpool.proto.common import Endpoint, Send
from rserpool.proto.registrar import HandleResolved
from rserpool.wire import HandleResolutionResponse, RegistrationResponse
from rserpool.wire.quickinit import quick_init


@quick_init
@dataclass(frozen=True, slots=True)
class Sample:
    a: int
    b: bytes = b"x"
    c: tuple[int, ...] = dataclasses.field(default=(), kw_only=True)


def test_signature_defaults_and_keywords() -> None:
    assert Sample(1) == Sample(a=1, b=b"x", c=())
    assert repr(Sample(2, b"y", c=(3,))) == "Sample(a=2, b=b'y', c=(3,))"
    with pytest.raises(TypeError):
        Sample(1, b"y", (3,))  # type: ignore[call-arg]  # c is keyword-only
    with pytest.raises(TypeError):
        Sample()  # type: ignore[call-arg]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Sample(1).a = 2  # type: ignore[misc]
    assert dataclasses.replace(Sample(1), b=b"z") == Sample(1, b"z")
    assert hash(Sample(1)) == hash(Sample(1))


def test_refuses_what_it_cannot_copy() -> None:
    @dataclass(frozen=True, slots=True)
    class Normalised:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclass(frozen=True, slots=True)
    class Factory:
        a: list[int] = dataclasses.field(default_factory=list)

    for cls in (Normalised, Factory):
        with pytest.raises(TypeError):
            quick_init(cls)


def test_the_hot_classes_keep_their_fields() -> None:
    send = Send(Endpoint.ASAP, 3, RegistrationResponse(pool_handle=b"P", pe_id=1))
    assert (send.to, send.message.pe_id) == (None, 1)  # type: ignore[attr-defined]
    assert HandleResolved(1, b"P", (2,)).cause is None
    response = HandleResolutionResponse(pool_handle=b"P")
    assert (response.policy, response.pool_elements, response.extensions) == (None, (), ())
