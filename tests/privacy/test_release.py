"""`release` end to end: verified data in, a noisy value and its ε on the ledger, nothing else."""

from __future__ import annotations

import itertools
import json
import math
from decimal import Decimal

import numpy as np
import pytest

import tensorledger as tl
from tensorledger import blobs
from tensorledger.privacy import get_budget, list_releases, release, set_budget
from tensorledger.registry import resolve_dataset
from tests.ledger.ledger_state import snapshot
from tests.privacy.conftest import World


def ledger_bytes(world: World) -> bytes:
    """Every byte the ledger keeps on disk: the channel database and its write-ahead log."""
    return b"".join(p.read_bytes() for p in sorted((world.path / "channels").iterdir()))


def dataset_with_budget(world: World, epsilon: str) -> tuple[str, str]:
    ref = world.register("Org1")
    ds = ref.partition("@")[0]
    set_budget(world.net.gws["Org1"], ds, epsilon)
    return ref, ds


def test_a_mean_release_records_the_noisy_value_and_never_the_raw_one(world: World) -> None:
    ref, ds = dataset_with_budget(world, "1.0")
    raw = float(world.frame["age"].mean())
    out = release(
        world.net.gws["Org2"], ref, statistic="mean", column="age", epsilon="0.5",
        bounds=(0, 100), release_id="age-mean",
    )  # fmt: skip
    assert out.value != raw and isinstance(out.value, float)
    assert out.parameters["n"] == len(world.frame)
    (stored,) = list_releases(world.net.gws["Org1"], ds)
    assert (stored.id, stored.dataset, stored.column, stored.value, stored.epsilon) == (
        "age-mean", ref, "age", out.value, Decimal("0.5"),
    )  # fmt: skip
    assert stored.tx_id == out.tx_id
    budget = get_budget(world.net.gws["Org1"], ds)
    assert (budget.spent, budget.remaining, budget.releases) == (Decimal("0.5"), Decimal("0.5"), 1)
    on_disk = ledger_bytes(world)
    assert json.dumps(out.value).encode() in on_disk  # the search can find a recorded number
    for text in (repr(raw), f"{raw:.10g}", f"{raw:.8f}", repr(float(world.frame["age"].sum()))):
        assert text.encode() not in on_disk, text


def test_a_refused_release_records_nothing(world: World) -> None:
    ref, ds = dataset_with_budget(world, "0.5")
    release(world.net.gws["Org1"], ref, statistic="count", column="age", epsilon="0.4")
    before = snapshot(world.path).world()
    with pytest.raises(tl.ContractError) as err:
        release(
            world.net.gws["Org1"], ref, statistic="sum", column="bmi", epsilon="0.2",
            bounds=(10, 50), release_id="too-much",
        )  # fmt: skip
    assert err.value.message == (
        f"Release too-much would spend ε=0.2 of dataset {ds}'s budget: 0.4 of 0.5 spent, 0.1 left"
    )
    assert snapshot(world.path).world() == before
    assert [r.statistic for r in list_releases(world.net.gws["Org1"], ds)] == ["count"]


def test_a_tampered_chunk_is_refused_before_anything_is_spent(world: World) -> None:
    ref, ds = dataset_with_budget(world, "1")
    gw = world.net.gws["Org1"]
    store = blobs.store_for(gw.root)
    manifest = blobs.get_manifest(store, resolve_dataset(gw, ref).manifest)
    chunk = store.path(manifest.chunks[0].stored)
    original = chunk.read_bytes()
    before = snapshot(world.path).world()
    try:
        chunk.write_bytes(original[:50] + bytes([original[50] ^ 1]) + original[51:])
        with pytest.raises(tl.IntegrityError, match=rf"dataset {ds} v1"):
            release(gw, ref, statistic="mean", column="age", epsilon="0.5", bounds=(0, 100))
    finally:
        chunk.write_bytes(original)
    assert snapshot(world.path).world() == before
    assert get_budget(gw, ds).spent == 0


def test_unknown_column_and_bad_options_spend_nothing(world: World) -> None:
    ref, ds = dataset_with_budget(world, "1")
    gw = world.net.gws["Org1"]
    with pytest.raises(tl.InvalidRequestError, match="column 'height' is not in dataset"):
        release(gw, ref, statistic="mean", column="height", epsilon="0.5", bounds=(0, 1))
    with pytest.raises(tl.InvalidRequestError, match="needs bounds"):
        release(gw, ref, statistic="mean", column="age", epsilon="0.5")
    with pytest.raises(tl.InvalidRequestError, match="ε must be"):
        release(gw, ref, statistic="count", column="age", epsilon="-1")
    with pytest.raises(tl.NotFoundError):
        release(gw, f"{ds}@9", statistic="count", column="age", epsilon="0.5")
    assert get_budget(gw, ds).spent == 0


def test_a_release_without_a_budget_is_refused(world: World) -> None:
    ref = world.register()
    with pytest.raises(tl.ContractError, match="has no privacy budget"):
        release(world.net.gws["Org1"], ref, statistic="count", column="age", epsilon="0.5")


def test_gaussian_histogram_records_delta_bins_and_counts(world: World) -> None:
    ref, ds = dataset_with_budget(world, "2")
    edges = [20, 40, 60, 80]
    out = release(
        world.net.gws["Org1"], ref, statistic="histogram", column="age", epsilon="1",
        mechanism="gaussian", delta=1e-6, bins=edges,
    )  # fmt: skip
    (stored,) = list_releases(world.net.gws["Org1"], ds)
    assert stored.delta == 1e-6 and stored.mechanism == "gaussian"
    assert stored.parameters["bins"] == [20.0, 40.0, 60.0, 80.0]
    assert stored.value == out.value and len(out.value["counts"]) == 3
    age = world.frame["age"].to_numpy()
    truth = [int(((age >= lo) & (age < hi)).sum()) for lo, hi in itertools.pairwise(edges)]
    # one release: within 6 standard deviations of the noise of the truth
    sigma = out.parameters["scale"]
    assert np.all(np.abs(np.array(out.value["counts"]) - truth) < 6 * sigma + 1)


def test_categorical_and_private_n_releases_read_the_right_column(world: World) -> None:
    ref, ds = dataset_with_budget(world, "3")
    gw = world.net.gws["Org1"]
    labels = release(
        gw, ref, statistic="histogram", column="sexLabel", epsilon="1", bins=["F", "M"]
    )
    truth = world.frame["sexLabel"].value_counts()
    assert abs(labels.value["counts"][0] - truth["F"]) < 40  # Laplace scale 1: 40 is ~e^-40
    mean = release(
        gw, ref, statistic="mean", column="bmi", epsilon="2", bounds=(15, 45), private_n=True
    )
    assert mean.parameters["n"] == "private"
    assert math.isfinite(mean.value) and abs(mean.value - world.frame["bmi"].mean()) < 5
    assert get_budget(gw, ds).spent == Decimal("3")


def test_only_the_owner_sets_a_budget_through_the_client(world: World) -> None:
    ref = world.register("Org1")
    with pytest.raises(tl.ContractError, match="only Org1MSP may set its privacy budget"):
        set_budget(world.net.gws["Org2"], ref.partition("@")[0], "1")
