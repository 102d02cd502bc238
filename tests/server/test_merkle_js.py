"""The explorer's in-browser verifier (static/merkle.js), run in Node against our Python proofs.

Each case is a real proof from an embedded ledger, or one altered in one way;
its verdict is fixed by how it was made and must be what Python's
`TransactionProof.verify` says too, so the JavaScript and the Python
verifiers are held to the same answers on the same bytes.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

import tensorledger as tl
from tensorledger.crypto import merkle
from tensorledger.crypto.checkpoint import (
    Checkpoint,
    NoteSignature,
    NoteSigner,
    parse_checkpoint,
)
from tensorledger.errors import TensorLedgerError
from tensorledger.ledger.block import log_entry
from tensorledger.ledger.proof import TransactionProof

NODE = shutil.which("node")
JS_TEST = Path(__file__).parent / "js" / "merkle.test.mjs"
# P-256's group order, from SEC 2 (not from the code under test)
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
# the step of merkle.js's verifyTransactionProof at which an altered proof must fail
INCLUSION, ENVELOPE, SIGNATURE = "inclusion", "envelope", "checkpoint signature"

pytestmark = pytest.mark.skipif(NODE is None, reason="needs node (>= 20) on PATH")


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _with_signature(note: str, signature: bytes) -> str:
    signed = parse_checkpoint(note)
    sig = signed.signatures[0]
    line = NoteSignature(sig.name, sig.key_id, signature).line()
    return signed.checkpoint.body().decode() + "\n" + line


def _high_s(note: str) -> str:
    sig = parse_checkpoint(note).signatures[0].signature
    r, s = decode_dss_signature(sig)
    return _with_signature(note, encode_dss_signature(r, P256_N - s))


def _forged(proof: TransactionProof, name: str) -> TransactionProof:
    """A proof that is consistent in itself, for a forged envelope, signed by another key."""
    envelope = _flip(proof.envelope, len(proof.envelope) - 1)
    entry = log_entry(proof.block, proof.index, envelope)
    cp = Checkpoint(parse_checkpoint(proof.checkpoint).checkpoint.origin, 1, merkle.root([entry]))
    note = NoteSigner(name, ec.generate_private_key(ec.SECP256R1())).sign(cp).to_text()
    return dataclasses.replace(proof, envelope=envelope, leaf_index=0, path=(), checkpoint=note)


def _cases(proofs: list[TransactionProof], key: str) -> list[dict[str, Any]]:
    """(name, proof, the step it must fail at or None) for valid and altered proofs."""
    name = key.split("+", maxsplit=1)[0]
    mid = proofs[1]
    assert mid.path, "the middle proof needs a non-empty path"
    signed = parse_checkpoint(mid.checkpoint)
    cp = signed.checkpoint
    other_root = dataclasses.replace(cp, root=bytes(32))
    other_size = dataclasses.replace(cp, size=cp.size + 1)
    sig = signed.signatures[0].signature
    rep = dataclasses.replace
    sig_line = _with_signature(mid.checkpoint, _flip(sig, len(sig) - 3))
    last = len(mid.envelope) - 1
    altered: list[tuple[str, TransactionProof, str | None]] = [
        *((f"valid leaf {p.leaf_index}", p, None) for p in proofs),
        ("envelope byte", rep(mid, envelope=_flip(mid.envelope, last)), INCLUSION),
        ("path byte", rep(mid, path=(_flip(mid.path[0], 5), *mid.path[1:])), INCLUSION),
        ("path shortened", rep(mid, path=mid.path[:-1]), INCLUSION),
        ("path lengthened", rep(mid, path=(*mid.path, bytes(32))), INCLUSION),
        ("leaf index", rep(mid, leaf_index=mid.leaf_index ^ 1), INCLUSION),
        ("block number", rep(mid, block=mid.block + 1), INCLUSION),
        ("position in block", rep(mid, index=mid.index + 1), INCLUSION),
        ("envelope of another tx", rep(mid, envelope=proofs[0].envelope), ENVELOPE),
        ("tx id", rep(mid, tx_id="0" * 64), ENVELOPE),
        ("checkpoint root", rep(mid, checkpoint=_resigned_body(mid, other_root)), SIGNATURE),
        ("checkpoint size", rep(mid, checkpoint=_resigned_body(mid, other_size)), SIGNATURE),
        ("signature byte", rep(mid, checkpoint=sig_line), SIGNATURE),
        ("high-S signature", rep(mid, checkpoint=_high_s(mid.checkpoint)), SIGNATURE),
        ("forged, signed by another key", _forged(mid, name), SIGNATURE),
    ]
    return [
        {
            "name": n,
            "proof": json.loads(p.to_json()),
            "fails_at": at,
            "python_ok": _python_ok(p, key),
        }
        for n, p, at in altered
    ]


def _resigned_body(proof: TransactionProof, checkpoint: Checkpoint) -> str:
    """The note with its text changed and its original signature kept."""
    signed = parse_checkpoint(proof.checkpoint)
    return checkpoint.body().decode() + "\n" + "".join(s.line() for s in signed.signatures)


def _python_ok(proof: TransactionProof, key: str) -> bool:
    try:
        proof.verify(key)
    except TensorLedgerError:
        return False
    return True


@pytest.fixture(scope="module")
def cases_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("merkle-js")
    path = tl.init(work / "ledger", orgs=["Org1", "Org2"])
    with tl.connect(path, identity="Org1") as gw:
        contract = gw.network("mychannel").contract("datacontract")
        results = [contract.submit("storeData", f"item{i}", f"[{i}.0]") for i in range(6)]
        key = gw.network("mychannel").verifier_key()
        made = [gw.prove(results[i].tx_id) for i in (0, 3, 5)]
    # The embedded backend proves with the Merkle log (a Fabric network proves by block).
    proofs = [p for p in made if isinstance(p, TransactionProof)]
    assert len(proofs) == len(made)
    cases = _cases(proofs, key)
    other = NoteSigner(key.split("+")[0], ec.generate_private_key(ec.SECP256R1()))
    doc = {"verifier_key": key, "other_key": other.verifier.verifier_key(), "cases": cases}
    out = work / "cases.json"
    out.write_text(json.dumps(doc))
    return out


def test_python_agrees_with_each_case_verdict(cases_file: Path) -> None:
    """The fixture is only a reference if Python's verifier gives the verdicts it claims."""
    cases = json.loads(cases_file.read_text())["cases"]
    assert len(cases) == 17
    for case in cases:
        assert case["python_ok"] is (case["fails_at"] is None), case["name"]


def test_javascript_verifier_gives_the_same_verdicts(cases_file: Path) -> None:
    run = subprocess.run(
        [str(NODE), "--test", "--test-reporter=tap", str(JS_TEST)],
        env={**os.environ, "MERKLE_PROOF_CASES": str(cases_file)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    # Every test ran: none was skipped for want of the cases file.
    assert "# fail 0" in run.stdout
    assert "# skipped 0" in run.stdout
    passed = int(run.stdout.split("# pass ")[1].split()[0])
    assert passed >= 10, run.stdout[-2000:]
