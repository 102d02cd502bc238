"""add_dataset: chunks first, then the transaction; keys stay with the owner; early refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

import tensorledger as tl
from tensorledger import blobs, registry
from tensorledger.ledger.verify import verify_channel
from tests.contracts.ledgers import Net
from tests.contracts.records import uid


def write_csv(path: Path, rows: int, *, seed: int = 0) -> Path:
    lines = ["age,bmi,target"]
    lines += [
        f"{(i * 7 + seed) % 90},{20 + (i % 13) / 2},{(i * 31 + seed) % 300}" for i in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def stored(gw: tl.Gateway) -> set[Path]:
    root = blobs.store_for(gw.root).root
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def test_add_registers_what_the_store_holds(net: Net, gw1: tl.Gateway, tmp_path: Path) -> None:
    ds = uid("csv")
    rec = registry.add_dataset(
        gw1, write_csv(tmp_path / "d.csv", 50), ds, tags={"licence": "cc-by"}
    )
    assert (rec.ref, rec.media_type, rec.rows) == (f"{ds}@1", "text/csv", 50)
    assert rec.columns == ("age", "bmi", "target") and rec.dtypes["age"] == "float64"
    assert rec.tags == {"licence": "cc-by"} and not rec.encrypted and rec.key_id is None
    store = blobs.store_for(gw1.root)
    manifest = blobs.get_manifest(store, rec.manifest)
    assert (manifest.root, manifest.size) == (rec.root, rec.size)
    blobs.verify_object(store, manifest, where=f"dataset {ds}")
    assert registry.get_dataset(gw1, ds) == rec


def test_next_versions_and_identical_data_store_nothing_new(
    gw1: tl.Gateway, tmp_path: Path
) -> None:
    ds = uid("csv")
    path = write_csv(tmp_path / "d.csv", 40)
    first = registry.add_dataset(gw1, path, ds)
    files = stored(gw1)
    second = registry.add_dataset(gw1, path, ds)
    assert (first.version, second.version) == (1, 2)
    assert second.root == first.root and stored(gw1) == files
    derived = registry.add_dataset(
        gw1, write_csv(tmp_path / "e.csv", 10, seed=3), uid("derived"), parents=[ds]
    )
    assert derived.parents == (f"{ds}@2",)


def test_encrypted_versions_share_the_owner_key(gw1: tl.Gateway, tmp_path: Path) -> None:
    ds = uid("enc")
    first = registry.add_dataset(gw1, write_csv(tmp_path / "a.csv", 20), ds, encrypt=True)
    key = blobs.load_key(gw1.key_dir, ds)
    assert first.encrypted and first.key_id == blobs.key_id(key)
    assert blobs.key_path(gw1.key_dir, ds).stat().st_mode & 0o077 == 0
    second = registry.add_dataset(gw1, write_csv(tmp_path / "b.csv", 30, seed=1), ds, encrypt=True)
    assert second.key_id == first.key_id  # version 1 stays readable with the one key on file
    store = blobs.store_for(gw1.root)
    for rec in (first, second):
        blobs.verify_object(store, blobs.get_manifest(store, rec.manifest), key=key, where=rec.ref)


def test_a_given_key_is_used_and_not_saved(gw1: tl.Gateway, tmp_path: Path) -> None:
    ds, key = uid("given"), blobs.new_key()
    rec = registry.add_dataset(gw1, write_csv(tmp_path / "a.csv", 5), ds, key=key)
    assert rec.encrypted and rec.key_id == blobs.key_id(key)
    assert not blobs.key_path(gw1.key_dir, ds).exists()


def test_interrupted_add_leaves_no_record(net: Net, gw1: tl.Gateway, tmp_path: Path) -> None:
    ds = uid("cut")
    path = tmp_path / "big.csv"  # three 4 MiB chunks, few rows: cheap to describe
    path.write_text("id,note\n" + "".join(f"{i},{'x' * 600}{i}\n" for i in range(16_000)))
    assert path.stat().st_size > 2 * blobs.CHUNK_SIZE
    calls: list[tuple[int, int]] = []

    def cut_after_first_chunk(done: int, total: int) -> None:
        calls.append((done, total))
        raise KeyboardInterrupt

    height = net.height()
    with pytest.raises(KeyboardInterrupt):
        registry.add_dataset(gw1, path, ds, progress=cut_after_first_chunk)
    assert len(calls) == 1 and calls[0][0] < calls[0][1]
    assert registry.dataset_versions(gw1, ds) == [] and net.height() == height
    # the next attempt completes; every chunk its record names is in the store
    seen: list[int] = []
    rec = registry.add_dataset(gw1, path, ds, progress=lambda done, total: seen.append(done))
    assert seen[-1] == rec.size
    store = blobs.store_for(gw1.root)
    blobs.verify_object(store, blobs.get_manifest(store, rec.manifest), where=rec.ref)


def test_a_refused_transaction_leaves_only_unreferenced_chunks(
    gw1: tl.Gateway, tmp_path: Path
) -> None:
    ds = uid("refused")
    with pytest.raises(tl.ContractError, match=r"field 'tags\.consent'"):
        registry.add_dataset(
            gw1, write_csv(tmp_path / "a.csv", 5), ds, tags={"consent": "x" * 2000}
        )
    assert registry.dataset_versions(gw1, ds) == []


def test_refusals_that_need_no_data_come_before_the_upload(
    gw1: tl.Gateway, gw2: tl.Gateway, tmp_path: Path
) -> None:
    ds = uid("owned")
    registry.add_dataset(gw1, write_csv(tmp_path / "a.csv", 5), ds)
    files = stored(gw1)
    fresh = write_csv(tmp_path / "b.csv", 7, seed=11)
    with pytest.raises(tl.InvalidRequestError, match="belongs to Org1MSP"):
        registry.add_dataset(gw2, fresh, ds)
    with pytest.raises(tl.NotFoundError, match="dataset nope@1 is not registered"):
        registry.add_dataset(gw1, fresh, uid("child"), parents=["nope@1"])
    with pytest.raises(tl.InvalidRequestError, match="is not a file"):
        registry.add_dataset(gw1, tmp_path / "missing.csv", uid("x"))
    assert stored(gw1) == files


def test_numpy_arrays_are_tables_too(gw1: tl.Gateway, tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    path = tmp_path / "x.npy"
    np.save(path, np.arange(12, dtype=np.float64).reshape(4, 3))
    rec = registry.add_dataset(gw1, path, uid("npy"))
    assert (rec.rows, rec.columns, rec.media_type) == (4, ("c0", "c1", "c2"), blobs.MEDIA_NPY)


def test_ledger_verifies_after_adds(net: Net, gw1: tl.Gateway, tmp_path: Path) -> None:
    registry.add_dataset(gw1, write_csv(tmp_path / "a.csv", 5), uid("last"), encrypt=True)
    report = verify_channel(net.path, "mychannel")
    assert report.ok, report.findings
