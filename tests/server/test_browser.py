"""The web explorer in a real headless Chromium, over `tensorledger serve` on the demo's ledger.

An auditor's journey: sign in with a token, go dashboard → block → transaction
→ dataset → lineage → model, press Verify and see the proof pass; see a new
block arrive without reloading; then tamper with the ledger's SQLite file (an
envelope byte, the signed checkpoint) or present another verifier key, and
see Verify fail with the reason. Screenshots go to test-artifacts/screenshots/.
Needs Debian's Chromium and Playwright: `make browser` (scripts/install-browser.sh).
"""

from __future__ import annotations

import json
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import tensorledger as tl
from tensorledger.ledger.network import channel_db

playwright_api = pytest.importorskip("playwright.sync_api", reason="run `make browser`")
pytest.importorskip("tensorflow", reason="the demo's dataset and model need TensorFlow")

CHROMIUM = Path("/usr/bin/chromium")
#: the console script installed beside this interpreter (the package has no __main__)
CLI = str(Path(sys.executable).parent / "tensorledger")
CH = "mychannel"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
TIMEOUT_MS = 20_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: run `make browser`"),
]


@dataclass
class Served:
    """A running `tensorledger serve` over the demo ledger, and a write token for it."""

    ledger: Path
    base: str
    token: str

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call the API as the token's identity; the test's own view, not the browser's."""
        request = urllib.request.Request(
            f"{self.base}api/v1{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())


def _cli(*args: str) -> str:
    run = subprocess.run(
        [CLI, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return run.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_healthy(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "tensorledger serve exited early"
        try:
            with urllib.request.urlopen(f"{base}api/v1/health", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    pytest.fail("tensorledger serve did not answer /api/v1/health within 60 s")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    work = tmp_path_factory.mktemp("explorer")
    _cli("demo", "--dir", str(work / "demo"))
    ledger = work / "demo" / "ledger"
    out = _cli("-l", str(ledger), "serve", "token", "add", "--scope", "write")
    token = next(line.strip() for line in out.splitlines() if line.strip())
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", token), out
    port = _free_port()
    log = (work / "serve.log").open("wb")
    server = subprocess.Popen(
        [CLI, "-l", str(ledger), "serve", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/"
    try:
        _wait_healthy(base, server)
        yield Served(ledger, base, token)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def page(served: Served) -> Iterator[Any]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        tab = browser.new_page(viewport={"width": 1280, "height": 800})
        tab.set_default_timeout(TIMEOUT_MS)
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.goto(served.base)
        # The server requires a token: the explorer asks for one before anything else.
        tab.get_by_role("textbox", name="API token").fill(served.token)
        tab.screenshot(path=SHOTS / "00-sign-in.png")
        tab.get_by_role("button", name="Use token").click()
        tab.get_by_role("heading", name=f"Channel {CH}").wait_for()
        yield tab
        browser.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def _shot(tab: Any, name: str) -> None:
    tab.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def _verify(tab: Any) -> tuple[str, str]:
    """Press Verify on the open transaction page; the verdict and the result's text."""
    tab.locator("#verify-result").evaluate("el => el.replaceChildren()")
    tab.get_by_role("button", name="Verify in this browser").click()
    verdict = tab.locator("#verify-result [data-verdict]")
    verdict.wait_for()
    return verdict.get_attribute("data-verdict") or "", tab.locator("#verify-result").inner_text()


def _dataset_tx(served: Served) -> dict[str, Any]:
    record = served.api("GET", f"/channels/{CH}/datasets/diabetes")["versions"][0]
    tx: dict[str, Any] = served.api("GET", f"/channels/{CH}/transactions/{record['txId']}")
    return tx


@contextmanager
def _tampered(served: Served, sql: str, params: tuple[Any, ...]) -> Iterator[None]:
    """Change the ledger's SQLite file behind the server's back, and put it back afterwards."""
    db = channel_db(served.ledger, CH)
    conn = sqlite3.connect(db)
    try:
        table = "txs" if "txs" in sql else "checkpoints"
        saved = conn.execute(f"SELECT * FROM {table}").fetchall()
        with conn:
            assert conn.execute(sql, params).rowcount == 1
        yield
    finally:
        with conn:
            conn.execute(f"DELETE FROM {table}")
            marks = ",".join("?" * len(saved[0]))
            conn.executemany(f"INSERT INTO {table} VALUES ({marks})", saved)
        conn.close()


def test_click_through_to_lineage_and_verify(served: Served, page: Any) -> None:
    tx = _dataset_tx(served)
    info = served.api("GET", f"/channels/{CH}")
    assert page.locator("#stat-height").inner_text() == str(info["height"])
    _shot(page, "01-dashboard")

    page.locator(f'#recent-blocks a[href="#/blocks/{tx["block"]}"]').click()
    page.get_by_role("heading", name=f"Block {tx['block']}").wait_for()
    _shot(page, "02-block")

    page.locator(f'a[href="#/tx/{tx["tx_id"]}"]').click()
    page.get_by_role("heading", name="Transaction").wait_for()
    assert "datasets.RegisterDataset" in page.locator("main").inner_text()
    endorsements = page.locator("ul.endorsers").inner_text()
    assert "Org1MSP" in endorsements
    assert "Org2MSP" in endorsements

    verdict, text = _verify(page)
    assert verdict == "pass", text
    assert text.count("✓") == 5  # the verdict and its four steps
    # First use pins the key: the one the orderer signs with, read here from the ledger itself.
    with tl.connect(served.ledger, identity="Org2") as gw:
        key = gw.network(CH).verifier_key()
    assert page.evaluate(f"localStorage.getItem('tensorledger.verifier.{CH}')") == key
    _shot(page, "03-transaction-verified")

    page.get_by_role("link", name="dataset/diabetes/0000000001").first.click()
    page.get_by_role("heading", name="Dataset diabetes@1").wait_for()
    root = served.api("GET", f"/channels/{CH}/datasets/diabetes")["versions"][0]["root"]
    assert root in page.locator("main").inner_text()
    _shot(page, "04-dataset")

    page.get_by_role("link", name="Open the lineage page").click()
    page.get_by_role("heading", name="Lineage of dataset:diabetes@1").wait_for()
    graph = served.api("GET", f"/channels/{CH}/lineage/dataset/diabetes@1")
    assert page.locator("svg.lineage g.node").count() == len(graph["nodes"])
    _shot(page, "05-lineage")

    models = served.api("GET", f"/channels/{CH}/models/diabetes-mlp")
    newest = models["versions"][-1]["version"]
    page.locator(f'svg.lineage a[aria-label="model diabetes-mlp@{newest}"]').click()
    page.get_by_role("heading", name=f"Model diabetes-mlp@{newest}").wait_for()
    points = page.locator("svg.metric-chart circle.point")
    assert points.count() == len(models["metrics"]) >= 2
    _shot(page, "06-model-metrics")


def test_new_block_appears_without_reload(served: Served, page: Any) -> None:
    page.goto(served.base + "#/")
    page.get_by_role("heading", name=f"Channel {CH}").wait_for()
    page.locator("#live-state[data-state='live']").wait_for()
    page.evaluate("window.__sameDocument = true")

    result = served.api(
        "POST",
        f"/channels/{CH}/contracts/datacontract/transactions",
        {"function": "storeData", "args": ["liveData", "[42.0]"]},
    )
    row = page.locator(f'#recent-blocks tr[data-block="{result["block"]}"]')
    row.wait_for()
    assert page.locator("#recent-blocks tr").first.get_attribute("data-block") == str(
        result["block"]
    )
    page.wait_for_function(
        f"document.querySelector('#stat-height').textContent === '{result['block'] + 1}'"
    )
    valid = served.api("GET", f"/channels/{CH}")["tx_count"]
    page.wait_for_function(f"document.querySelector('#stat-txs').textContent === '{valid}'")
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    _shot(page, "07-live-block")


def test_tampered_envelope_fails_verification(served: Served, page: Any) -> None:
    tx = _dataset_tx(served)
    conn = sqlite3.connect(channel_db(served.ledger, CH))
    try:
        envelope = conn.execute(
            "SELECT envelope FROM txs WHERE tx_id=?", (tx["tx_id"],)
        ).fetchone()[0]
    finally:
        conn.close()
    # The last byte is inside the creator's signature: the envelope still decodes.
    bad = bytes(envelope[:-1]) + bytes([envelope[-1] ^ 0x01])
    page.goto(served.base + f"#/tx/{tx['tx_id']}")
    page.get_by_role("heading", name="Transaction").wait_for()
    with _tampered(served, "UPDATE txs SET envelope=? WHERE tx_id=?", (bad, tx["tx_id"])):
        verdict, text = _verify(page)
        _shot(page, "08-tampered-envelope")
    assert verdict == "fail"
    assert "inclusion proof" in text
    assert "does not match the root" in text

    verdict, text = _verify(page)
    assert verdict == "pass", text


def test_tampered_checkpoint_fails_verification(served: Served, page: Any) -> None:
    tx = _dataset_tx(served)
    note = served.api("GET", f"/channels/{CH}/checkpoint")
    size, root = note["size"], note["root"]
    forged_root = "A" * 43 + "="  # 32 zero bytes, canonical base64
    forged = note["checkpoint"].replace(f"\n{root}\n", f"\n{forged_root}\n", 1)
    assert forged != note["checkpoint"]
    page.goto(served.base + f"#/tx/{tx['tx_id']}")
    page.get_by_role("heading", name="Transaction").wait_for()
    with _tampered(served, "UPDATE checkpoints SET note=? WHERE size=?", (forged, size)):
        verdict, text = _verify(page)
        _shot(page, "09-tampered-checkpoint")
    assert verdict == "fail"
    assert "signature" in text
    assert "does not verify" in text


def test_a_key_other_than_the_pinned_one_is_not_trusted(served: Served, page: Any) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    from tensorledger.crypto.checkpoint import NoteVerifier

    tx = _dataset_tx(served)
    pinned_key = page.evaluate(f"localStorage.getItem('tensorledger.verifier.{CH}')")
    name = pinned_key.split("+")[0]
    impostor = NoteVerifier(name, ec.generate_private_key(ec.SECP256R1()).public_key())
    page.evaluate(
        "([k, v]) => localStorage.setItem(k, v)",
        [f"tensorledger.verifier.{CH}", impostor.verifier_key()],
    )
    try:
        page.goto(served.base + f"#/tx/{tx['tx_id']}")
        page.get_by_role("heading", name="Transaction").wait_for()
        verdict, text = _verify(page)
        warning = page.locator(".verify-notes [role=alert]").inner_text()
        _shot(page, "10-other-key")
    finally:
        page.evaluate(
            "([k, v]) => localStorage.setItem(k, v)", [f"tensorledger.verifier.{CH}", pinned_key]
        )
    assert verdict == "fail"
    assert f"no signature by key {name}" in text
    assert "different verifier key" in warning
