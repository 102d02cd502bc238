"""A contract that calls the seed's DataContract, for chaincode-to-chaincode tests.

Deployed as "tests.ledger.caller_contract:CallerContract".
"""

from __future__ import annotations

from tensorledger.contracts._base import Contract, TransactionContext


class CallerContract(Contract):  # type: ignore[misc]
    """copy(src, dst): read src from datacontract, write it under dst here."""

    Name = "CallerContract"

    async def copy(self, ctx: TransactionContext, src: str, dst: str) -> str:
        stub = ctx.get_stub()
        response = await stub.invoke_chaincode("datacontract", ["retrieveData", src])
        if response.status != 200:
            raise ValueError(f"datacontract said: {response.message}")
        await stub.put_state(dst, bytes(response.payload))
        return bytes(response.payload).decode()

    async def writeThere(self, ctx: TransactionContext, key: str) -> str:
        response = await ctx.get_stub().invoke_chaincode("datacontract", ["storeData", key, "x"])
        if response.status != 200:
            raise ValueError(f"datacontract said: {response.message}")
        return "wrote"

    async def callSelf(self, ctx: TransactionContext) -> str:
        response = await ctx.get_stub().invoke_chaincode("caller", ["callSelf"])
        raise ValueError(response.message)

    async def get(self, ctx: TransactionContext, key: str) -> str:
        raw = await ctx.get_stub().get_state(key)
        if not raw:
            raise ValueError(f"{key} does not exist")
        return bytes(raw).decode()
