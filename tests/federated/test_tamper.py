"""Tampering after the fact, and a dishonest aggregator: verify_round catches and names each."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import tensorledger as tl
from tensorledger.errors import ContractError, IntegrityError
from tensorledger.federated import run_federated, verify_round
from tests.federated.cancer import model_fn, splits
from tests.federated.conftest import ORGS, open_job


@dataclass
class Trained:
    job: str
    records: list  # governance.Round, one per round


@pytest.fixture(scope="module")
def trained(net) -> Trained:  # type: ignore[no-untyped-def]
    from tensorledger import governance

    job = open_job(net.gws, rounds=2)
    data, _ = splits(ORGS, seed=1)
    run_federated(net.gws, job_id=job, model_fn=model_fn, client_data=data, rounds=2)
    return Trained(job, governance.list_rounds(net.gws["Org1"], job))


def chunk_files(gw: tl.Gateway, update_object: str) -> list[Path]:
    """The files of an update object's chunks (not its manifest)."""
    from tensorledger import blobs

    store = blobs.store_for(gw.root)
    manifest = blobs.get_manifest(store, update_object)
    root = gw.root / "blobs"
    return [next(root.rglob(ref.stored)) for ref in manifest.chunks]


@pytest.fixture
def flipped(gws: dict[str, tl.Gateway], trained: Trained) -> Iterator[str]:
    """Org2's round-2 update with one byte flipped in the chunk store; restored afterwards."""
    update = next(u for u in trained.records[1].updates if u.client == "Org2")
    (path,) = chunk_files(gws["Org1"], update.update_object)
    original = path.read_bytes()
    damaged = bytearray(original)
    damaged[len(damaged) - 3] ^= 0x40  # inside the last tensor's data
    path.chmod(0o644)
    path.write_bytes(bytes(damaged))
    try:
        yield update.update_object
    finally:
        path.write_bytes(original)


def test_a_flipped_byte_in_a_stored_update_is_named(
    gws: dict[str, tl.Gateway], trained: Trained, flipped: str
) -> None:
    verify_round(gws["Org3"], trained.job, 1)  # round 1 is untouched
    with pytest.raises(IntegrityError) as caught:
        verify_round(gws["Org3"], trained.job, 2)
    assert caught.value.where.startswith(f"job {trained.job} round 2 update of Org2")


def test_a_deleted_update_object_is_named(gws: dict[str, tl.Gateway], trained: Trained) -> None:
    update = next(u for u in trained.records[0].updates if u.client == "Org3")
    (path,) = chunk_files(gws["Org1"], update.update_object)
    original = path.read_bytes()
    path.unlink()
    try:
        with pytest.raises(IntegrityError) as caught:
            verify_round(gws["Org2"], trained.job, 1)
        assert caught.value.where.startswith(f"job {trained.job} round 1 update of Org3")
    finally:
        path.write_bytes(original)
    verify_round(gws["Org2"], trained.job, 1)


def forge(gws: dict[str, tl.Gateway], trained: Trained, **changes: object) -> str:
    """A fresh job whose round 1 an aggregator records from ``trained``'s, with ``changes``."""
    from tensorledger import governance

    job = open_job(gws, rounds=1)
    governance.start_job(gws["Org1"], job)
    real = trained.records[0]
    fields: dict[str, object] = {
        "global_before": real.global_before,
        "global_after": real.global_after,
        "updates": list(real.updates),
    }
    fields.update(changes)
    governance.record_round(
        gws["Org1"],
        job=job,
        round=1,
        aggregation="fedavg",
        aggregation_params={},
        **fields,  # type: ignore[arg-type]
    )
    return job


def test_an_honest_copy_of_a_round_verifies(gws: dict[str, tl.Gateway], trained: Trained) -> None:
    verify_round(gws["Org2"], forge(gws, trained), 1)


def test_a_forged_global_model_is_detected(gws: dict[str, tl.Gateway], trained: Trained) -> None:
    # the aggregator records, as the round's result, a model that is not the aggregate
    forged = trained.records[1].global_after
    job = forge(gws, trained, global_after=forged)
    with pytest.raises(IntegrityError) as caught:
        verify_round(gws["Org2"], job, 1)
    assert caught.value.where == f"job {job} round 1 global model"
    assert forged in caught.value.detail


def test_a_substituted_update_is_named(gws: dict[str, tl.Gateway], trained: Trained) -> None:
    from dataclasses import replace

    updates = list(trained.records[0].updates)
    other = updates[2].update_object  # Org3's tensors under Org2's recorded digest
    updates[1] = replace(updates[1], update_object=other)
    job = forge(gws, trained, updates=updates)
    with pytest.raises(IntegrityError) as caught:
        verify_round(gws["Org3"], job, 1)
    assert caught.value.where == f"job {job} round 1 update of Org2"


def test_a_dropped_update_changes_the_aggregate(
    gws: dict[str, tl.Gateway], trained: Trained
) -> None:
    # the aggregator leaves Org3 out of the record but keeps the three-client result
    job = forge(gws, trained, updates=list(trained.records[0].updates)[:2])
    with pytest.raises(IntegrityError, match="global model"):
        verify_round(gws["Org2"], job, 1)


def test_the_ledger_refuses_a_round_that_breaks_the_chain(
    gws: dict[str, tl.Gateway], trained: Trained
) -> None:
    from tensorledger import governance

    job = open_job(gws, rounds=2)
    governance.start_job(gws["Org1"], job)
    real = trained.records

    def record(number: int, before: str) -> None:
        governance.record_round(
            gws["Org1"],
            job=job,
            round=number,
            global_before=before,
            global_after=real[number - 1].global_after,
            aggregation="fedavg",
            aggregation_params={},
            updates=list(real[number - 1].updates),
        )

    record(1, real[0].global_before)
    with pytest.raises(ContractError):
        record(2, real[0].global_before)  # not round 1's globalAfter
    record(2, real[1].global_before)
