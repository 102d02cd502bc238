"""Strict records: every required field, type, range, digest and bound is refused by name.

Each case starts from a valid record (which the last test shows is accepted)
and breaks one thing; the contract's message must name the field, and the
ledger must not move.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

import tensorledger as tl
from tests.contracts.ledgers import Net
from tests.contracts.records import analysis, dataset, h, model, uid

# kind -> (chaincode, function, builder)
KINDS: dict[str, tuple[str, str, Callable[..., dict[str, Any]]]] = {
    "dataset": ("datasets", "RegisterDataset", dataset),
    "model": ("models", "RegisterCheckpoint", model),
    "analysis": ("analyses", "RecordAnalysis", analysis),
}

REQUIRED = {
    "dataset": [
        "id",
        "version",
        "manifest",
        "root",
        "size",
        "mediaType",
        "schema",
        "rows",
        "encrypted",
    ],
    "model": [
        "id",
        "version",
        "architecture",
        "weights",
        "weightsRoot",
        "tensors",
        "datasets",
        "framework",
    ],
    "analysis": ["id", "method", "inputs", "result", "resultHash", "package"],
}

DIGESTS = {
    "dataset": ["manifest", "root"],
    "model": ["architecture", "weights", "weightsRoot"],
    "analysis": ["resultHash"],
}

BAD_DIGESTS = [h("x").upper(), h("x")[:63], h("x") + "0", "z" * 64, 12, None, ""]

# (kind, field, bad value, what the message says the field must be)
WRONG: list[tuple[str, str, Any, str]] = [
    ("dataset", "id", "a/b", "an id"),
    ("dataset", "id", "-leading", "an id"),
    ("dataset", "id", "x" * 129, "an id"),
    ("dataset", "id", "", "an id"),
    ("dataset", "id", 7, "an id"),
    ("dataset", "version", 0, "an integer from 1"),
    ("dataset", "version", -1, "an integer from 1"),
    ("dataset", "version", "1", "an integer from 1"),
    ("dataset", "version", 1.0, "an integer from 1"),
    ("dataset", "version", True, "an integer from 1"),
    ("dataset", "version", 2**31, "an integer from 1"),
    ("dataset", "size", -1, "an integer ≥ 0"),
    ("dataset", "size", "12", "an integer ≥ 0"),
    ("dataset", "rows", False, "an integer ≥ 0"),
    ("dataset", "rows", 2**64, "an integer ≥ 0"),
    ("dataset", "mediaType", "csv", "text matching"),
    ("dataset", "mediaType", "", "text matching"),
    ("dataset", "encrypted", 1, "true or false"),
    ("dataset", "encrypted", "false", "true or false"),
    ("dataset", "schema", [], "an object {columns, dtypes}"),
    ("dataset", "schema", {"columns": "age", "dtypes": {}}, "an array of at most"),
    ("dataset", "schema", {"columns": ["a", 3], "dtypes": {}}, "non-empty text"),
    ("dataset", "schema", {"columns": ["a", ""], "dtypes": {}}, "non-empty text"),
    ("dataset", "schema", {"columns": ["a"]}, "an object {column: dtype}"),
    ("dataset", "schema", {"columns": ["a"], "dtypes": {"a": 5}}, "non-empty text"),
    ("dataset", "parents", "base@1", "an array of at most"),
    ("dataset", "parents", ["base"], "a reference 'id@version'"),
    ("dataset", "parents", ["base@0"], "a reference 'id@version'"),
    ("dataset", "parents", ["base@01"], "a reference 'id@version'"),
    ("dataset", "parents", ["a/b@1"], "a reference 'id@version'"),
    ("dataset", "tags", ["a"], "an object of at most 64 tags"),
    ("dataset", "tags", {str(i): "v" for i in range(65)}, "an object of at most 64 tags"),
    ("dataset", "tags", {"consent": 1}, "text of at most 1024"),
    ("dataset", "tags", {"consent": "x" * 1025}, "text of at most 1024"),
    ("model", "tensors", [], "an array of 1 to"),
    ("model", "tensors", [{"name": "k", "shape": [2], "dtype": "f32"}], "sha256"),
    (
        "model",
        "tensors",
        [{"name": "k", "shape": [-1], "dtype": "float32", "sha256": h("k")}],
        "an integer ≥ 0",
    ),
    (
        "model",
        "tensors",
        [{"name": "k", "shape": [2], "dtype": "float 32", "sha256": h("k")}],
        "text matching",
    ),
    (
        "model",
        "tensors",
        [{"name": "k", "shape": [2], "dtype": "float32", "sha256": h("k").upper()}],
        "a SHA-256 digest",
    ),
    ("model", "datasets", [1], "a reference 'id@version'"),
    ("model", "metrics", {"loss": "0.1"}, "a finite number"),
    ("model", "metrics", {"loss": True}, "a finite number"),
    ("model", "metrics", [0.1], "an object {metric: number}"),
    ("model", "parent", "m", "a reference 'id@version'"),
    ("model", "epoch", -1, "an integer ≥ 0"),
    ("model", "epoch", 1.5, "an integer ≥ 0"),
    ("model", "hyperparameters", [], "a JSON object"),
    ("model", "framework", "", "non-empty text"),
    ("model", "framework", "x" * 129, "non-empty text"),
    ("analysis", "method", "1ols", "text matching"),
    ("analysis", "method", "ols regression", "text matching"),
    ("analysis", "inputs", [], "an array of 1 to"),
    ("analysis", "inputs", ["cohort@1"], "an object {dataset, root}"),
    ("analysis", "inputs", [{"dataset": "cohort", "root": h("r")}], "a reference"),
    ("analysis", "inputs", [{"dataset": "cohort@1", "root": "r"}], "a SHA-256 digest"),
    ("analysis", "result", [1.0], "a JSON object"),
    ("analysis", "result", "42", "a JSON object"),
    ("analysis", "parameters", 3, "a JSON object"),
    ("analysis", "package", 1, "non-empty text"),
]


def refused(net: Net, kind: str, record: dict[str, Any] | str) -> str:
    chaincode, function, _ = KINDS[kind]
    body = record if isinstance(record, str) else json.dumps(record)
    height = net.height()
    with pytest.raises(tl.ContractError) as err:
        net.contract("Org1", chaincode).submit(function, body)
    assert net.height() == height
    return err.value.message


def valid(kind: str) -> dict[str, Any]:
    return KINDS[kind][2](uid(kind))


@pytest.mark.parametrize(
    ("kind", "field"), [(k, f) for k, fields in REQUIRED.items() for f in fields]
)
def test_every_required_field_is_required(net: Net, kind: str, field: str) -> None:
    record = valid(kind)
    del record[field]
    assert refused(net, kind, record) == f"{kind} record: missing required field '{field}'"


@pytest.mark.parametrize(
    ("kind", "field", "value", "rule"),
    WRONG,
    ids=[f"{w[0]}.{w[1]}-{i}" for i, w in enumerate(WRONG)],
)
def test_wrong_type_or_range_names_the_field(
    net: Net, kind: str, field: str, value: Any, rule: str
) -> None:
    record = valid(kind)
    record[field] = value
    message = refused(net, kind, record)
    assert message.startswith(f"{kind} record: "), message
    assert f"field '{field}" in message, message  # the field, or a part of it: 'tensors[0].dtype'
    assert rule in message, message


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [(k, f, v) for k, fields in DIGESTS.items() for f in fields for v in BAD_DIGESTS],
)
def test_bad_digests_are_refused(net: Net, kind: str, field: str, value: Any) -> None:
    record = valid(kind)
    record[field] = value
    message = refused(net, kind, record)
    assert message.startswith(f"{kind} record: field '{field}' must be a SHA-256 digest"), message


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("field", ["owner", "registeredBy", "txId", "timestamp"])
def test_fields_the_contract_fills_cannot_be_forged(net: Net, kind: str, field: str) -> None:
    record = valid(kind)
    record[field] = "Org2MSP" if field == "owner" else "forged"
    assert refused(net, kind, record) == (
        f"{kind} record: field '{field}' is filled in by the contract from the transaction "
        "and must not be given"
    )


@pytest.mark.parametrize("kind", list(KINDS))
def test_unknown_fields_are_refused(net: Net, kind: str) -> None:
    record = valid(kind)
    record["approvedBy"] = "me"
    assert refused(net, kind, record) == f"{kind} record: unknown field 'approvedBy'"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "is not valid JSON"),
        ("[1, 2]", "must be a JSON object, got an array"),
        ('"text"', "must be a JSON object, got a string"),
        ('{"id": "a", "id": "b"}', "duplicate field 'id'"),
        ('{"size": NaN}', "NaN is not a JSON number"),
        ('{"size": Infinity}', "Infinity is not a JSON number"),
        ("[" * 5000 + "]" * 5000, "is not valid JSON"),
    ],
)
def test_malformed_json_is_refused(net: Net, body: str, message: str) -> None:
    assert message in refused(net, "dataset", body)


def test_oversized_record_is_refused(net: Net) -> None:
    record = valid("analysis")
    record["result"] = {"blob": "x" * (1 << 20)}
    assert refused(net, "analysis", record) == "analysis record is larger than 1048576 bytes"


def test_deeply_nested_parameters_are_refused(net: Net) -> None:
    record = valid("analysis")
    nested: Any = 1
    for _ in range(20):
        nested = [nested]
    record["parameters"] = {"deep": nested}
    assert "nests deeper than" in refused(net, "analysis", record)


def test_schema_dtypes_must_name_columns_and_columns_be_distinct(net: Net) -> None:
    record = valid("dataset")
    record["schema"] = {"columns": ["a"], "dtypes": {"b": "float64"}}
    assert "'schema.dtypes' names 'b', which is not a column" in refused(net, "dataset", record)
    record["schema"] = {"columns": ["a", "a"], "dtypes": {}}
    assert "'schema.columns' names a column twice" in refused(net, "dataset", record)
    record["schema"] = {"columns": ["a"], "dtypes": {}, "rows": 3}
    assert "unknown field 'schema.rows'" in refused(net, "dataset", record)


def test_encryption_needs_a_key_id_and_only_then(net: Net) -> None:
    record = valid("dataset")
    record["encrypted"] = True
    assert refused(net, "dataset", record) == "dataset record: missing required field 'keyId'"
    record["keyId"] = "not hex"
    assert "field 'keyId' must be text matching" in refused(net, "dataset", record)
    record = valid("dataset")
    record["keyId"] = "ab" * 16
    assert "field 'keyId' must be null when not encrypted" in refused(net, "dataset", record)


def test_duplicates_in_lists_are_refused(net: Net) -> None:
    record = valid("dataset")
    record["parents"] = ["a@1", "a@1"]
    assert "field 'parents' lists a reference twice" in refused(net, "dataset", record)
    record = valid("model")
    record["tensors"] = record["tensors"][:1] * 2
    assert "field 'tensors' names a tensor twice" in refused(net, "model", record)
    record = valid("analysis")
    record["inputs"] = record["inputs"] * 2
    assert "field 'inputs' lists a dataset twice" in refused(net, "analysis", record)


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_valid_base_records_are_accepted(net: Net, kind: str) -> None:
    # Guards every test above: each breaks exactly one thing of a record that passes.
    chaincode, function, _ = KINDS[kind]
    record = valid(kind)
    stored = json.loads(
        net.contract("Org1", chaincode).submit(function, json.dumps(record)).payload
    )
    assert {k: stored[k] for k in record} == record
