"""The seed's DataContract: store and retrieve values by id, with its exact wire names and texts.

`storeData` and `retrieveData` keep the blog post's semantics and strings;
`deleteData`, `history` and `listData` (a range query) complete it.
"""

from __future__ import annotations

import json

from tensorledger.contracts._base import Contract, TransactionContext


class DataContract(Contract):
    """Key/value records on the ledger, as in the seed's Node.js chaincode."""

    Name = "DataContract"

    async def storeData(self, ctx: TransactionContext, dataID: str, data: str) -> str:
        """Put `data` under `dataID` (creating or replacing it)."""
        await ctx.get_stub().put_state(dataID, data.encode("utf-8"))
        ctx.get_stub().set_event("DataStored", dataID.encode("utf-8"))
        return f"Data with ID {dataID} stored successfully."

    async def retrieveData(self, ctx: TransactionContext, dataID: str) -> str:
        """The value stored under `dataID`; fails when there is none."""
        data = await ctx.get_stub().get_state(dataID)
        if not data:
            raise ValueError(f"Data with ID {dataID} does not exist.")
        return bytes(data).decode("utf-8")

    async def deleteData(self, ctx: TransactionContext, dataID: str) -> str:
        """Remove `dataID` from world state; its history stays on the chain."""
        data = await ctx.get_stub().get_state(dataID)
        if not data:
            raise ValueError(f"Data with ID {dataID} does not exist.")
        await ctx.get_stub().delete_state(dataID)
        ctx.get_stub().set_event("DataDeleted", dataID.encode("utf-8"))
        return f"Data with ID {dataID} deleted successfully."

    async def history(self, ctx: TransactionContext, dataID: str) -> str:
        """Every committed change of `dataID` as JSON (tx id, value, delete, time), newest first.

        The order is the peer's: Fabric 2.x returns a key's history newest first.
        """
        changes = []
        async for mod in await ctx.get_stub().get_history_for_key(dataID):
            changes.append(
                {
                    "txId": mod.tx_id,
                    "value": None if mod.is_delete else bytes(mod.value).decode("utf-8"),
                    "isDelete": bool(mod.is_delete),
                    "timestamp": mod.timestamp.ToJsonString(),
                }
            )
        return json.dumps(changes)

    async def listData(self, ctx: TransactionContext, startID: str, endID: str) -> str:
        """Records with ids in [startID, endID) as JSON [{id, data}]; an empty end has no bound."""
        records = []
        async for kv in await ctx.get_stub().get_state_by_range(startID, endID):
            records.append({"id": kv.key, "data": bytes(kv.value).decode("utf-8")})
        return json.dumps(records)
