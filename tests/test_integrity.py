"""Store integrity: chunk checksums recorded at the build; lost and damaged chunks named."""

from __future__ import annotations

import json
import shutil

import pytest
from _tally import record

from cellconsensus.cli import main
from cellconsensus.store import verify_store, write_patches
from cellconsensus.store.integrity import CHECKSUMS
from cellconsensus.synthetic import make_images


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    data = make_images(6, style="brightfield", seed=3)
    store = tmp_path_factory.mktemp("integrity") / "p.zarr"
    write_patches(data.truth, data.images, store, [16, 24], chunk_size=8)
    return store


def _chunks(store):
    return sorted(p for p in store.rglob("*") if p.is_file() and "/c/" in str(p))


def test_every_chunk_is_recorded_and_an_intact_store_verifies(built):
    recorded = json.loads((built / CHECKSUMS).read_text())["chunks"]
    on_disk = {str(p.relative_to(built)) for p in _chunks(built)}
    assert set(recorded) == on_disk and len(recorded) > 10
    for full in (True, False):
        report = verify_store(built, full=full)
        assert report.ok and report.recorded and report.n_chunks == len(recorded)


def test_lost_and_damaged_chunks_are_named(built, tmp_path, capsys):
    damaged = tmp_path / "damaged.zarr"
    shutil.copytree(built, damaged)
    chunks = _chunks(damaged)
    lost, cut = chunks[0], chunks[-1]
    lost.unlink()
    cut.write_bytes(cut.read_bytes()[:5])
    quick = verify_store(damaged, full=False)
    assert quick.missing == [str(lost.relative_to(damaged))] and quick.corrupt == []
    full = verify_store(damaged)
    assert full.missing == quick.missing and full.corrupt == [str(cut.relative_to(damaged))]
    assert not full.ok and "1 missing, 1 corrupt" in str(full)
    # The command line says the same, with exit status 1 (0 for an intact store).
    assert main(["verify", str(damaged)]) == 1
    out = capsys.readouterr().out
    assert f"missing: {quick.missing[0]}" in out and f"corrupt: {full.corrupt[0]}" in out
    assert main(["verify", str(built), "--quick"]) == 0


def _damage(path, how: str, other) -> None:
    data = path.read_bytes()
    if how == "deleted":
        path.unlink()
    elif how == "emptied":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "bit flipped":
        middle = len(data) // 2
        path.write_bytes(data[:middle] + bytes([data[middle] ^ 0x10]) + data[middle + 1 :])
    else:  # swapped: another chunk's valid bytes (decodes fine, wrong content)
        path.write_bytes(other.read_bytes())


DAMAGES = ["deleted", "emptied", "truncated", "bit flipped", "swapped"]


@pytest.mark.parametrize("how", DAMAGES)
def test_every_chunk_damaged_every_way_is_named(built, tmp_path, how):
    """The corruption sweep: each chunk file in turn, damaged, found and named alone."""
    store = tmp_path / "store.zarr"
    shutil.copytree(built, store)
    chunks = _chunks(store)
    for i, chunk in enumerate(chunks):
        original = chunk.read_bytes()
        other = next(c for c in chunks[i + 1 :] + chunks[:i] if c.read_bytes() != original)
        _damage(chunk, how, other)
        name = str(chunk.relative_to(store))
        report = verify_store(store)
        found = report.missing if how == "deleted" else report.corrupt
        assert found == [name] and not report.ok, (name, str(report))
        record("chunks damaged: " + how, "detected")
        chunk.write_bytes(original)
    assert verify_store(store).ok


def test_training_input_refuses_a_damaged_store(built, tmp_path):
    pytest.importorskip("tensorflow")
    from cellcnn.store import PatchStore, StoreError

    damaged = tmp_path / "damaged.zarr"
    shutil.copytree(built, damaged)
    patches = sorted(p for p in _chunks(damaged) if "size_16/patches" in str(p))
    patches[1].unlink()  # it once read back as 8 black patches
    with pytest.raises(StoreError, match="1 chunk.* missing .*size_16/patches/c/1"):
        PatchStore(damaged, 16)
    patches[0].write_bytes(patches[0].read_bytes()[:5])
    unchecked = PatchStore(damaged, 16, verify=None)
    with pytest.raises(StoreError, match="cannot decode patch chunk.*0-0 of size 16"):
        unchecked.read(0, 4)


def test_a_store_from_before_checksums_is_reported_not_failed(built, tmp_path):
    old = tmp_path / "old.zarr"
    shutil.copytree(built, old)
    (old / CHECKSUMS).unlink()
    report = verify_store(old)
    assert report.ok and not report.recorded and "no checksums recorded" in str(report)
