"""The contract API our contracts are written against: the official Fabric Python one.

Importing it through here keeps the shim's logging side effects contained.
"""

from __future__ import annotations

import logging

_saved_root_level = logging.getLogger().level
from fabric_chaincode_python.fabric_contract_api import (  # noqa: E402
    Contract,
    ContractChaincode,
    TransactionContext,
)

# The shim sets the root logger to DEBUG on import; restore what the application had.
logging.getLogger().setLevel(_saved_root_level)
logging.getLogger("asyncio").setLevel(logging.WARNING)

__all__ = ["Contract", "ContractChaincode", "TransactionContext"]
