"""The registry commands (data, model, analyze, verify analysis, lineage) on real data.

Journeys 2 to 4 as a user types them: scikit-learn's diabetes and
breast-cancer frames written to CSV and Parquet, registered, verified,
exported, analysed and re-verified by the other organisation, with tampered
chunks and tensors caught and named in one error line. References
(statsmodels, scipy) are computed on the in-memory frames. One ledger serves
the module; tests that alter a stored file put it back.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.main import get_command
from typer.testing import CliRunner, Result

from tensorledger import blobs

SCRIPT = Path(sys.executable).parent / "tensorledger"
runner = CliRunner(
    env={
        "TENSORLEDGER_LEDGER": None,
        "TENSORLEDGER_IDENTITY": None,
        "TENSORLEDGER_CHANNEL": None,
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
)
OLS_RTOL = 1e-8


def cli(*args: str | Path) -> Result:
    from tensorledger.cli import app

    return runner.invoke(app, [str(a) for a in args])


def ok(*args: str | Path) -> Result:
    result = cli(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def as_json(*args: str | Path) -> object:
    return json.loads(ok(*args, "--json").stdout)


def one_error_line(result: Result, code: int) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@contextmanager
def flipped(path: Path, offset: int = 100) -> Iterator[None]:
    """One bit of a stored file changed for the duration, then the file put back."""
    original = path.read_bytes()
    path.chmod(0o644)
    changed = bytearray(original)
    changed[offset] ^= 0x01
    path.write_bytes(bytes(changed))
    try:
        yield
    finally:
        path.write_bytes(original)


@dataclass
class World:
    ledger: Path
    base: Path
    diabetes: pd.DataFrame
    cancer: pd.DataFrame
    added: Result  # `data add diabetes.csv --id diabetes`, as Org1

    def chunk_file(self, ref: str, index: int = 0) -> Path:
        record = as_json("-l", self.ledger, "data", "show", ref)
        assert isinstance(record, dict)
        store = blobs.store_for(self.ledger)
        manifest = blobs.get_manifest(store, record["manifest"])
        return store.path(manifest.chunks[index].stored)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    from sklearn.datasets import load_breast_cancer, load_diabetes

    base = tmp_path_factory.mktemp("cli-data")
    ledger = base / "ledger"
    ok("init", ledger)
    diabetes = load_diabetes(as_frame=True).frame
    cancer = load_breast_cancer(as_frame=True).frame
    diabetes.to_csv(base / "diabetes.csv", index=False)
    cancer.to_parquet(base / "cancer.parquet", index=False)
    cancer.to_parquet(base / "patients.parquet", index=False)
    added = ok(
        "-l", ledger, "data", "add", base / "diabetes.csv", "--id", "diabetes",
        "--tag", "source=sklearn",
    )  # fmt: skip
    ok("-l", ledger, "data", "add", base / "cancer.parquet", "--id", "cancer")
    return World(ledger, base, diabetes, cancer, added)


# -- help ----------------------------------------------------------------------------------


def _new_commands() -> list[list[str]]:
    from tensorledger.cli import app

    top = get_command(app).commands  # type: ignore[attr-defined]
    out = [["lineage"], ["verify", "analysis"]]
    for name in ("data", "model", "analyze"):
        out.append([name])
        out += [[name, sub] for sub in sorted(top[name].commands)]
    return out


@pytest.mark.parametrize("command", _new_commands(), ids=" ".join)
def test_every_new_command_has_help_with_an_example(command: list[str]) -> None:
    text = ok(*command, "--help").stdout
    assert "Example" in text
    # an example of this very command, possibly after global options (-i Org2)
    assert re.search(r"tensorledger (-\S+ \S+ )*" + re.escape(" ".join(command)), text), text


# -- data ----------------------------------------------------------------------------------


def test_data_add_shows_progress_and_a_summary(world: World) -> None:
    out, err = world.added.stdout, world.added.stderr
    assert "adding diabetes.csv" in err and "95.1" in err  # the finished progress bar
    for text in ("diabetes@1", "442", "11: age, sex", "95.1 kB in 1 chunk", "source=sklearn"):
        assert text in out
    record = as_json("-l", world.ledger, "data", "show", "diabetes@1")
    assert isinstance(record, dict)
    for value in (record["root"], record["manifest"], record["txId"]):
        assert value in out
    assert "block" in out and "encrypted" not in out


def test_data_ls_and_show(world: World) -> None:
    listed = ok("-l", world.ledger, "data", "ls").stdout
    assert "diabetes" in listed and "cancer" in listed and "Tags" in listed
    records = as_json("-l", world.ledger, "data", "ls")
    assert isinstance(records, list)
    by_id = {r["id"]: r for r in records}
    assert by_id["diabetes"]["tags"] == {"source": "sklearn"}
    assert by_id["diabetes"]["rows"] == 442 and by_id["cancer"]["rows"] == 569
    assert by_id["diabetes"]["owner"] == "Org1MSP"
    assert [r["version"] for r in as_json("-l", world.ledger, "data", "ls", "diabetes")] == [1]  # type: ignore[union-attr]
    shown = ok("-l", world.ledger, "data", "show", "diabetes").stdout
    assert "text/csv" in shown and "bmi" in shown and "float64" in shown
    assert "not registered" in one_error_line(cli("-l", world.ledger, "data", "show", "nope"), 8)


def test_data_verify_ok_then_a_flipped_byte_names_the_chunk(world: World) -> None:
    assert ok("-l", world.ledger, "data", "verify", "diabetes").stdout.startswith("OK dataset")
    out = world.base / "exported.csv"
    with flipped(world.chunk_file("diabetes@1")):
        line = one_error_line(cli("-l", world.ledger, "data", "verify", "diabetes@1"), 9)
        assert "dataset diabetes v1 chunk 0" in line and "SHA-256" in line
        # the installed script: one line on stderr, exit 9, no traceback
        env = {k: v for k, v in os.environ.items() if not k.startswith("TENSORLEDGER_")}
        proc = subprocess.run(
            [str(SCRIPT), "-l", str(world.ledger), "data", "verify", "diabetes"],
            capture_output=True, env=env, timeout=60, check=False,
        )  # fmt: skip
        err = proc.stderr.decode()
        assert proc.returncode == 9 and "Traceback" not in err, err
        assert err.count("\n") == 1 and err.startswith("error: dataset diabetes v1 chunk 0")
        one_error_line(cli("-l", world.ledger, "data", "export", "diabetes", out), 9)
        assert not out.exists()  # nothing of a refused export is left behind
    ok("-l", world.ledger, "data", "export", "diabetes", out)
    assert out.read_bytes() == (world.base / "diabetes.csv").read_bytes()


def test_journey_2_encrypted_dataset_shared_with_a_partner(world: World) -> None:
    added = ok(
        "-l", world.ledger, "data", "add", world.base / "patients.parquet",
        "--id", "cohort-2026", "--version", "1", "--tag", "consent=research-only", "--encrypt",
    ).stdout  # fmt: skip
    key_file = world.ledger / "keys" / "Org1MSP" / "cohort-2026.key"
    assert key_file.is_file() and "AES-256-GCM" in added and "out of band" in added
    assert "cohort-2026.key" in added.replace("\n", "")

    as_org2 = ("-l", world.ledger, "-i", "Org2")
    assert "cohort-2026" in ok(*as_org2, "data", "ls").stdout
    listed = as_json(*as_org2, "data", "ls", "cohort-2026")
    assert isinstance(listed, list) and listed[0]["tags"] == {"consent": "research-only"}
    assert listed[0]["encrypted"] is True and listed[0]["owner"] == "Org1MSP"
    export = world.base / "partner.parquet"
    line = one_error_line(cli(*as_org2, "data", "export", "cohort-2026@1", export), 2)
    assert "encrypted" in line and "--key-file" in line and "Org1MSP" in line
    assert not export.exists()
    # without the key the partner can still prove the stored chunks unaltered
    checked = ok(*as_org2, "data", "verify", "cohort-2026")
    assert "OK" in checked.stdout and "plaintext was not read" in checked.stdout
    wrong = world.base / "wrong.key"
    wrong.write_text(blobs.new_key().hex() + "\n")
    line = one_error_line(cli(*as_org2, "data", "export", "cohort-2026", export, "-k", wrong), 2)
    assert "not the dataset's key" in line

    ok(*as_org2, "data", "export", "cohort-2026@1", export, "--key-file", key_file)
    assert export.read_bytes() == (world.base / "patients.parquet").read_bytes()
    report = as_json(*as_org2, "data", "verify", "cohort-2026", "--key-file", key_file)
    assert report == {
        "ok": True,
        "dataset": "cohort-2026@1",
        "chunks": 1,
        "size": export.stat().st_size,
        "manifest": report["manifest"],  # type: ignore[index]
        "root": report["root"],  # type: ignore[index]
        "plaintext_checked": True,
    }
    # only the owner adds versions
    line = one_error_line(
        cli(*as_org2, "data", "add", world.base / "patients.parquet", "--id", "cohort-2026"), 3
    )
    assert "belongs to Org1MSP" in line


# -- analyses --------------------------------------------------------------------------------


def test_journey_4_ols_matches_statsmodels_and_org2_reverifies(world: World) -> None:
    import statsmodels.api as sm

    ols = ("analyze", "ols", "diabetes", "--y", "target", "--x", "age", "--x", "bmi")
    ran = as_json("-l", world.ledger, *ols)
    assert isinstance(ran, dict)
    record, result = ran["record"], ran["record"]["result"]
    assert isinstance(ran["block"], int) and record["inputs"][0]["dataset"] == "diabetes@1"
    frame = world.diabetes
    fit = sm.OLS(frame["target"], sm.add_constant(frame[["age", "bmi"]])).fit()
    assert result["columns"] == ["const", "age", "bmi"]
    for ours, theirs in (
        ("coefficients", fit.params),
        ("standard_errors", fit.bse),
        ("t_values", fit.tvalues),
        ("p_values", fit.pvalues),
    ):
        np.testing.assert_allclose(result[ours], theirs.to_numpy(), rtol=OLS_RTOL, err_msg=ours)
    np.testing.assert_allclose(result["r_squared"], fit.rsquared, rtol=OLS_RTOL)
    np.testing.assert_allclose(result["f_statistic"], fit.fvalue, rtol=OLS_RTOL)

    analysis_id = record["id"]
    assert analysis_id in ok("-l", world.ledger, "analyze", "ls").stdout
    shown = ok("-l", world.ledger, "analyze", "show", analysis_id).stdout
    for text in ("OLS Regression Results", "R-squared", "const", "bmi", "std err", "P>|t|"):
        assert text in shown
    again = ("analyze", "ols", "diabetes", "-y", "target", "-x", "age", "-x", "bmi")
    assert "already recorded" in one_error_line(cli("-l", world.ledger, *again), 3)

    reviewed = ok("-l", world.ledger, "-i", "Org2", "verify", "analysis", analysis_id).stdout
    assert "Inputs re-verified" in reviewed and "diabetes@1" in reviewed
    assert f"analysis {analysis_id} verified" in reviewed.replace("\n", " ")
    with flipped(world.chunk_file("diabetes@1")):
        failed = cli("-l", world.ledger, "-i", "Org2", "verify", "analysis", analysis_id)
        assert failed.exit_code == 9, failed.stdout
        assert "NOT verified" in failed.stdout and "chunk 0" in failed.stdout
    assert "Traceback" not in failed.output

    tree = ok("-l", world.ledger, "lineage", "diabetes").stdout
    assert "dataset diabetes@1" in tree and f"analysed by analysis {analysis_id}" in tree
    node = as_json("-l", world.ledger, "lineage", "diabetes@1")
    assert isinstance(node, dict) and node["owner"] == "Org1MSP"
    assert {(c["kind"], c["ref"]) for c in node["children"]} >= {("analysis", analysis_id)}


def test_ttest_describe_and_corr_print_tables(world: World) -> None:
    from scipy import stats

    ttest = ("analyze", "ttest", "cancer", "--column", "mean radius", "--by", "target")
    ran = as_json("-l", world.ledger, *ttest)
    result = ran["record"]["result"]  # type: ignore[index]
    groups = world.cancer.groupby("target")["mean radius"]
    ref = stats.ttest_ind(groups.get_group(0), groups.get_group(1), equal_var=False)
    np.testing.assert_allclose([result["t"], result["p"]], [ref.statistic, ref.pvalue], rtol=1e-8)
    described = ok(
        "-l", world.ledger, "analyze", "describe", "diabetes", "--column", "age", "--column", "bmi"
    ).stdout  # fmt: skip
    assert "Descriptive statistics" in described and "50%" in described
    corr = ok(
        "-l", world.ledger, "analyze", "corr", "diabetes", "--column", "bmi", "--column", "bp"
    )
    assert "Correlation matrix" in corr.stdout and "1.0000" in corr.stdout
    assert "unknown" not in corr.stdout


# -- models ----------------------------------------------------------------------------------


def test_model_verify_then_a_flipped_weight_names_the_tensor(world: World) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    import tensorledger as tl
    import tensorledger.tf as tltf

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    x = world.diabetes[["age", "bmi"]].to_numpy()
    with tl.connect(world.ledger, identity="Org2") as gw:
        anchor = tltf.LedgerCheckpoint(gw, "model-x", datasets=["diabetes@1"])
        model.fit(x, world.diabetes["target"].to_numpy(), epochs=1, verbose=0, callbacks=[anchor])
    assert [r.ref for r in anchor.records] == ["model-x@1"]

    assert "model-x" in ok("-l", world.ledger, "model", "ls").stdout
    shown = ok("-l", world.ledger, "model", "show", "model-x@1").stdout
    assert "diabetes@1" in shown and "dense/kernel" in shown
    verified = ok("-l", world.ledger, "model", "verify", "model-x@1").stdout
    assert verified.startswith("OK model model-x@1: 4 tensors")

    record = as_json("-l", world.ledger, "model", "show", "model-x")
    store = blobs.store_for(world.ledger)
    manifest = blobs.get_manifest(store, record["weights"])  # type: ignore[index]
    assert len(manifest.chunks) == 1
    weights = store.path(manifest.chunks[0].stored)
    # safetensors: 8-byte header length, JSON header, then the tensors' bytes
    blob = weights.read_bytes()
    header = json.loads(blob[8 : 8 + int.from_bytes(blob[:8], "little")])
    offsets = {k: v["data_offsets"] for k, v in header.items() if k != "__metadata__"}
    last = max(offsets, key=lambda k: offsets[k][1])  # the tensor that ends the file
    with flipped(weights, len(blob) - 1):
        line = one_error_line(cli("-l", world.ledger, "model", "verify", "model-x"), 9)
    assert f"model model-x v1 tensor {last}: SHA-256" in line

    tree = ok("-l", world.ledger, "lineage", "model-x").stdout
    assert "model model-x@1" in tree and "trained on dataset diabetes@1" in tree
    assert "Org2MSP" in tree and "Org1MSP" in tree


# -- the ledger check still works -------------------------------------------------------------


def test_verify_alone_still_checks_the_whole_ledger(world: World) -> None:
    out = ok("-l", world.ledger, "verify").stdout
    assert "mychannel" in out and "OK" in out
    assert "no channel 'nope'" in one_error_line(cli("-l", world.ledger, "verify", "-c", "nope"), 2)
    line = one_error_line(cli("-l", world.ledger, "verify", "analysis", "nope"), 8)
    assert "analysis nope is not registered" in line
