"""Shared fixtures: real data in ../shared/data (skipped with a message when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CELLSPOTTING_CSV = DATA / "cellspotting" / "runs" / "task_runs_1000.csv"
LDC_IMAGES = DATA / "ldc" / "images"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data not found at {path} (../shared/data is absent)")
    return path


@pytest.fixture(scope="session")
def cellspotting_csv() -> Path:
    return _need(CELLSPOTTING_CSV)


@pytest.fixture(scope="session")
def ldc_images() -> Path:
    return _need(LDC_IMAGES)


@pytest.fixture(scope="session")
def cellspotting_images() -> Path:
    return _need(DATA / "cellspotting" / "app_images")


@pytest.fixture(scope="session")
def separable(tmp_path_factory):
    """Bright blobs are alive, dark blobs dead: trivially separable, with soft p_alive."""
    rng = np.random.default_rng(0)
    n = 400
    images, rows = {}, []
    for k in range(n // 4):
        image = rng.normal(100, 4, (64, 64, 1))
        for j, (x, y) in enumerate([(16, 16), (48, 16), (16, 48), (48, 48)]):
            alive = (k + j) % 3 != 0
            yy, xx = np.mgrid[:64, :64]
            image[..., 0] += (60 if alive else -60) * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 30)
            rows.append(
                {
                    "image_id": f"im{k:03d}",
                    "cell_id": j,
                    "x": x + 0.5,
                    "y": y + 0.5,
                    "label": "alive" if alive else "dead",
                    "p_alive": 0.9 if alive else 0.2,
                    "support": 1.0 if j else 0.5,
                }
            )
        images[f"im{k:03d}"] = np.clip(image, 0, 255).astype(np.uint8)
    cells = pd.DataFrame(rows)
    cells.loc[cells.index % 50 == 7, "label"] = "unsure"
    store = tmp_path_factory.mktemp("cnn") / "sep.zarr"
    from cellconsensus.store import write_patches

    write_patches(cells, images, store, [24], chunk_size=32, seed=0)
    return store, cells, images


#: The label set of ``separable_classes``: not alive / dead, so every K-class path runs.
BLOB_CLASSES = ("bright", "dark", "pair")


@pytest.fixture(scope="session")
def separable_classes(tmp_path_factory):
    """Three kinds of blob, trivially told apart: one bright (``bright``), one dark
    (``dark``), two small bright ones side by side (``pair``); soft ``p_<class>`` columns
    (0.8 for the true class) and a few ``unsure`` labels."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:64, :64]

    def blob(x, y, width):
        return np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / width)

    images, rows = {}, []
    for k in range(120):
        image = rng.normal(100, 4, (64, 64))
        for j, (x, y) in enumerate([(16, 16), (48, 16), (16, 48), (48, 48)]):
            kind = (k + j) % 3
            if kind == 0:
                image += 60 * blob(x, y, 30)
            elif kind == 1:
                image -= 60 * blob(x, y, 30)
            else:
                image += 70 * (blob(x - 4, y, 6) + blob(x + 4, y, 6))
            proba = np.full(3, 0.1)
            proba[kind] = 0.8
            rows.append({"image_id": f"im{k:03d}", "cell_id": j, "x": x + 0.5, "y": y + 0.5,
                         "label": BLOB_CLASSES[kind], "support": 1.0,
                         **{f"p_{c}": proba[i] for i, c in enumerate(BLOB_CLASSES)}})  # fmt: skip
        images[f"im{k:03d}"] = np.clip(image, 0, 255).astype(np.uint8)[..., None]
    cells = pd.DataFrame(rows)
    cells.loc[cells.index % 60 == 7, "label"] = "unsure"
    store = tmp_path_factory.mktemp("cnn3") / "blobs.zarr"
    from cellconsensus.store import write_patches

    write_patches(cells, images, store, [24], chunk_size=32, seed=0)
    return store, cells, images


@pytest.fixture(scope="session")
def tiny_run(separable, tmp_path_factory):
    """A model trained for one epoch on ``separable`` (what it predicts does not matter)."""
    pytest.importorskip("tensorflow")
    from cellcnn.train import train

    out = tmp_path_factory.mktemp("tiny") / "run"
    train(separable[0], 24, out_dir=out, epochs=1, model_kwargs={"widths": (8, 16)}, verbose=0)
    return out


@pytest.fixture(scope="session")
def dask_client():
    """A LocalCluster of two worker processes (one thread each), shared by the tests."""
    distributed = pytest.importorskip("distributed")
    from cellconsensus.distributed import local_cluster

    cluster = local_cluster(2)
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()
