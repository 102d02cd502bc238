"""`tensorledger.registry`: typed records over the contracts, references checked before sending."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest

import tensorledger as tl
from tensorledger import registry
from tensorledger.registry import AnalysisInput, DatasetRecord, ModelRecord, TensorRecord
from tests.contracts.ledgers import Net
from tests.contracts.records import h, js, model, uid

TENSORS = [TensorRecord("dense/kernel", (3, 10), "float32", h("kernel"))]


def add(gw: tl.Gateway, ds: str, version: int | None = None, **kw: object) -> DatasetRecord:
    fields: dict[str, object] = {
        "manifest": h(f"m {ds} {version}"),
        "root": h(f"r {ds} {version}"),
        "size": 100,
        "media_type": "text/csv",
        "columns": ["x", "y"],
        "dtypes": {"x": "float64", "y": "float64"},
        "rows": 5,
    }
    fields.update(kw)
    return registry.register_dataset(gw, ds, version=version, **fields)  # type: ignore[arg-type]


def checkpoint(gw: tl.Gateway, m: str, datasets: list[str], **kw: object) -> ModelRecord:
    fields: dict[str, object] = {
        "architecture": h("arch"),
        "weights": h(f"w {m}"),
        "weights_root": h(f"wr {m}"),
        "tensors": TENSORS,
        "datasets": datasets,
        "framework": "keras-3.15",
    }
    fields.update(kw)
    return registry.register_checkpoint(gw, m, **fields)  # type: ignore[arg-type]


def test_dataset_round_trip(net: Net, gw1: tl.Gateway, gw2: tl.Gateway) -> None:
    ds = uid("ds")
    rec = add(gw1, ds, 1, tags={"consent": "research-only"})
    assert (rec.id, rec.version, rec.ref, rec.owner) == (ds, 1, f"{ds}@1", "Org1MSP")
    assert rec.registered_by == "User1@org1.example.com"
    assert rec.tags == {"consent": "research-only"}
    assert rec.schema == {"columns": ["x", "y"], "dtypes": {"x": "float64", "y": "float64"}}
    assert abs((rec.registered_at - datetime.now(UTC)).total_seconds()) < 300
    # another org reads the same record; to_json gives the stored bytes exactly
    got = registry.get_dataset(gw2, ds)
    assert got == rec
    raw = gw2.network().contract("datasets").evaluate("GetDataset", ds, "1")
    assert got.to_json() == raw
    assert DatasetRecord.from_json(got.to_json()) == got
    assert registry.get_dataset(gw2, f"{ds}@1") == rec


def test_records_are_frozen(gw1: tl.Gateway) -> None:
    rec = add(gw1, uid("ds"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.version = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        rec.tags["consent"] = "anything"  # type: ignore[index]


def test_next_version_is_found_when_not_given(gw1: tl.Gateway) -> None:
    ds = uid("ds")
    assert add(gw1, ds).version == 1
    assert add(gw1, ds).version == 2
    assert [r.version for r in registry.dataset_versions(gw1, ds)] == [1, 2]
    assert registry.get_dataset(gw1, ds).version == 2
    newest = {r.id: r.version for r in registry.list_datasets(gw1)}
    assert newest[ds] == 2
    ids = [r.id for r in registry.list_datasets(gw1)]
    assert ids == sorted(ids)


def test_contract_refusals_come_through_unchanged(gw1: tl.Gateway, gw2: tl.Gateway) -> None:
    ds = uid("ds")
    add(gw1, ds)
    with pytest.raises(tl.ContractError, match="already exists; versions are append-only"):
        add(gw1, ds, 1)
    with pytest.raises(tl.ContractError, match="belongs to Org1MSP"):
        add(gw2, ds)
    with pytest.raises(tl.ContractError, match="field 'root' must be a SHA-256 digest"):
        add(gw1, ds, root="abc")


def test_parents_are_resolved_and_checked_before_sending(net: Net, gw1: tl.Gateway) -> None:
    base = uid("base")
    add(gw1, base)
    add(gw1, base)
    child = add(gw1, uid("child"), parents=[base, f"{base}@1"])
    assert child.parents == (f"{base}@2", f"{base}@1")  # a bare id means the newest version
    height = net.height()
    with pytest.raises(tl.NotFoundError, match=f"dataset {base}@3 is not registered"):
        add(gw1, uid("child"), parents=[f"{base}@3"])
    assert net.height() == height


def test_checkpoint_round_trip_and_dataset_check(net: Net, gw1: tl.Gateway) -> None:
    ds, m = uid("ds"), uid("m")
    add(gw1, ds)
    rec = checkpoint(gw1, m, [ds], metrics={"loss": 0.5}, hyperparameters={"lr": 0.01}, epoch=3)
    assert rec.datasets == (f"{ds}@1",) and rec.tensors == tuple(TENSORS)
    assert rec.metrics == {"loss": 0.5} and rec.epoch == 3 and rec.parent is None
    assert registry.get_model(gw1, m) == rec == registry.get_model(gw1, m, 1)
    assert ModelRecord.from_json(rec.to_json()) == rec
    second = checkpoint(gw1, m, [f"{ds}@1"], parent=m)
    assert (second.version, second.parent) == (2, f"{m}@1")
    assert [r.version for r in registry.model_versions(gw1, m)] == [1, 2]
    assert {r.id: r.version for r in registry.list_models(gw1)}[m] == 2
    # training data that is not registered: refused before anything is sent
    height = net.height()
    with pytest.raises(tl.NotFoundError, match=f"dataset {ds}@2 is not registered"):
        checkpoint(gw1, uid("m"), [f"{ds}@2"])
    with pytest.raises(tl.NotFoundError, match="model nope@1 is not registered"):
        checkpoint(gw1, uid("m"), [ds], parent="nope@1")
    assert net.height() == height


def test_analysis_inputs_take_the_registered_roots(net: Net, gw1: tl.Gateway) -> None:
    ds = uid("ds")
    d = add(gw1, ds)
    result = {"coefficients": [1.5, -2.0], "r2": 0.25}
    a = registry.record_analysis(
        gw1, uid("ols"), method="ols", inputs=[ds], result=result, result_hash=h("res")
    )
    assert a.inputs == (AnalysisInput(d.ref, d.root),)
    assert a.result == result and a.package.startswith("tensorledger ")
    assert registry.get_analysis(gw1, a.id) == a
    assert a in registry.list_analyses(gw1)
    given = registry.record_analysis(
        gw1,
        uid("ols"),
        method="ols",
        inputs=[(d.ref, d.root)],
        result=result,
        result_hash=h("res"),
        parameters={"label": "y"},
    )
    assert given.inputs == a.inputs and given.parameters == {"label": "y"}


def test_analysis_input_root_must_match_the_registry(net: Net, gw1: tl.Gateway) -> None:
    d = add(gw1, uid("ds"))
    height = net.height()
    with pytest.raises(tl.IntegrityError) as err:
        registry.record_analysis(
            gw1,
            "tampered",
            method="ols",
            inputs=[AnalysisInput(d.ref, h("some other data"))],
            result={},
            result_hash=h("res"),
        )
    assert err.value.where == f"analysis tampered input {d.ref}"
    assert d.root in err.value.detail
    with pytest.raises(tl.NotFoundError):
        registry.record_analysis(
            gw1, "x", method="ols", inputs=["nope@1"], result={}, result_hash=h("r")
        )
    assert net.height() == height


def test_missing_records_raise_contract_errors_and_resolve_raises_not_found(
    gw1: tl.Gateway,
) -> None:
    with pytest.raises(tl.ContractError, match=r"^Dataset nope-ds does not exist\.$"):
        registry.get_dataset(gw1, "nope-ds")
    with pytest.raises(tl.ContractError, match=r"^Model nope-m@2 does not exist\.$"):
        registry.get_model(gw1, "nope-m", 2)
    with pytest.raises(tl.ContractError, match=r"^Analysis nope-a does not exist\.$"):
        registry.get_analysis(gw1, "nope-a")
    for resolve in (registry.resolve_dataset, registry.resolve_model, registry.resolve_analysis):
        with pytest.raises(tl.NotFoundError):
            resolve(gw1, "nope")
    with pytest.raises(tl.NotFoundError, match="not a reference"):
        registry.get_dataset(gw1, "x@0")


def test_from_json_names_a_bad_field() -> None:
    good = json.loads(js(model("m", datasets=[])))
    good.update(owner="Org1MSP", registeredBy="u", txId="t", timestamp="2026-01-01T00:00:00Z")
    good.update(hyperparameters={}, metrics={}, parent=None, epoch=None, tags={})
    assert ModelRecord.from_json(json.dumps(good)).id == "m"
    for field, value in [("version", "1"), ("version", True), ("tensors", {}), ("owner", None)]:
        bad = dict(good, **{field: value})
        with pytest.raises(tl.InvalidRequestError, match=field):
            ModelRecord.from_json(json.dumps(bad))
    del good["weightsRoot"]
    with pytest.raises(tl.InvalidRequestError, match="weightsRoot"):
        ModelRecord.from_json(good)
    with pytest.raises(tl.InvalidRequestError, match="not valid JSON"):
        DatasetRecord.from_json(b"{")
