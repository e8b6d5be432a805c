"""A patch store built by Dask workers equals the serial build, survives a killed worker, resumes."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

distributed = pytest.importorskip("distributed")

import cloudpickle  # noqa: E402
import xarray as xr  # noqa: E402

from cellconsensus.distributed import write_patches as write_patches_on_cluster  # noqa: E402
from cellconsensus.distributed.patches import task_ranges  # noqa: E402
from cellconsensus.errors import CellConsensusInputError  # noqa: E402
from cellconsensus.images import ImageTable  # noqa: E402
from cellconsensus.store import StoreIncompleteError, open_patches, write_patches  # noqa: E402
from cellconsensus.synthetic import make_images  # noqa: E402

cloudpickle.register_pickle_by_value(sys.modules[__name__])

SIZES = [24, 40]
KILL_MARKER = "CELLCONSENSUS_TEST_KILL_MARKER"


@pytest.fixture(scope="module")
def client(dask_client):
    return dask_client


@pytest.fixture(scope="module")
def data():
    return make_images(24, style="brightfield", seed=4)


def _chunk_files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and "/c/" in p.as_posix()
    }


def _assert_same_store(serial: Path, parallel: Path) -> None:
    for size in SIZES:
        a, b = open_patches(serial, size), open_patches(parallel, size)
        xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())
        assert a.attrs["provenance"] == b.attrs["provenance"]
        assert a.attrs["settings"] == b.attrs["settings"]
    assert _chunk_files(serial) == _chunk_files(parallel)  # byte for byte, chunk for chunk


@pytest.mark.parametrize(
    "policy",
    [{}, {"border": "drop", "min_contrast": 2.0}, {"border": "shift"}],
    ids=["keep-all", "drop", "shift"],
)
def test_parallel_store_equals_serial(client, data, tmp_path, policy):
    serial = write_patches(
        data.truth, data.images, tmp_path / "s.zarr", SIZES, chunk_size=8, **policy
    )

    def on_cluster():
        return write_patches_on_cluster(
            data.truth,
            data.images,
            str(tmp_path / "p.zarr"),
            SIZES,
            chunk_size=8,
            task_patches=20,
            client=client,
            **policy,
        )

    parallel = on_cluster()
    assert parallel.sizes == serial.sizes
    _assert_same_store(tmp_path / "s.zarr", tmp_path / "p.zarr")
    if policy.get("min_contrast"):
        assert serial.sizes[40]["n_dropped_border"] + serial.sizes[40]["n_dropped_contrast"] > 0
    again = on_cluster()
    assert again.action == "up to date"


def test_unreadable_image_skipped_and_counted(client, data, tmp_path):
    images = dict(data.images)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    victim = str(data.truth["image_id"].iloc[0])
    images[victim] = broken
    serial = write_patches(
        data.truth, images, tmp_path / "s.zarr", SIZES, chunk_size=8, on_error="skip"
    )
    parallel = write_patches_on_cluster(
        data.truth,
        images,
        str(tmp_path / "p.zarr"),
        SIZES,
        chunk_size=8,
        on_error="skip",
        task_patches=20,
        client=client,
    )
    assert parallel.sizes[24]["n_dropped_error"] == serial.sizes[24]["n_dropped_error"] > 0
    _assert_same_store(tmp_path / "s.zarr", tmp_path / "p.zarr")
    with pytest.raises(CellConsensusInputError, match="broken.png"):
        write_patches_on_cluster(
            data.truth, images, str(tmp_path / "r.zarr"), SIZES, client=client, mode="w"
        )


def _on_worker() -> bool:
    try:
        distributed.get_worker()
    except ValueError:
        return False  # the client reads one image too (the store's channels)
    return True


class _DiesOnce(ImageTable):
    """Kills the worker process on its first image load (once per marker file)."""

    def load(self, image_id, channels="auto"):
        marker = os.environ.get(KILL_MARKER)
        if marker and not os.path.exists(marker) and _on_worker():
            open(marker, "w").close()
            os._exit(1)
        return super().load(image_id, channels)


class _FailsOn(ImageTable):
    """Raises on one image: an interrupted build."""

    victim = ""

    def load(self, image_id, channels="auto"):
        if image_id == self.victim:
            raise RuntimeError("interrupted")
        return super().load(image_id, channels)


def test_killed_worker_store_complete_and_identical(data, tmp_path, monkeypatch):
    monkeypatch.setenv(KILL_MARKER, str(tmp_path / "killed"))
    write_patches(data.truth, data.images, tmp_path / "s.zarr", SIZES, chunk_size=8)
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    with cluster, distributed.Client(cluster) as c:
        write_patches_on_cluster(
            data.truth,
            _DiesOnce(dict(data.images)),
            str(tmp_path / "p.zarr"),
            SIZES,
            chunk_size=8,
            task_patches=20,
            client=c,
        )
    assert (tmp_path / "killed").exists()
    _assert_same_store(tmp_path / "s.zarr", tmp_path / "p.zarr")


def _interrupted_parallel_build(client, data, tmp_path) -> str:
    """A serial reference store, and a parallel build of the same that fails on one image."""
    write_patches(data.truth, data.images, tmp_path / "s.zarr", SIZES, chunk_size=8)
    failing = _FailsOn(dict(data.images))
    failing.victim = str(data.truth["image_id"].iloc[-1])
    target = str(tmp_path / "p.zarr")
    with pytest.raises(RuntimeError, match="interrupted"):
        write_patches_on_cluster(
            data.truth, failing, target, SIZES, chunk_size=8, task_patches=20, client=client
        )
    return target


def test_interrupted_build_is_incomplete_then_resumes(client, data, tmp_path):
    target = _interrupted_parallel_build(client, data, tmp_path)
    with pytest.raises(StoreIncompleteError):
        open_patches(target, 24)
    report = write_patches_on_cluster(
        data.truth, data.images, target, SIZES, chunk_size=8, task_patches=20, client=client
    )
    assert report.action == "resumed"
    assert not (tmp_path / "p.zarr" / "_parallel").exists()
    _assert_same_store(tmp_path / "s.zarr", tmp_path / "p.zarr")


@given(
    lengths=st.lists(st.integers(0, 5000), min_size=1, max_size=4),
    chunk=st.integers(1, 300),
    task_patches=st.integers(1, 5000),
)
def test_task_ranges_are_chunk_aligned_and_cover(lengths, chunk, task_patches):
    per_task, n_tasks = task_ranges(lengths, chunk, task_patches)
    assert per_task % chunk == 0 and per_task >= task_patches
    for n in lengths:
        covered = np.zeros(n, int)
        for k in range(n_tasks):
            covered[k * per_task : (k + 1) * per_task] += 1
        assert (covered == 1).all()  # every patch written by exactly one task
        # Task k's first chunk index: its own, never shared with task k - 1.
        assert all((k * per_task) % chunk == 0 for k in range(n_tasks))


def test_serial_builder_finishes_an_interrupted_parallel_build(client, data, tmp_path):
    target = Path(_interrupted_parallel_build(client, data, tmp_path))
    assert (target / "_parallel").exists()
    assert write_patches(data.truth, data.images, target, SIZES, chunk_size=8).action == "resumed"
    assert not (target / "_parallel").exists()
    _assert_same_store(tmp_path / "s.zarr", target)


def test_store_must_be_a_path_workers_can_open(client, data):
    import zarr

    with pytest.raises(TypeError, match="path or URL"):
        write_patches_on_cluster(data.truth, data.images, zarr.storage.MemoryStore(), SIZES)
