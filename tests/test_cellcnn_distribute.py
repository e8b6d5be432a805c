"""Training under tf.distribute: sharded input, MirroredStrategy, MultiWorkerMirroredStrategy.

Each run is a fresh process: TensorFlow's devices and collectives are set up once per process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from cellcnn.data import make_dataset, targets
from cellcnn.store import PatchStore

HELPER = Path(__file__).with_name("_distributed_training.py")


@pytest.fixture(scope="module")
def store(separable) -> Path:
    return separable[0]


@pytest.mark.parametrize("cache", [False, True])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_shards_are_disjoint_cover_the_split_and_follow_chunks(store, cache, n):
    source = PatchStore(store, 24)
    seen = []
    for i in range(n):
        ds = make_dataset(
            source, split="train", batch_size=8, with_index=True, cache=cache, shard=(n, i)
        )
        rows = np.concatenate([b[3].numpy() for b in ds]) if n else []
        assert ((rows // source.chunk) % n == i).all()
        seen.append(rows)
    every = np.concatenate(seen)
    labelled = targets(source, source.rows("train"))[0]  # unsure cells are left out
    assert len(every) == len(set(every)) and set(every) == set(labelled)


def test_bad_shard_is_refused(store):
    with pytest.raises(ValueError, match="shard"):
        make_dataset(store, 24, "train", 8, shard=(2, 2))


def _run(args, env=None, timeout=300) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(HELPER), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
    )


def _settings(proc: subprocess.Popen, timeout: int = 300) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def test_mirrored_strategy_two_replicas(store, tmp_path):
    settings = _settings(_run(["mirrored", store, tmp_path / "run"]))
    assert settings["replicas"] == 2 and settings["strategy"] == "MirroredStrategy"
    assert (tmp_path / "run" / "model.keras").exists()
    assert settings["best_val_auc"] > 0.5


def test_cluster_role_from_the_resolver():
    from types import SimpleNamespace

    from cellcnn.multiworker import cluster_role as _cluster_role

    def strategy(spec, kind, index):
        resolver = SimpleNamespace(
            cluster_spec=lambda: SimpleNamespace(as_dict=lambda: spec),
            task_type=kind,
            task_id=index,
        )
        return SimpleNamespace(cluster_resolver=resolver)

    two = {"worker": ["a:1", "b:1"]}
    assert _cluster_role(strategy(two, "worker", 0)) == (2, 0, True)
    assert _cluster_role(strategy(two, "worker", 1)) == (2, 1, False)
    with_chief = {"chief": ["c:1"], "worker": ["a:1", "b:1"]}
    assert _cluster_role(strategy(with_chief, "chief", 0)) == (3, 0, True)
    assert _cluster_role(strategy(with_chief, "worker", 0)) == (3, 1, False)
    assert _cluster_role(SimpleNamespace()) == (1, 0, True)  # no cluster: one worker


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


#: What Keras 3 (3.15) prints when ``fit`` fails under MultiWorkerMirroredStrategy: it
#: reduces a first data batch as a nest, and scalar logs with axis=0
#: (tensorflow/tensorflow#72388).
KERAS_MULTIWORKER_BUG = ("Invalid reduction dimension 0", "Attempt to convert a value (PerReplica")


def test_multi_worker_mirrored_two_processes(store, tmp_path):
    cluster = {"worker": [f"localhost:{p}" for p in _free_ports(2)]}
    procs = [
        _run(
            ["multiworker", store, tmp_path / "run"],
            env={
                "TF_CONFIG": json.dumps(
                    {"cluster": cluster, "task": {"type": "worker", "index": i}}
                )
            },
        )
        for i in range(2)
    ]
    try:
        chief_out, chief_err = procs[0].communicate(timeout=300)
        if procs[0].returncode and any(sign in chief_err for sign in KERAS_MULTIWORKER_BUG):
            # Exactly the known upstream failure; the day Keras fixes it, this test runs through.
            pytest.xfail("Keras 3 cannot fit under MultiWorkerMirroredStrategy (tensorflow#72388)")
        assert procs[0].returncode == 0, chief_err[-3000:]
        other_out, other_err = procs[1].communicate(timeout=120)
        assert procs[1].returncode == 0, other_err[-3000:]
    finally:
        for p in procs:  # a worker left waiting for its peer's collectives
            if p.poll() is None:
                p.kill()
    settings = [json.loads(out.strip().splitlines()[-1]) for out in (chief_out, other_out)]
    assert all(s["workers"] == 2 and s["replicas"] == 2 for s in settings)
    # The chief (worker 0) writes the run folder; worker 1 its own sub-folder.
    assert (tmp_path / "run" / "model.keras").exists()
    assert (tmp_path / "run" / "workers" / "1" / "run.json").exists()
    chief = json.loads((tmp_path / "run" / "run.json").read_text())
    assert chief["settings"]["strategy"] == "MultiWorkerMirroredStrategy"
