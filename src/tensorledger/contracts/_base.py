"""The contract API our contracts are written against: the official Fabric Python one."""

from __future__ import annotations

from tensorledger.ledger.shim import Contract, ContractChaincode, TransactionContext

__all__ = ["Contract", "ContractChaincode", "TransactionContext"]
