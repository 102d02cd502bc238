"""Recorded analyses on a two-organisation ledger: recorded by Org1, re-verified by Org2.

The journey: a research group registers the diabetes data, records an OLS
analysis; a reviewer at another organisation re-verifies the inputs,
recomputes the regression and confirms the coefficients, or is shown where
they differ. References are independent (statsmodels, pandas, scipy) and
computed on the in-memory frames, not on anything read from the ledger.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats as scipy_stats

import tensorledger as tl
from tensorledger import blobs
from tensorledger.errors import ConfigError, IntegrityError, InvalidRequestError, NotFoundError
from tensorledger.registry import (
    AnalysisRecord,
    DatasetRecord,
    add_dataset,
    list_analyses,
    record_analysis,
    register_dataset,
)
from tensorledger.stats import (
    AnalysisCheck,
    Difference,
    hash_result,
    run_analysis,
    verify_analysis,
)
from tensorledger.stats.ledger import compare

RTOL = 1e-8
LOGIT_FEATURES = ["mean radius", "mean texture", "mean smoothness"]
#: small chunks for one copy of the diabetes data, so a tampered chunk has a non-zero index
SMALL_CHUNK = 4096


@dataclass
class World:
    """The module's ledger: gateways, the chunk store, the registered data, the analyses."""

    gw1: tl.Gateway
    gw2: tl.Gateway
    store: blobs.LocalChunkStore
    datasets: dict[str, DatasetRecord]
    analyses: dict[str, AnalysisRecord]
    diabetes: pd.DataFrame
    cancer: pd.DataFrame

    def manifest(self, dataset_id: str) -> blobs.Manifest:
        return blobs.get_manifest(self.store, self.datasets[dataset_id].manifest)

    def chunk_path(self, dataset_id: str, index: int) -> Path:
        return self.store.path(self.manifest(dataset_id).chunks[index].stored)


@contextmanager
def altered(path: Path, change: Callable[[bytes], bytes]) -> Iterator[None]:
    """The file's bytes replaced by ``change(bytes)`` for the duration, then put back."""
    original = path.read_bytes()
    try:
        path.write_bytes(change(original))
        yield
    finally:
        path.write_bytes(original)


def flip(data: bytes, position: int = 100) -> bytes:
    """One bit of the byte at ``position`` inverted."""
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


def register_small_chunks(gw: tl.Gateway, path: Path, dataset_id: str) -> DatasetRecord:
    """Register a file in `SMALL_CHUNK` chunks (add_dataset always uses 4 MiB ones)."""
    store = blobs.store_for(gw.root)
    media, metadata = blobs.describe_table(path)
    manifest, digest = blobs.put_object(
        store, path, media_type=media, metadata=metadata, chunk_size=SMALL_CHUNK
    )
    return register_dataset(
        gw,
        dataset_id,
        manifest=digest,
        root=manifest.root,
        size=manifest.size,
        media_type=media,
        columns=metadata["columns"],
        dtypes=metadata["dtypes"],
        rows=metadata["rows"],
    )


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, diabetes: pd.DataFrame, cancer: pd.DataFrame
) -> Iterator[World]:
    base = tmp_path_factory.mktemp("stats-ledger")
    root = tl.init(base / "ledger", orgs=["Org1", "Org2"])
    files = {
        "diabetes": diabetes,
        "cancer": cancer,
        "cancer-malignant": cancer[cancer["target"] == 0],
        "cancer-benign": cancer[cancer["target"] == 1],
    }
    for name, frame in files.items():
        frame.to_csv(base / f"{name}.csv", index=False)
    gw1 = tl.connect(root, identity="Org1")
    gw2 = tl.connect(root, identity="Org2")
    try:
        datasets = {name: add_dataset(gw1, base / f"{name}.csv", name) for name in files}
        datasets["diabetes-sealed"] = add_dataset(
            gw1, base / "diabetes.csv", "diabetes-sealed", encrypt=True
        )
        datasets["diabetes-chunked"] = register_small_chunks(
            gw1, base / "diabetes.csv", "diabetes-chunked"
        )
        analyses = {
            "ols": run_analysis(gw1, "ols", "diabetes", y="target"),
            "describe": run_analysis(gw1, "describe", "diabetes@1", quantiles=(0.1, 0.5, 0.9)),
            "covariance": run_analysis(
                gw1, "covariance", "diabetes", version=1, columns=["bmi", "bp", "target"]
            ),
            # the reviewer's organisation may record analyses of Org1's data too
            "correlation": run_analysis(gw2, "correlation", "diabetes"),
            "logit": run_analysis(gw1, "logit", "cancer", y="target", x=LOGIT_FEATURES),
            "ttest": run_analysis(
                gw1, "ttest", "cancer", column="mean radius", group_column="target"
            ),
            "ttest-two": run_analysis(
                gw1,
                "ttest",
                "cancer-malignant",
                other="cancer-benign",
                column="mean radius",
                equal_var=True,
            ),
            "ols-chunked": run_analysis(gw1, "ols", "diabetes-chunked", y="target"),
            "ols-sealed": run_analysis(gw1, "ols", "diabetes-sealed", y="target"),
        }
        yield World(gw1, gw2, blobs.store_for(gw1.root), datasets, analyses, diabetes, cancer)
    finally:
        gw1.close()
        gw2.close()


# -- what is recorded ------------------------------------------------------------------------


def test_ols_record_holds_method_parameters_inputs_and_hash(
    world: World, diabetes_features: list[str]
) -> None:
    record = world.analyses["ols"]
    dataset = world.datasets["diabetes"]
    assert record.method == "ols"
    assert dict(record.parameters) == {"y": "target", "x": diabetes_features, "add_intercept": True}
    assert [(i.dataset, i.root) for i in record.inputs] == [("diabetes@1", dataset.root)]
    assert record.result_hash == hash_result(dict(record.result))
    assert re.fullmatch(r"tensorledger \S+; tensorflow 2\.\S+", record.package)
    assert re.fullmatch(r"ols-diabetes-v1-[0-9a-f]{12}", record.id)
    assert record.owner == "Org1MSP"


def test_recorded_ols_matches_statsmodels(world: World, diabetes_features: list[str]) -> None:
    frame = world.diabetes
    ref = sm.OLS(frame["target"], sm.add_constant(frame[diabetes_features])).fit()
    result = world.analyses["ols"].result
    assert result["columns"] == list(ref.params.index)
    np.testing.assert_allclose(result["coefficients"], ref.params, rtol=RTOL)
    np.testing.assert_allclose(result["standard_errors"], ref.bse, rtol=RTOL)
    np.testing.assert_allclose(result["t_values"], ref.tvalues, rtol=RTOL)
    np.testing.assert_allclose(result["p_values"], ref.pvalues, rtol=RTOL)
    np.testing.assert_allclose(result["r_squared"], ref.rsquared, rtol=RTOL)
    np.testing.assert_allclose(result["f_statistic"], ref.fvalue, rtol=RTOL)
    assert result["n"] == ref.nobs == 442


def test_recorded_describe_matches_pandas(world: World) -> None:
    record = world.analyses["describe"]
    assert record.parameters["columns"] == list(world.diabetes.columns)
    assert record.parameters["quantiles"] == [0.1, 0.5, 0.9]
    for summary in record.result["columns"]:
        values = world.diabetes[summary["name"]]
        assert summary["count"] == len(values)
        np.testing.assert_allclose(summary["variance"], values.var(ddof=1), rtol=RTOL)
        np.testing.assert_allclose(summary["std"], values.std(ddof=1), rtol=RTOL)
        assert (summary["min"], summary["max"]) == (values.min(), values.max())
        np.testing.assert_allclose(
            summary["quantiles"], values.quantile([0.1, 0.5, 0.9]), rtol=RTOL
        )


def test_recorded_logit_matches_statsmodels(world: World) -> None:
    frame = world.cancer
    ref = sm.Logit(frame["target"], sm.add_constant(frame[LOGIT_FEATURES])).fit(
        method="newton", tol=1e-12, maxiter=100, disp=0
    )
    result = world.analyses["logit"].result
    assert result["converged"] is True
    np.testing.assert_allclose(result["coefficients"], ref.params, rtol=RTOL)
    np.testing.assert_allclose(result["standard_errors"], ref.bse, rtol=RTOL)
    np.testing.assert_allclose(result["log_likelihood"], ref.llf, rtol=RTOL)


@pytest.mark.parametrize(("name", "equal_var"), [("ttest", False), ("ttest-two", True)])
def test_recorded_ttests_match_scipy(world: World, name: str, equal_var: bool) -> None:
    frame = world.cancer
    malignant = frame.loc[frame["target"] == 0, "mean radius"].to_numpy()
    benign = frame.loc[frame["target"] == 1, "mean radius"].to_numpy()
    ref = scipy_stats.ttest_ind(malignant, benign, equal_var=equal_var)
    result = world.analyses[name].result
    np.testing.assert_allclose(result["t"], ref.statistic, rtol=RTOL)
    np.testing.assert_allclose(result["df"], ref.df, rtol=RTOL)
    np.testing.assert_allclose(result["p"], ref.pvalue, rtol=RTOL)
    assert (result["n_a"], result["n_b"]) == (len(malignant), len(benign))


def test_two_dataset_ttest_records_both_inputs(world: World) -> None:
    record = world.analyses["ttest-two"]
    assert [i.dataset for i in record.inputs] == ["cancer-malignant@1", "cancer-benign@1"]
    assert record.parameters["other"] == "cancer-benign@1"
    assert "group_column" not in record.parameters


# -- verification by the other organisation --------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["ols", "describe", "covariance", "correlation", "logit", "ttest", "ttest-two", "ols-chunked"],
)
def test_org2_verifies_every_recorded_analysis(world: World, name: str) -> None:
    record = world.analyses[name]
    verifier = world.gw1 if record.owner == "Org2MSP" else world.gw2
    check = verify_analysis(verifier, record.id)
    assert check.ok, check.summary()
    assert check.exact and check.hash_ok and check.inputs_ok
    assert check.differences == ()
    assert check.recomputed == dict(record.result)
    assert [(c.dataset, c.root) for c in check.inputs] == [
        (i.dataset, i.root) for i in record.inputs
    ]
    assert all(
        c.chunks == len(world.manifest(c.dataset.split("@")[0]).chunks) for c in check.inputs
    )
    assert check.summary().startswith(f"analysis {record.id} verified: ")
    assert "bit for bit" in check.summary()


def test_unknown_analysis_is_not_found(world: World) -> None:
    with pytest.raises(NotFoundError, match="no-such-analysis"):
        verify_analysis(world.gw2, "no-such-analysis")


@pytest.mark.parametrize(
    ("dataset", "name", "chunk"), [("diabetes", "ols", 0), ("diabetes-chunked", "ols-chunked", 5)]
)
def test_tampered_input_chunk_fails_verification_naming_it(
    world: World, dataset: str, name: str, chunk: int
) -> None:
    record = world.analyses[name]
    with altered(world.chunk_path(dataset, chunk), flip):
        check = verify_analysis(world.gw2, record.id)
    assert not check.ok and not check.inputs_ok
    assert check.hash_ok  # the record itself is intact; its data is not
    assert check.recomputed is None  # nothing is computed from unverified data
    [failed] = check.inputs
    assert failed.detail is not None
    assert failed.detail.startswith(f"dataset {dataset} v1 chunk {chunk}: ")
    summary = check.summary()
    assert "\n" not in summary
    assert f"NOT verified: input {dataset}@1: dataset {dataset} v1 chunk {chunk}" in summary
    # put back, the same record verifies again
    assert verify_analysis(world.gw2, record.id).ok


def test_tampered_manifest_fails_verification_naming_it(world: World) -> None:
    path = world.store.path(world.datasets["diabetes"].manifest)
    with altered(path, lambda data: data.replace(b'"rows":442', b'"rows":441')):
        check = verify_analysis(world.gw2, world.analyses["describe"].id)
    assert not check.ok
    assert check.inputs[0].detail is not None
    assert check.inputs[0].detail.startswith("dataset diabetes v1 manifest: ")


def test_run_analysis_on_a_tampered_chunk_raises_and_records_nothing(world: World) -> None:
    before = len(list_analyses(world.gw1))
    with (
        altered(world.chunk_path("diabetes-chunked", 3), flip),
        pytest.raises(IntegrityError, match=r"dataset diabetes-chunked v1 chunk 3"),
    ):
        run_analysis(world.gw1, "describe", "diabetes-chunked")
    assert len(list_analyses(world.gw1)) == before


def _forge(world: World, analysis_id: str, result: dict[str, object], result_hash: str) -> None:
    """Record an OLS analysis of the diabetes data with a result of the caller's choosing."""
    genuine = world.analyses["ols"]
    record_analysis(
        world.gw1,
        analysis_id,
        method="ols",
        parameters=dict(genuine.parameters),
        inputs=["diabetes@1"],
        result=result,
        result_hash=result_hash,
    )


def test_result_computed_on_other_data_is_shown_value_by_value(world: World) -> None:
    forged = dict(world.analyses["ols"].result)
    coefficients = list(forged["coefficients"])
    coefficients[3] *= 1.01
    forged["coefficients"] = coefficients
    forged["r_squared"] = forged["r_squared"] + 1e-6
    _forge(world, "ols-forged-values", forged, hash_result(forged))
    check = verify_analysis(world.gw2, "ols-forged-values")
    assert not check.ok
    assert check.hash_ok and check.inputs_ok  # consistent record, genuine data
    assert [d.path for d in check.differences] == ["coefficients[3]", "r_squared"]
    first = check.differences[0]
    assert first.recorded == coefficients[3]
    assert first.recomputed == world.analyses["ols"].result["coefficients"][3]
    assert first.rel_diff == pytest.approx(0.01 / 1.01)
    summary = check.summary()
    assert "\n" not in summary
    assert "2 value(s) differ beyond rtol 1e-09: coefficients[3]: recorded" in summary


def test_result_altered_after_hashing_fails_the_hash(world: World) -> None:
    genuine = world.analyses["ols"]
    altered_result = {**genuine.result, "n": 441}
    _forge(world, "ols-forged-hash", altered_result, genuine.result_hash)
    check = verify_analysis(world.gw2, "ols-forged-hash")
    assert not check.ok and not check.hash_ok
    assert [(d.path, d.recorded, d.recomputed) for d in check.differences] == [("n", 441, 442)]
    assert "does not hash to the recorded resultHash" in check.summary()


def test_parameters_that_cannot_be_recomputed_are_reported(world: World) -> None:
    genuine = world.analyses["ols"]
    record_analysis(
        world.gw1,
        "ols-bad-parameters",
        method="ols",
        parameters={**genuine.parameters, "y": "no-such-column"},
        inputs=["diabetes@1"],
        result=dict(genuine.result),
        result_hash=genuine.result_hash,
    )
    check = verify_analysis(world.gw2, "ols-bad-parameters")
    assert not check.ok and check.recomputed is None
    assert check.error is not None and "no-such-column" in check.error
    assert "cannot be recomputed" in check.summary()


def test_a_looser_rtol_accepts_small_differences(world: World) -> None:
    forged = dict(world.analyses["ols"].result)
    forged["rss"] = forged["rss"] * (1 + 1e-7)
    _forge(world, "ols-forged-rss", forged, hash_result(forged))
    assert not verify_analysis(world.gw2, "ols-forged-rss").ok
    loose = verify_analysis(world.gw2, "ols-forged-rss", rtol=1e-6)
    assert loose.ok and not loose.exact
    assert "within rtol 1e-06" in loose.summary()


# -- encrypted inputs ------------------------------------------------------------------------


def test_encrypted_input_verifies_with_the_key(world: World) -> None:
    record = world.analyses["ols-sealed"]
    key = blobs.load_key(world.gw1.key_dir, "diabetes-sealed")
    assert record.result["coefficients"] == world.analyses["ols"].result["coefficients"]
    for given in (key, {"diabetes-sealed": key}, {"diabetes-sealed@1": key}):
        check = verify_analysis(world.gw2, record.id, key=given)
        assert check.ok and check.exact, check.summary()


def test_encrypted_input_without_the_key_fails_clearly(world: World) -> None:
    record = world.analyses["ols-sealed"]
    with pytest.raises(ConfigError) as caught:
        verify_analysis(world.gw2, record.id)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("dataset diabetes-sealed v1 is encrypted and Org2MSP holds no key")
    assert "ask Org1MSP for the data key" in message


def test_encrypted_input_with_the_wrong_key_fails_clearly(world: World) -> None:
    with pytest.raises(ConfigError, match=r"dataset diabetes-sealed v1: the key given .* is not"):
        verify_analysis(world.gw2, world.analyses["ols-sealed"].id, key=blobs.new_key())


# -- refusals --------------------------------------------------------------------------------


def test_the_same_analysis_is_recorded_once(world: World) -> None:
    with pytest.raises(InvalidRequestError, match="is already recorded"):
        run_analysis(world.gw1, "ols", "diabetes", y="target")


@pytest.mark.parametrize(
    ("method", "params", "message"),
    [
        ("anova", {}, "not one tensorledger.stats records"),
        ("ols", {}, "name the response column with y="),
        ("ols", {"y": "target", "weights": "bmi"}, "unknown parameter 'weights'"),
        ("ttest", {"column": "bmi"}, "either group_column= .* or other="),
        ("ols", {"y": "target", "x": ["bmi", "no-such"]}, "no-such"),
        ("describe", {"quantiles": [float("nan")]}, "parameters must be JSON values"),
    ],
)
def test_bad_requests_are_refused(
    world: World, method: str, params: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        run_analysis(world.gw1, method, "diabetes", **params)


def test_one_column_and_a_chosen_id(world: World) -> None:
    record = run_analysis(world.gw1, "ols", "diabetes", y="target", x="bmi", analysis_id="bmi-only")
    assert record.id == "bmi-only"
    assert dict(record.parameters) == {"y": "target", "x": ["bmi"], "add_intercept": True}
    ref = sm.OLS(world.diabetes["target"], sm.add_constant(world.diabetes[["bmi"]])).fit()
    np.testing.assert_allclose(record.result["coefficients"], ref.params, rtol=RTOL)
    assert verify_analysis(world.gw2, "bmi-only").ok


def test_none_means_the_default(world: World) -> None:
    record = run_analysis(world.gw1, "describe", "cancer", columns="mean radius", quantiles=None)
    assert dict(record.parameters) == {"columns": ["mean radius"], "quantiles": [0.25, 0.5, 0.75]}


def test_an_unregistered_dataset_is_not_found(world: World) -> None:
    with pytest.raises(NotFoundError):
        run_analysis(world.gw1, "describe", "diabetes@7")


# -- the comparison itself -------------------------------------------------------------------


def test_compare_names_each_differing_value_by_path() -> None:
    recorded = {"a": [1.0, 2.0, {"b": 3.0}], "n": 5, "flag": True, "name": "x", "gone": 1}
    recomputed = {"a": [1.0, 2.5, {"b": 3.0 + 1e-12}], "n": 5.0, "flag": 1, "name": "y", "new": 2}
    found = {d.path: d for d in compare(recorded, recomputed, 1e-9)}
    assert sorted(found) == ["a[1]", "flag", "gone", "name", "new"]
    assert found["a[1]"].rel_diff == pytest.approx(0.2)
    assert found["flag"].rel_diff is None  # a boolean is not the number 1
    assert (found["gone"].recorded, found["gone"].recomputed) == (1, None)
    assert str(found["name"]) == "name: recorded 'x', recomputed 'y'"


def test_compare_reports_lists_of_other_lengths_once() -> None:
    [difference] = compare({"c": [1.0, 2.0]}, {"c": [1.0, 2.0, 3.0]}, 0.0)
    assert difference == Difference("c", [1.0, 2.0], [1.0, 2.0, 3.0], None)


def test_check_is_frozen(world: World) -> None:
    check = verify_analysis(world.gw2, world.analyses["covariance"].id)
    assert isinstance(check, AnalysisCheck)
    with pytest.raises(AttributeError):
        check.ok = False  # type: ignore[misc]
