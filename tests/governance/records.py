"""Valid job and round records, digests computed from scratch, and ledger-state snapshots.

The model digest is recomputed here without tensorledger: the tensor hash
(dtype ‖ 0 ‖ shape JSON ‖ 0 ‖ little-endian bytes) and the RFC 9162 Merkle
root over leaves name ‖ 0 ‖ digest, so a test that compares it with what the
library computed checks the library, not itself.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

import tensorledger as tl
from tests.contracts.ledgers import Net
from tests.contracts.records import h, uid

APPROVERS = ["Org1MSP", "Org2MSP", "Org3MSP"]


def job(job_id: str, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": job_id,
        "model": f"net-{job_id}",
        "datasets": ["cohort@1"],
        "rounds": 2,
        "aggregation": {"method": "trimmed_mean", "params": {"trim": 0.2}},
        "dp": {"clip": 1.0, "noiseMultiplier": 0.5, "delta": 1e-5},
        "approvers": APPROVERS[:2],
        "threshold": {"metric": "accuracy", "min": 0.8},
        "description": "breast cancer classifier across two hospitals",
    }
    record.update(fields)
    return record


def update(client: str, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "client": client,
        "msp": f"{client}MSP",
        "updateRoot": h(f"update root {client}"),
        "updateObject": h(f"update object {client}"),
        "numExamples": 100,
        "metrics": {"loss": 0.5, "accuracy": 0.75},
    }
    record.update(fields)
    return record


def round_record(
    job_id: str, number: int, before: str, after: str, **fields: Any
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "job": job_id,
        "round": number,
        "globalBefore": before,
        "globalAfter": after,
        "aggregation": {"method": "trimmed_mean", "params": {"trim": 0.2}},
        "updates": [update("Org1"), update("Org2")],
        "metrics": {"loss": 0.4},
        "dp": {"clip": 1.0},
    }
    record.update(fields)
    return record


def js(record: Any) -> str:
    return json.dumps(record)


# -- the model digest, from scratch ---------------------------------------------------------


def tensor_digest(array: np.ndarray) -> str:
    a = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    header = f"{a.dtype.name}\x00{json.dumps(list(a.shape)).replace(' ', '')}\x00".encode()
    return hashlib.sha256(header + a.tobytes()).hexdigest()


def _mth(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def model_digest(tensors: list[tuple[str, np.ndarray]]) -> str:
    leaves = [name.encode() + b"\x00" + bytes.fromhex(tensor_digest(a)) for name, a in tensors]
    return _mth(leaves).hex()


def weights(seed: int) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [
        ("dense/kernel", rng.normal(size=(30, 8)).astype(np.float32)),
        ("dense/bias", rng.normal(size=(8,)).astype(np.float32)),
        ("dense_1/kernel", rng.normal(size=(8, 1)).astype(np.float32)),
    ]


# -- setting up and looking at state ---------------------------------------------------------


def running_job(net: Net, **fields: Any) -> dict[str, Any]:
    """A job proposed by Org1, approved by each approver, started; its record."""
    record = job(uid("job"), **fields)
    net.contract("Org1", "governance").submit("ProposeJob", js(record))
    for msp in record["approvers"]:
        net.contract(msp.removesuffix("MSP"), "governance").submit("ApproveJob", record["id"])
    res = net.contract("Org3", "governance").submit("StartJob", record["id"])
    return dict(json.loads(res.payload))


def record_rounds(net: Net, job_id: str, digests: list[str]) -> None:
    """Rounds 1..len(digests)-1 chained through `digests` (round n goes digests[n-1] → [n])."""
    c = net.contract("Org1", "rounds")
    for n in range(1, len(digests)):
        c.submit("RecordRound", js(round_record(job_id, n, digests[n - 1], digests[n])))


def state(net: Net, job_id: str, model_id: str | None = None) -> tuple[Any, ...]:
    """Everything a governance or rounds call could change, plus the chain height."""
    gov, rounds = net.contract("Org2", "governance"), net.contract("Org2", "rounds")
    try:
        current = gov.evaluate("GetJob", job_id)
    except tl.ContractError as exc:
        current = str(exc)
    deployment = None
    if model_id is not None:
        try:
            deployment = gov.evaluate("GetDeployment", model_id)
        except tl.ContractError as exc:
            deployment = str(exc)
    return current, rounds.evaluate("ListRounds", job_id), deployment, net.height()
