"""Lineage trees: a model back to the data it came from, a dataset forward to what used it."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

import tensorledger as tl
from tensorledger import registry
from tensorledger.ledger.verify import verify_channel
from tensorledger.registry import LineageNode
from tests.contracts.ledgers import Net
from tests.contracts.records import h, js, model, uid
from tests.registry.test_client import add, checkpoint


@dataclass
class Story:
    base: str
    derived: str
    model: str
    other: str
    a_base: str
    a_derived: str


@pytest.fixture(scope="module")
def story(net: Net) -> Story:
    """Org1 publishes base; Org2 derives from it, trains twice and analyses; Org1 trains too."""
    gw1, gw2 = net.gws["Org1"], net.gws["Org2"]
    s = Story(uid("base"), uid("derived"), uid("model"), uid("other"), uid("a0"), uid("a1"))
    add(gw1, s.base)
    add(gw2, s.derived, parents=[f"{s.base}@1"])
    checkpoint(gw2, s.model, [f"{s.derived}@1"])
    checkpoint(gw2, s.model, [f"{s.derived}@1"], parent=f"{s.model}@1")
    checkpoint(gw1, s.other, [f"{s.base}@1"])
    for a, ds in ((s.a_base, s.base), (s.a_derived, s.derived)):
        registry.record_analysis(
            gw2, a, method="describe", inputs=[ds], result={}, result_hash=h(a)
        )
    return s


def shape(node: LineageNode) -> tuple[object, ...]:
    """(relation, kind, ref, children...) — the tree without records, for exact comparison."""
    return (node.relation, node.kind, node.ref, *[shape(c) for c in node.children])


def test_model_lineage_reaches_the_parent_dataset(net: Net, story: Story) -> None:
    s = story
    tree = registry.lineage(net.gws["Org1"], s.model)  # bare id: the newest checkpoint
    derived = (
        "trained on",
        "dataset",
        f"{s.derived}@1",
        ("derived from", "dataset", f"{s.base}@1", ("analysed by", "analysis", s.a_base)),
        ("analysed by", "analysis", s.a_derived),
    )
    assert shape(tree) == (
        "root",
        "model",
        f"{s.model}@2",
        derived,
        ("parent checkpoint", "model", f"{s.model}@1", derived),
    )
    by_ref = {n.ref: n for n in tree.walk()}
    base = by_ref[f"{s.base}@1"]
    assert isinstance(base.record, registry.DatasetRecord)
    assert base.record.owner == "Org1MSP" and by_ref[f"{s.derived}@1"].record.owner == "Org2MSP"


def test_dataset_lineage_goes_both_ways(net: Net, story: Story) -> None:
    s = story
    tree = registry.lineage(net.gws["Org2"], f"{s.base}@1")
    assert shape(tree) == (
        "root",
        "dataset",
        f"{s.base}@1",
        (
            "derived into",
            "dataset",
            f"{s.derived}@1",
            (
                "trained",
                "model",
                f"{s.model}@1",
                ("continued by", "model", f"{s.model}@2"),
            ),
            ("trained", "model", f"{s.model}@2"),
            ("analysed by", "analysis", s.a_derived),
        ),
        ("trained", "model", f"{s.other}@1"),
        ("analysed by", "analysis", s.a_base),
    )


def test_analysis_lineage_is_its_inputs_and_their_ancestry(net: Net, story: Story) -> None:
    s = story
    tree = registry.lineage(net.gws["Org1"], s.a_derived)
    assert [n.ref for n in tree.walk()] == [s.a_derived, f"{s.derived}@1", f"{s.base}@1", s.a_base]
    assert tree.walk()[1].relation == "input"


def test_to_dict_carries_hashes_orgs_and_times(net: Net, story: Story) -> None:
    s = story
    tree = registry.lineage(net.gws["Org1"], f"{s.model}@1")
    data = json.loads(json.dumps(tree.to_dict()))
    ds = data["children"][0]
    base = ds["children"][0]
    assert (ds["ref"], ds["owner"]) == (f"{s.derived}@1", "Org2MSP")
    record = registry.get_dataset(net.gws["Org1"], s.base, 1)
    assert base["hash"] == record.root and base["txId"] == record.tx_id
    assert base["timestamp"] == record.timestamp and base["registeredBy"].endswith(
        "org1.example.com"
    )
    assert data["hash"] == registry.get_model(net.gws["Org1"], s.model, 1).weights_root


def test_unregistered_reference_is_refused_on_chain(net: Net) -> None:
    # A client that skips the registry's own checks still cannot name data that does not
    # exist: the models chaincode asks the datasets chaincode within the transaction.
    m = uid("rogue")
    with pytest.raises(tl.ContractError, match="names dataset ghost@9, which does not exist"):
        net.contract("Org1", "models").submit(
            "RegisterCheckpoint", js(model(m, datasets=["ghost@9"]))
        )
    with pytest.raises(tl.NotFoundError):
        registry.lineage(net.gws["Org1"], m)


def test_ambiguous_and_unknown_names(net: Net) -> None:
    shared = uid("same")
    add(net.gws["Org1"], shared)
    checkpoint(net.gws["Org1"], shared, [shared])
    with pytest.raises(tl.InvalidRequestError, match="names a model and dataset"):
        registry.lineage(net.gws["Org1"], shared)
    assert registry.lineage(net.gws["Org1"], shared, kind="model").kind == "model"
    assert registry.lineage(net.gws["Org1"], shared, kind="dataset").kind == "dataset"
    with pytest.raises(tl.NotFoundError):
        registry.lineage(net.gws["Org1"], uid("nothing"))
    with pytest.raises(tl.NotFoundError):
        registry.lineage(net.gws["Org1"], f"{shared}@7")


def test_ledger_verifies_after_the_story(net: Net, story: Story) -> None:
    report = verify_channel(net.path, "mychannel")
    assert report.ok, report.findings
