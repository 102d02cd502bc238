"""The official Fabric Python contract API and chaincode stub, imported without side effects.

`fabric-chaincode-python` calls `logging.basicConfig(level=DEBUG)` when its
shim is imported, which would turn every application's root logger to DEBUG
with an extra stderr handler. Everything in tensorledger imports the API from
here, so the root logger's level and handlers are put back exactly.
"""

from __future__ import annotations

import logging

_root = logging.getLogger()
_level, _handlers = _root.level, list(_root.handlers)
try:
    from fabric_chaincode_python.fabric_contract_api import (
        Contract,
        ContractChaincode,
        JSONSerializer,
        TransactionContext,
    )
    from fabric_chaincode_python.fabric_shim.stub import ChaincodeStub
finally:
    _root.setLevel(_level)
    for _handler in list(_root.handlers):
        if _handler not in _handlers:
            _root.removeHandler(_handler)
    # The stub logs every state access at INFO on the "asyncio" logger.
    logging.getLogger("asyncio").setLevel(logging.WARNING)

__all__ = ["ChaincodeStub", "Contract", "ContractChaincode", "JSONSerializer", "TransactionContext"]
