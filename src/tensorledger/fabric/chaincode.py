"""Run one of our contracts as a chaincode server that a Fabric peer dials.

``python -m tensorledger.fabric.chaincode tensorledger.contracts.data:DataContract
--address 127.0.0.1:9999 --id <package id>`` serves the contract through the
official Python shim, with the same chaincode object the embedded ledger
builds, so both backends run byte-identical contract code.
"""

from __future__ import annotations

import argparse
import os
import sys

from tensorledger.errors import TensorLedgerError
from tensorledger.ledger import shim as _shim  # noqa: F401  (imports the shim quietly)
from tensorledger.ledger.endorser import load_contract, new_chaincode

# The shim turns TLS on when these are set; the peer dials us in plain gRPC on loopback.
_TLS_ENV = ("CORE_TLS_CLIENT_KEY_PATH", "CORE_TLS_CLIENT_CERT_PATH")


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and serve until killed."""
    parser = argparse.ArgumentParser(prog="python -m tensorledger.fabric.chaincode")
    parser.add_argument("contract", help="module:Class of the contract")
    parser.add_argument("--address", required=True, help="host:port to listen on")
    parser.add_argument("--id", required=True, help="the installed package id")
    args = parser.parse_args(argv)
    try:
        chaincode = new_chaincode(load_contract(args.contract)())
    except TensorLedgerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name in (*_TLS_ENV, "CHAINCODE_ID", "CHAINCODE_SERVER_ADDRESS"):
        os.environ.pop(name, None)  # the shim prefers these to its arguments
    from fabric_chaincode_python.fabric_shim import server

    from tensorledger.fabric import _shim_fixes

    _shim_fixes.install()
    print(f"serving {args.contract} as {args.id} on {args.address}", flush=True)
    server.start(chaincode, cc_id=args.id, address=args.address)
    return 0


if __name__ == "__main__":
    sys.exit(main())
