"""The kill matrix: a real build process killed at many points, then re-run, ends in a store
identical (every chunk file, every array's metadata) to an uninterrupted build.

Each case starts a fresh Python process that builds the store and kills itself
(``os._exit``: no clean-up, no ``finally``) right before or after the N-th call of one
step of the builder: making a size group, marking the root, flushing chunks, finishing.
The re-run happens in this process with the same arguments. Executors: one process,
``n_jobs=2`` (a process pool), an append (``mode="a"``) and a Dask cluster.

``make test`` tries 12 chosen points; with ``CELLCONSENSUS_KILL_MATRIX=full`` (the
reliability benchmark) every call of every step, before and after, of every executor.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from _tally import record

from cellconsensus.io import read_truth
from cellconsensus.store import StoreError, StoreIncompleteError, open_patches, write_patches
from cellconsensus.store import writer as store_writer
from cellconsensus.synthetic import write_synthetic

SIZES = [20, 32]

BUILD = """
import functools, itertools, os, sys
import cellconsensus.store.write as serial
import cellconsensus.store.writer as writer
from cellconsensus.io import read_truth
from cellconsensus.store import write_patches

root, store, executor, when, step, count = sys.argv[1:7]
writer.FLUSH_PATCHES = 8  # a flush per chunk: many kill points
targets = {"create_group": serial, "set_root": serial, "finish_build": serial,
           "flush": writer.SizeWriter}
if executor == "cluster":
    import cellconsensus.distributed.patches as cluster
    targets.update(set_root=cluster, finish_build=cluster, _write_task=cluster)
owner = targets[step]
original = getattr(owner, step)
counter = itertools.count(1)

@functools.wraps(original)
def killing(*args, **kwargs):
    n = next(counter)  # this call's number (calls may overlap on a cluster's threads)
    if when == "before" and n == int(count):
        os._exit(9)
    out = original(*args, **kwargs)
    if when == "after" and n == int(count):
        os._exit(9)
    return out

setattr(owner, step, killing)
truth = read_truth(root + "/truth.csv")
images = root + "/images"
options = {"chunk_size": 8}
if executor == "n_jobs":
    options["n_jobs"] = 2
if executor == "append":
    options["mode"] = "a"
if executor == "cluster":
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, processes=False, dashboard_address=":0") as c, Client(c) as client:
        write_patches(truth, images, store, SIZES, client=client, task_patches=8, **options)
else:
    write_patches(truth, images, store, SIZES, **options)
print("finished without a kill")
""".replace("SIZES", repr(SIZES))

#: Where each run is killed: executor, before/after, step, which call of it.
CHOSEN = [
    (executor, when, step, int(count))
    for executor, when, step, count in map(
        str.split,
        """
        serial after create_group 1
        serial after set_root 1
        serial after flush 1
        serial after flush 5
        serial before finish_build 1
        n_jobs after flush 3
        append after set_root 1
        append after flush 2
        append before finish_build 1
        cluster after set_root 1
        cluster after _write_task 2
        cluster before finish_build 1
        """.strip().splitlines(),
    )
]
#: How often each executor calls each step in a build of the test data (the full matrix).
CALLS = {
    "serial": {"create_group": 2, "set_root": 1, "flush": 12, "finish_build": 1},
    "n_jobs": {"create_group": 2, "set_root": 1, "flush": 12, "finish_build": 1},
    "append": {"set_root": 1, "flush": 4, "finish_build": 1},
    "cluster": {"set_root": 2, "_write_task": 6, "finish_build": 1},
}
EVERY = [
    (executor, when, step, count)
    for executor, steps in CALLS.items()
    for step, n in steps.items()
    for count in range(1, n + 1)
    for when in ("before", "after")
    if (when, step) != ("after", "finish_build")  # the build is then complete: nothing to kill
]
KILL_POINTS = EVERY if os.environ.get("CELLCONSENSUS_KILL_MATRIX") == "full" else CHOSEN


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return write_synthetic(
        tmp_path_factory.mktemp("syn") / "data", n_images=10, style="brightfield", seed=7
    )


def _build(synthetic, store: Path, executor: str, **options) -> None:
    truth = read_truth(synthetic.root / "truth.csv")
    if executor == "append":
        options["mode"] = "a"
    if executor == "n_jobs":
        options["n_jobs"] = 2
    write_patches(truth, synthetic.root / "images", store, SIZES, chunk_size=8, **options)


def _base(synthetic, store: Path) -> None:
    """The store an append starts from: the first half of the images."""
    truth = read_truth(synthetic.root / "truth.csv")
    first = sorted(truth["image_id"].unique())[:5]
    write_patches(
        truth[truth["image_id"].isin(first)],
        synthetic.root / "images",
        store,
        SIZES,
        chunk_size=8,
    )


def _content(root: Path) -> tuple[dict, dict]:
    """Every chunk file's bytes, and every array's metadata without build progress."""
    files = {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "zarr.json" and "scratch" not in p.parts
    }
    meta = {}
    for p in sorted(root.rglob("zarr.json")):
        if p.parent == root or "scratch" in p.parts:
            continue
        data = json.loads(p.read_text())
        data.get("attributes", {}).pop("progress", None)
        meta[str(p.relative_to(root))] = data
    return files, meta


@pytest.fixture(scope="module")
def clean(synthetic, tmp_path_factory):
    """Uninterrupted builds: from scratch, and appended to the base store."""
    root = tmp_path_factory.mktemp("clean")
    with pytest.MonkeyPatch.context() as m:
        m.setattr(store_writer, "FLUSH_PATCHES", 8)
        _build(synthetic, root / "built.zarr", "serial")
        _base(synthetic, root / "appended.zarr")
        base = _content(root / "appended.zarr")
        _build(synthetic, root / "appended.zarr", "append")
    return {
        "built": _content(root / "built.zarr"),
        "base": base,
        "appended": _content(root / "appended.zarr"),
    }


@pytest.mark.parametrize(("executor", "when", "step", "count"), KILL_POINTS)
def test_a_build_killed_anywhere_resumes_to_the_uninterrupted_store(
    synthetic, clean, tmp_path, monkeypatch, executor, when, step, count
):
    if executor == "cluster":
        pytest.importorskip("distributed")
    store = tmp_path / "store.zarr"
    if executor == "append":
        _base(synthetic, store)
    log = tmp_path / "build.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", BUILD, str(synthetic.root), str(store), executor, when, step,
             str(count)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        returncode = proc.wait(timeout=300)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # pool workers the kill left behind
    assert returncode == 9, log.read_text()  # killed where asked, not finished
    if (executor, when, step) == ("append", "before", "set_root"):
        # Killed before the append touched the store: still the complete base store.
        assert _content(store) == clean["base"]
    else:
        # Never a store that opens as complete: incomplete, or not (yet) a patch store.
        with pytest.raises((StoreIncompleteError, StoreError, FileNotFoundError)):
            open_patches(store, SIZES[0])
    monkeypatch.setattr(store_writer, "FLUSH_PATCHES", 8)
    if executor == "cluster":
        from distributed import Client, LocalCluster

        with (
            LocalCluster(n_workers=2, processes=False, dashboard_address=":0") as cluster,
            Client(cluster) as client,
        ):
            truth = read_truth(synthetic.root / "truth.csv")
            write_patches(
                truth,
                synthetic.root / "images",
                str(store),
                SIZES,
                chunk_size=8,
                client=client,
                task_patches=8,
            )
    else:
        _build(synthetic, store, executor)
    expected = clean["appended" if executor == "append" else "built"]
    files, meta = _content(store)
    assert files.keys() == expected[0].keys()
    assert all(files[k] == expected[0][k] for k in files)
    assert meta == expected[1]
    assert len(open_patches(store, SIZES[1])["patches"]) > 0
    record(f"kill points: {executor}", "resumed")
