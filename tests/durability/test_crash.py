"""Crash trials: "once `submit` returns, the transaction survives SIGKILL of the process".

A writer subprocess (`_writer.py`) submits storeData/deleteData in a loop and
records each acknowledged transaction, fsynced, after `submit` returned. The
test SIGKILLs it at a random moment, reopens the ledger and checks that every
acknowledged write is there with its value (or gone, for a delete), that its
transaction proves against the signed checkpoint, that `verify` passes, and
that the ledger still takes new transactions. One ledger is reused across
trials, so it is also reopened after many crashes in a row.

A SIGKILL leaves the page cache to the kernel, so these trials catch an
acknowledgement that comes before the commit, a torn or unrecoverable WAL
and a bad reopen; a missing fsync would need power-loss trials instead.

Reproduce a run with TL_DURABILITY_SEED=<seed printed on failure>; the kill
moments come from the seed, the exact interleaving from the machine.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import tensorledger as tl
from tensorledger.ledger.verify import verify_channel

WRITER = Path(__file__).with_name("_writer.py")
CHANNEL = "mychannel"
CHAINCODE = "datacontract"


@dataclass
class Totals:
    """What a run of trials did, to show the trials were not vacuous."""

    trials: int = 0
    trials_with_acks: int = 0
    acked: int = 0
    pending_committed: int = 0
    pending_lost: int = 0
    max_acked_per_block: int = 0
    reopened: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Op:
    op: str  # "begin" or "ack"
    key: str
    kind: str  # "put" or "del"
    value: str | None
    tx: str | None = None
    block: int | None = None

    @property
    def outcome(self) -> str | None:
        """What the key holds once this operation committed (None: absent)."""
        return self.value if self.kind == "put" else None


def read_ops(path: Path) -> list[Op]:
    if not path.exists():
        return []
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    # A last line without its newline was cut mid-write: not acknowledged.
    ops = []
    for line in lines[:-1]:
        rec = json.loads(line)
        ops.append(
            Op(rec["op"], rec["key"], rec["kind"], rec["value"], rec.get("tx"), rec.get("block"))
        )
    return ops


def run_writer(
    ledger: Path,
    work: Path,
    prefix: str,
    threads: int,
    writer_seed: int,
    delay: float,
    from_spawn: bool,
    context: str,
) -> list[Op]:
    """Start a writer, SIGKILL it after `delay` seconds, return what it recorded."""
    ack = work / f"{prefix}.acks"
    ready = work / f"{prefix}.ready"
    with (work / f"{prefix}.out").open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(WRITER), str(ledger), str(ack), str(ready), prefix,
             str(threads), str(writer_seed)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            if not from_spawn:
                deadline = time.monotonic() + 60
                while not ready.exists() and proc.poll() is None:
                    assert time.monotonic() < deadline, f"{context}: writer never became ready"
                    time.sleep(0.005)
            time.sleep(delay)
            died = proc.poll()
        finally:
            proc.kill()  # SIGKILL: no atexit, no finally blocks, no sqlite close
            proc.wait()
    output = (work / f"{prefix}.out").read_text(errors="replace")
    assert died is None, f"{context}: writer exited by itself ({died}) before the kill:\n{output}"
    return read_ops(ack)


def check_after_crash(
    ledger: Path,
    ops: list[Op],
    expected: dict[str, str | None],
    prefix: str,
    totals: Totals,
    context: str,
) -> None:
    """Reopen, verify and compare with what was acknowledged; extend `expected`."""
    report = verify_channel(ledger, CHANNEL)
    assert report.ok, f"{context}: verify after crash: " + "; ".join(map(str, report.findings))

    by_key: dict[str, list[Op]] = {}
    for op in ops:
        by_key.setdefault(op.key, []).append(op)
    acks = [op for op in ops if op.op == "ack"]

    with tl.connect(ledger, "Org2") as gw:  # a fresh process-level view, another org's user
        contract = gw.network(CHANNEL).contract(CHAINCODE)
        lost = []
        for key, history in by_key.items():
            acked = [op for op in history if op.op == "ack"]
            pending = history[-1] if history[-1].op == "begin" else None
            allowed = {acked[-1].outcome if acked else None}
            if pending is not None:
                allowed.add(pending.outcome)
            observed = retrieve(contract, key)
            if observed not in allowed:
                last = acked[-1] if acked else None
                lost.append(f"{key}: holds {observed!r}, acknowledged {last}, pending {pending}")
            elif pending is not None:
                before = acked[-1].outcome if acked else None
                if observed == pending.outcome and observed != before:
                    totals.pending_committed += 1
                else:
                    totals.pending_lost += 1
            expected[key] = observed
        assert not lost, f"{context}: acknowledged writes lost after SIGKILL:\n" + "\n".join(lost)

        for op in acks:
            assert op.tx is not None
            proof = gw.prove(op.tx, CHANNEL)  # verifies against the signed checkpoint
            assert (proof.tx_id, proof.block) == (op.tx, op.block), f"{context}: {op}"

        # Every record of every earlier trial, and nothing else, is still there.
        listed = {r["id"]: r["data"] for r in json.loads(contract.evaluate("listData", "", ""))}
        present = {k: v for k, v in expected.items() if v is not None}
        assert listed == present, f"{context}: world state differs from all trials' records: " + (
            f"missing {sorted(set(present) - set(listed))[:5]}, "
            f"extra {sorted(set(listed) - set(present))[:5]}, "
            f"changed {[k for k in present if k in listed and listed[k] != present[k]][:5]}"
        )

        # The ledger takes new transactions after the crash.
        after = contract.submit("storeData", f"{prefix}-after", "written after the crash")
        assert after.payload == f"Data with ID {prefix}-after stored successfully.".encode()
        assert retrieve(contract, f"{prefix}-after") == "written after the crash"
        gw.prove(after.tx_id, CHANNEL)
        expected[f"{prefix}-after"] = "written after the crash"
    totals.reopened += 1

    totals.trials += 1
    totals.acked += len(acks)
    totals.trials_with_acks += bool(acks)
    per_block = Counter(op.block for op in acks)
    totals.max_acked_per_block = max([totals.max_acked_per_block, *per_block.values()])
    totals.notes.append(f"{prefix}: {len(acks)} acked, {len(by_key)} keys")


def retrieve(contract: tl.Contract, key: str) -> str | None:
    try:
        return contract.evaluate("retrieveData", key).decode()
    except tl.ContractError as exc:
        assert exc.message == f"Data with ID {key} does not exist.", exc.message
        return None


def run_trials(
    base: Path, seed: int, n_trials: int, per_ledger: int, *, spawn_kills: bool
) -> Totals:
    rng = random.Random(seed)
    totals = Totals()
    ledger = base / "ledger-0"
    expected: dict[str, str | None] = {}
    for trial in range(n_trials):
        if trial % per_ledger == 0:
            ledger = tl.init(base / f"ledger-{trial // per_ledger}", orgs=("Org1", "Org2"))
            expected = {}
        threads = rng.choice([1, 1, 2, 4, 8])
        delay = rng.uniform(0.05, 1.5)
        # Now and then kill from the moment of spawn: during start-up and reopening.
        from_spawn = spawn_kills and rng.random() < 0.15
        prefix = f"trial{trial:03d}"
        context = (
            f"seed {seed} (TL_DURABILITY_SEED={seed}), trial {trial}: {threads} threads, "
            f"kill after {delay:.3f} s {'from spawn' if from_spawn else 'from ready'}"
        )
        ops = run_writer(
            ledger, base, prefix, threads, rng.randrange(2**32), delay, from_spawn, context
        )
        check_after_crash(ledger, ops, expected, prefix, totals, context)
    return totals


def summary(seed: int, totals: Totals) -> str:
    return (
        f"seed {seed}: {totals.trials} SIGKILL trials, {totals.trials_with_acks} with acks, "
        f"{totals.acked} acknowledged transactions, 0 lost; in flight at the kill: "
        f"{totals.pending_committed} committed, {totals.pending_lost} not; "
        f"most acknowledged in one block: {totals.max_acked_per_block}; "
        f"reopened {totals.reopened} times"
    )


def test_acknowledged_transactions_survive_sigkill(tmp_path: Path, seed: int) -> None:
    totals = run_trials(tmp_path, seed, n_trials=5, per_ledger=5, spawn_kills=False)
    print(summary(seed, totals))
    assert totals.trials == 5
    # The trials must have killed a writer that was writing, not an idle one.
    assert totals.trials_with_acks >= 3, f"seed {seed}: {totals.notes}"


@pytest.mark.slow
def test_acknowledged_transactions_survive_sigkill_many(tmp_path: Path, seed: int) -> None:
    # Ten crashes per ledger: long enough to reopen after repeated crashes,
    # short enough that the full verify after each one stays quick.
    totals = run_trials(tmp_path, seed, n_trials=60, per_ledger=10, spawn_kills=True)
    print(summary(seed, totals))
    assert totals.trials == 60
    assert totals.trials_with_acks >= 40, f"seed {seed}: {totals.notes}"
    # Multi-threaded writers must have put several acknowledged transactions in one block.
    assert totals.max_acked_per_block >= 2, f"seed {seed}: blocks never held two acks"
