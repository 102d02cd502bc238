"""`tensorledger budget` and `tensorledger dp`: what a person types, and one-line errors."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests.privacy.conftest import World

runner = CliRunner(
    env={"TENSORLEDGER_LEDGER": None, "TENSORLEDGER_IDENTITY": None, "TENSORLEDGER_CHANNEL": None}
)


def cli(world: World, *args: str | Path, org: str = "Org1") -> Result:
    from tensorledger.cli import app

    return runner.invoke(app, ["--ledger", str(world.path), "-i", org, *map(str, args)])


def ok(world: World, *args: str | Path, org: str = "Org1") -> Result:
    result = cli(world, *args, org=org)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def one_error_line(result: Result, code: int) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture
def dataset(world: World) -> tuple[str, str]:
    ref = world.register("Org1")
    return ref, ref.partition("@")[0]


def test_set_release_and_show(world: World, dataset: tuple[str, str]) -> None:
    ref, ds = dataset
    assert "privacy budget ε=1.5 set" in ok(world, "budget", "set", ds, "1.5").stdout
    out = ok(
        world, "dp", "release", ref, "--statistic", "mean", "--column", "age",
        "--epsilon", "0.5", "--bounds", "0,100", "--id", "m1", "--json", org="Org2",
    )  # fmt: skip
    data = json.loads(out.stdout)
    assert data["release"]["id"] == "m1" and data["release"]["column"] == "age"
    assert data["budget"]["spent"] == "0.5" and data["budget"]["remaining"] == "1.0"
    ok(
        world, "dp", "release", ref, "-s", "histogram", "--column", "age", "-e", "0.25",
        "--bins", "20,50,80", "--mechanism", "gaussian", "--delta", "1e-6", "--id", "h1",
    )  # fmt: skip
    shown = json.loads(ok(world, "budget", "show", ds, "--json").stdout)
    assert (shown["total"], shown["spent"], shown["remaining"]) == ("1.5", "0.75", "0.75")
    assert [r["id"] for r in shown["releaseRecords"]] == ["h1", "m1"]
    assert shown["releaseRecords"][1]["value"] == data["release"]["value"]
    table = " ".join(ok(world, "budget", "show", ds).stdout.split())
    assert "0.75 of 1.5 spent, 0.75 left, 2 releases" in table
    assert "m1" in table and "h1" in table and "gaussian" in table
    assert Decimal(shown["spent"]) + Decimal(shown["remaining"]) == Decimal(shown["total"])


def test_refusal_is_one_line_with_the_contract_message(
    world: World, dataset: tuple[str, str]
) -> None:
    ref, ds = dataset
    ok(world, "budget", "set", ds, "0.3")
    line = one_error_line(
        cli(
            world, "dp", "release", ref, "-s", "count", "--column", "age", "-e", "0.5", "--id", "c"
        ),
        6,
    )
    assert line == (
        f"error: Release c would spend ε=0.5 of dataset {ds}'s budget: 0.0 of 0.3 spent, 0.3 left"
    )
    assert "No releases yet." in ok(world, "budget", "show", ds).stdout


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (("budget", "set", "{ds}", "1e3"), 3, "ε must be a decimal string"),
        (("budget", "set", "{ds}", "2"), 6, "only Org1MSP may set"),
        (("budget", "show", "{ds}"), 6, "has no privacy budget"),
        (("dp", "release", "{ref}", "-s", "mean", "--column", "age", "-e", "0.1",
          "--bounds", "0,x"), 3, "--bounds must be numbers"),
        (("dp", "release", "{ref}", "-s", "mean", "--column", "age", "-e", "0.1"),
         3, "needs bounds"),
        (("dp", "release", "{ref}", "-s", "mode", "--column", "age", "-e", "0.1"),
         3, "statistic 'mode' is not one of"),
        (("dp", "release", "{ref}", "-s", "count", "--column", "nope", "-e", "0.1"),
         3, "column 'nope' is not in dataset"),
        (("dp", "release", "{ds}@7", "-s", "count", "--column", "age", "-e", "0.1"), 8, "@7"),
    ],
)  # fmt: skip
def test_bad_input_is_one_error_line(
    world: World, dataset: tuple[str, str], args: tuple[str, ...], code: int, fragment: str
) -> None:
    ref, ds = dataset
    org = "Org2" if "only Org1MSP" in fragment else "Org1"
    line = one_error_line(cli(world, *(a.format(ds=ds, ref=ref) for a in args), org=org), code)
    assert fragment in line


def test_no_ledger_is_a_configuration_error(tmp_path: Path) -> None:
    from tensorledger.cli import app

    result = runner.invoke(app, ["--ledger", str(tmp_path / "none"), "budget", "show", "x"])
    assert result.exit_code == 2 and "no ledger at" in result.stderr
