"""The ASAP messages between a pool user and a pool element (RFC 5352 §2.2.10-2.2.12):
Cookie, Cookie Echo and Business Card, in RSPLIB's parameter order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from rserpool.wire.asap import AsapMessage, _handle, _pe_list
from rserpool.wire.constants import AsapType
from rserpool.wire.params import (
    COOKIE_TYPE,
    POLICY_TYPE,
    Policy,
    PoolElement,
    decode_policy,
    encode_cookie,
    encode_policy,
    encode_pool_handle,
)
from rserpool.wire.text import handle_text
from rserpool.wire.tlv import Scanner


@dataclass(frozen=True, slots=True, kw_only=True)
class _CookieMessage(AsapMessage):
    """Messages whose body is one Cookie parameter."""

    cookie: bytes

    def _params(self) -> list[bytes]:
        return [encode_cookie(self.cookie)]

    @classmethod
    def _from_wire(cls, flags: int, fixed: tuple[int, ...], scan: Scanner) -> Self:
        return cls(cookie=scan.expect(COOKIE_TYPE, "cookie").value)

    def _details(self) -> str:
        return f"{len(self.cookie)} bytes"


@dataclass(frozen=True, slots=True, kw_only=True)
class Cookie(_CookieMessage):
    """PE → PU: Cookie."""

    TYPE: ClassVar[int] = AsapType.COOKIE
    NAME: ClassVar[str] = "Cookie"


@dataclass(frozen=True, slots=True, kw_only=True)
class CookieEcho(_CookieMessage):
    """PU → new PE after failover: the last Cookie received."""

    TYPE: ClassVar[int] = AsapType.COOKIE_ECHO
    NAME: ClassVar[str] = "Cookie Echo"


@dataclass(frozen=True, slots=True, kw_only=True)
class BusinessCard(AsapMessage):
    """PE ↔ PU: Pool Handle, [Policy] (RSPLIB's creator), Pool Elements."""

    TYPE: ClassVar[int] = AsapType.BUSINESS_CARD
    NAME: ClassVar[str] = "Business Card"
    pool_handle: bytes
    policy: Policy | None = None
    pool_elements: tuple[PoolElement, ...] = ()

    def _params(self) -> list[bytes]:
        params = [encode_pool_handle(self.pool_handle)]
        if self.policy is not None:
            params.append(encode_policy(self.policy))
        return params + [pe.encode() for pe in self.pool_elements]

    @classmethod
    def _from_wire(cls, flags: int, fixed: tuple[int, ...], scan: Scanner) -> Self:
        handle = _handle(scan)
        policy_tlv = scan.optional(POLICY_TYPE)
        policy = None if policy_tlv is None else decode_policy(policy_tlv)
        return cls(pool_handle=handle, policy=policy, pool_elements=_pe_list(scan))

    def _details(self) -> str:
        return f"{handle_text(self.pool_handle)} {len(self.pool_elements)} PE(s)"
