"""The seed's flow, end to end, on a fresh two-organisation embedded network.

`run_demo` does the work and returns a `DemoResult`; the CLI's `demo`
command only prints it, so the same story can be told by tests or notebooks.
Until the TensorFlow layer lands this is the blog post's storeData /
retrieveData flow, plus what the ledger adds: proofs and a full verify.
"""

from __future__ import annotations

import dataclasses
import json
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import tensorledger as tl
from tensorledger.crypto.checkpoint import Checkpoint
from tensorledger.errors import ContractError, IntegrityError, TensorLedgerError
from tensorledger.ledger import explore
from tensorledger.ledger.network import DEFAULT_CHANNEL, EmbeddedNetwork
from tensorledger.ledger.proof import TransactionProof
from tensorledger.ledger.verify import VerifyReport, verify_channel

ORGS = ("Org1", "Org2")
CONTRACT = "datacontract"
#: the seed's statistical data, exactly as the blog post stores it
STAT_DATA = "[1.0, 2.0, 3.0, 4.0, 5.0]"
MISSING_ID = "missingData"


@dataclass(frozen=True, slots=True)
class Stored:
    """A record the demo wrote: its id, the value, and the committed transaction."""

    data_id: str
    value: str
    result: tl.SubmitResult


@dataclass(frozen=True, slots=True)
class Retrieved:
    """A record read back by another organisation, and whether it matched what was written."""

    data_id: str
    reader: str
    value: str
    matches: bool


@dataclass(frozen=True, slots=True)
class DemoResult:
    """Everything the demo did, in the order it did it."""

    ledger: Path
    kept: bool
    channel: str
    orgs: tuple[str, ...]
    stored: tuple[Stored, ...]
    retrieved: tuple[Retrieved, ...]
    missing_error: str
    blocks: tuple[explore.BlockSummary, ...]
    proof: TransactionProof
    proof_json_bytes: int
    checkpoint: Checkpoint
    verifier_key: str
    tamper_error: str
    report: VerifyReport
    seconds: float

    @property
    def ok(self) -> bool:
        """True when every step came out as a working ledger should."""
        return all(r.matches for r in self.retrieved) and bool(self.tamper_error) and self.report.ok


def model_params(seed: int = 7) -> str:
    """Initial weights of the seed's Keras model, serialised the way the seed meant to.

    The model is Dense(10, relu) → Dense(1) on one feature; `get_weights()`
    gives kernel, bias, kernel, bias, and `[w.tolist() for w in weights]`
    (the seed forgot the comprehension) is a JSON list of lists. Glorot-uniform
    kernels and zero biases, as Keras initialises them, from a fixed seed.
    """
    rng = random.Random(seed)  # noqa: S311 - reproducible demo weights, not secrets

    def glorot(fan_in: int, fan_out: int) -> list[list[float]]:
        limit = (6.0 / (fan_in + fan_out)) ** 0.5
        return [
            [round(rng.uniform(-limit, limit), 4) for _ in range(fan_out)] for _ in range(fan_in)
        ]

    weights: list[object] = [glorot(1, 10), [0.0] * 10, glorot(10, 1), [0.0]]
    return json.dumps(weights)


def run_demo(directory: Path | None = None) -> DemoResult:
    """Create a network, store and read the seed's records, prove one, verify the ledger.

    With `directory` the ledger is created there (it must be empty or absent)
    and kept; without it, in a temporary directory that is removed afterwards.
    """
    started = time.monotonic()
    with _ledger_dir(directory) as path:
        tl.init(path, ORGS, channels=(DEFAULT_CHANNEL,))
        records = (("statData", STAT_DATA), ("modelParams", model_params()))
        with tl.connect(path, identity=ORGS[0]) as writer, tl.connect(path, ORGS[1]) as reader:
            stored = tuple(_store(writer, data_id, value) for data_id, value in records)
            retrieved = tuple(_retrieve(reader, s) for s in stored)
            missing = _missing_error(reader)
            network = writer.network(DEFAULT_CHANNEL)
            verifier_key = network.verifier_key()
            # Hand the proof over as another organisation would receive it: as JSON.
            proof_json = writer.prove(stored[0].result.tx_id).to_json()
        received = TransactionProof.from_json(proof_json)
        checkpoint = received.verify(verifier_key)
        tamper_error = _tampered(received, verifier_key)
        ledger = EmbeddedNetwork(path)
        try:
            summaries = tuple(explore.blocks(ledger.channel(DEFAULT_CHANNEL).store))
            report = verify_channel(ledger, DEFAULT_CHANNEL)
        finally:
            ledger.close()
    return DemoResult(
        ledger=path,
        kept=directory is not None,
        channel=DEFAULT_CHANNEL,
        orgs=ORGS,
        stored=stored,
        retrieved=retrieved,
        missing_error=missing,
        blocks=summaries,
        proof=received,
        proof_json_bytes=len(proof_json.encode()),
        checkpoint=checkpoint,
        verifier_key=verifier_key,
        tamper_error=tamper_error,
        report=report,
        seconds=time.monotonic() - started,
    )


@contextmanager
def _ledger_dir(directory: Path | None) -> Iterator[Path]:
    if directory is not None:
        yield Path(directory)
        return
    with tempfile.TemporaryDirectory(prefix="tensorledger-demo-") as tmp:
        yield Path(tmp) / "ledger"


def _store(gateway: tl.Gateway, data_id: str, value: str) -> Stored:
    contract = gateway.network(DEFAULT_CHANNEL).contract(CONTRACT)
    return Stored(data_id, value, contract.submit("storeData", data_id, value))


def _retrieve(gateway: tl.Gateway, stored: Stored) -> Retrieved:
    contract = gateway.network(DEFAULT_CHANNEL).contract(CONTRACT)
    value = contract.evaluate("retrieveData", stored.data_id).decode("utf-8")
    return Retrieved(stored.data_id, gateway.msp_id, value, value == stored.value)


def _missing_error(gateway: tl.Gateway) -> str:
    contract = gateway.network(DEFAULT_CHANNEL).contract(CONTRACT)
    try:
        contract.evaluate("retrieveData", MISSING_ID)
    except ContractError as exc:
        return exc.message
    raise IntegrityError(f"record {MISSING_ID}", "exists, but the demo never stored it")


def _tampered(proof: TransactionProof, verifier_key: str) -> str:
    """Change one byte of the proven envelope, as a forger would, and return why it fails."""
    envelope = bytearray(proof.envelope)
    envelope[len(envelope) // 2] ^= 0x01
    forged = dataclasses.replace(proof, envelope=bytes(envelope))
    try:
        forged.verify(verifier_key)
    except TensorLedgerError as exc:
        return str(exc)
    return ""


__all__ = ["DemoResult", "Retrieved", "Stored", "model_params", "run_demo"]
