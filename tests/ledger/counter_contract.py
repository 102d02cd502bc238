"""A tiny read-modify-write contract for concurrency tests: a counter per key.

Deployed by the tests as "tests.ledger.counter_contract:CounterContract"; every
increment reads the key, so two increments endorsed against the same version
must not both commit (MVCC).
"""

from __future__ import annotations

import logging

_root_level = logging.getLogger().level
from fabric_chaincode_python.fabric_contract_api import (  # noqa: E402
    Contract,
    TransactionContext,
)

# The shim turns the root logger to DEBUG on import; keep the test run quiet.
logging.getLogger().setLevel(_root_level)


class CounterContract(Contract):  # type: ignore[misc]
    """increment(key) -> new value; get(key) -> value ("0" when absent)."""

    Name = "CounterContract"

    async def increment(self, ctx: TransactionContext, key: str) -> str:
        stub = ctx.get_stub()
        raw = await stub.get_state(key)
        value = int(bytes(raw).decode()) + 1 if raw else 1
        await stub.put_state(key, str(value).encode())
        stub.set_event("Incremented", f"{key}={value}".encode())
        return str(value)

    async def get(self, ctx: TransactionContext, key: str) -> str:
        raw = await ctx.get_stub().get_state(key)
        return bytes(raw).decode() if raw else "0"
