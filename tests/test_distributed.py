"""Consensus on a Dask LocalCluster equals single-process consensus, survives a killed worker."""

from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

distributed = pytest.importorskip("distributed")

import cloudpickle  # noqa: E402  (comes with distributed)
import dask  # noqa: E402

from cellconsensus import find_consensus as _find_consensus  # noqa: E402
from cellconsensus import read_cellspotting_csv  # noqa: E402
from cellconsensus.distributed import (  # noqa: E402
    _select,
    local_cluster,
    partition_clicks,
    read_cells,
)
from cellconsensus.distributed import (  # noqa: E402
    find_consensus as _find_consensus_on_cluster,
)
from cellconsensus.distributed.partition import choose_npartitions, split_frame  # noqa: E402
from cellconsensus.errors import CellConsensusInputError  # noqa: E402
from cellconsensus.simulate import simulate_crowd  # noqa: E402
from cellconsensus.strategies import DBSCANStrategy  # noqa: E402
from cellconsensus.synthetic import make_truth  # noqa: E402

# Workers unpickle this module's strategies by value (they cannot import a test module).
cloudpickle.register_pickle_by_value(sys.modules[__name__])

KILL_MARKER = "CELLCONSENSUS_TEST_KILL_MARKER"


def find_consensus(*args, support_rule="threshold", **kwargs):
    """One process, by default with the support threshold (the annotator model has tests of
    its own below)."""
    return _find_consensus(*args, support_rule=support_rule, **kwargs)


def find_consensus_on_cluster(*args, support_rule="threshold", **kwargs):
    return _find_consensus_on_cluster(*args, support_rule=support_rule, **kwargs)


@pytest.fixture(scope="module")
def client(dask_client):
    return dask_client


@pytest.fixture(scope="module")
def crowd() -> pd.DataFrame:
    clicks = simulate_crowd(make_truth(n_images=40, seed=3), n_annotators=6, seed=3)
    runs = clicks.attrs["runs"]
    # An annotator who looked at an image and clicked nothing, and an image nobody clicked.
    extra = pd.DataFrame(
        {"image_id": [runs["image_id"].iloc[0], "never-clicked"], "annotator_id": ["idle", "u"]}
    )
    clicks.attrs["runs"] = pd.concat([runs, extra], ignore_index=True)
    return clicks


def _sorted(cells: pd.DataFrame) -> pd.DataFrame:
    out = cells.sort_values(["image_id", "cell_id"], ignore_index=True)
    out.attrs = {}
    return out


def _assert_same_cells(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    got, expected = _sorted(got), _sorted(expected)
    pd.testing.assert_frame_equal(
        got.drop(columns=["p_alive"]),
        expected.drop(columns=["p_alive"]),
        check_dtype=False,
        check_categorical=False,
    )
    # The sums run in another order: equal up to Dawid-Skene's tolerances (EM's tol=1e-6,
    # and the precision of the learnt strength where its likelihood is nearly flat).
    np.testing.assert_allclose(got["p_alive"], expected["p_alive"], rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("strategy", "params", "labels"),
    [
        ("dbscan", {}, "majority"),
        ("dbscan", {"eps": "auto"}, "dawid-skene"),
        ("agglomerative", {"max_diameter": "auto"}, "mean"),
        ("radius-thesis", {}, "mean"),
        ("radius-thesis", {}, "dawid-skene"),  # the thesis labels its cells itself
    ],
)
def test_cluster_equals_single_process(client, crowd, tmp_path, strategy, params, labels):
    single = find_consensus(crowd, strategy, labels, params=params)
    result = find_consensus_on_cluster(
        crowd,
        strategy,
        labels,
        params=params,
        output=tmp_path / "cells",
        npartitions=5,
        client=client,
    )
    _assert_same_cells(read_cells(result.path), single.cells)
    assert result.strategy == single.strategy  # "auto" resolved to the same value
    for key in ("n_cells", "n_images", "n_clicks", "n_noise", "n_duplicate", "n_filtered"):
        assert getattr(result.report, key) == getattr(single.report, key), key
    assert len(list((tmp_path / "cells").glob("part-*.parquet"))) == result.n_partitions == 5


@pytest.mark.parametrize("labels", ["majority", "dawid-skene"])
def test_annotator_model_on_the_cluster_equals_one_process(client, crowd, tmp_path, labels):
    """support_rule="model" learns detection and stray rates across images: its EM runs
    across partitions and gives one process's cells, posteriors to rounding."""
    single = find_consensus(crowd, "dbscan", labels, params={"eps": "auto"}, support_rule="model")
    result = find_consensus_on_cluster(
        crowd,
        "dbscan",
        labels,
        params={"eps": "auto"},
        support_rule="model",
        output=tmp_path / "cells",
        npartitions=4,
        client=client,
    )
    got = read_cells(result.path)
    _assert_same_cells(got.drop(columns=["p_real"]), single.cells.drop(columns=["p_real"]))
    np.testing.assert_allclose(
        _sorted(got)["p_real"], _sorted(single.cells)["p_real"], rtol=0, atol=1e-6
    )
    assert result.report.n_filtered_cells == single.report.n_filtered_cells
    assert got.attrs["provenance"]["support_rule"] == "model"


@settings(max_examples=40, deadline=None)
@given(
    images=st.lists(st.sampled_from([f"i{k}" for k in range(12)] + [None]), max_size=60),
    run_images=st.lists(st.sampled_from([f"i{k}" for k in range(15)]), max_size=20),
    n=st.integers(1, 6),
)
def test_split_frame_keeps_images_whole_with_their_runs(images, run_images, n):
    clicks = pd.DataFrame(
        {"image_id": images, "annotator_id": "u", "x": 1.0, "y": 1.0, "label": "alive"}
    )
    runs = pd.DataFrame({"image_id": run_images, "annotator_id": "v"})
    pieces = split_frame(clicks, runs, n)
    assert len(pieces) == n
    owner: dict = {}
    for k, (part, part_runs) in enumerate(pieces):
        for image in [*part["image_id"], *part_runs["image_id"]]:
            assert owner.setdefault(image, k) == k  # None (no id) too: the first partition
    assert sorted(i for p, _ in pieces for i in p.index) == list(range(len(clicks)))
    assert sum(len(r) for _, r in pieces) == len(runs)
    if None in owner:
        assert owner[None] == 0
    # About equal clicks: no partition holds more than its share plus one image's clicks
    # (and the first, the rows without an image id).
    named = pd.Series(images).dropna()
    most = max(named.value_counts(), default=0)
    assert max(len(p) for p, _ in pieces) <= len(named) / n + most + images.count(None)


def test_partitions_sized_by_data_and_workers():
    assert choose_npartitions(0, 4) == 1
    assert choose_npartitions(250_000, 4) == 3  # 100,000 clicks or more each
    assert choose_npartitions(10**8, 4) == 8  # two per worker
    assert choose_npartitions(10**8, 0) == 2


def test_local_cluster_workers_allocate_as_a_plain_process(client):
    """The tests' cluster is a local_cluster: Dask's MALLOC_TRIM_THRESHOLD_ would otherwise fix
    glibc's mmap threshold, making the engine about 2x slower in a worker."""
    from cellconsensus.distributed._client import WORKER_ENVIRON

    seen = client.run(lambda: {k: os.environ.get(k) for k in WORKER_ENVIRON})
    assert list(seen.values()) == [WORKER_ENVIRON] * 2
    with pytest.raises(ValueError, match="at least 1"):
        local_cluster(0)


def test_one_find_consensus_for_both_engines(client, crowd, tmp_path):
    """cellconsensus.find_consensus with a client runs on the cluster; read_cells reads the
    folder it writes as any Cells file."""
    from cellconsensus import read_cells as read_any_cells

    result = _find_consensus(crowd, client=client, output=tmp_path / "c", npartitions=3)
    assert result.n_partitions == 3
    cells = read_any_cells(result.path)
    # The defaults are the same on both engines: the annotator model, Dawid-Skene.
    _assert_same_cells(cells, _find_consensus(crowd).cells)
    assert cells.attrs["provenance"]["support_rule"] == "model"
    # A scheduler's address works as well as a client.
    by_address = _find_consensus(
        crowd, "dbscan", "majority", client=client.scheduler.address, output=tmp_path / "a"
    )
    _assert_same_cells(
        read_any_cells(by_address.path), _find_consensus(crowd, "dbscan", "majority").cells
    )
    with pytest.raises(ValueError, match="pass output="):
        _find_consensus(crowd, client=client)
    with pytest.raises(CellConsensusInputError, match="not a finished"):
        read_any_cells(tmp_path)


def test_dawid_skene_learns_the_same_skills(client, crowd, tmp_path):
    single = find_consensus(crowd, "dbscan", "dawid-skene")
    result = find_consensus_on_cluster(
        crowd, "dbscan", "dawid-skene", output=tmp_path / "c", npartitions=3, client=client
    )
    assert result.aggregator.n_iter_ == single.aggregator.n_iter_
    # Single-process rows follow the clicks' annotator codes (sorted ids), as do ours.
    names = sorted(crowd["annotator_id"].astype(str).unique())
    ours = pd.Series(list(result.aggregator.errors_), index=result.aggregator.annotators_)
    for i, name in enumerate(names):
        if name in ours.index:
            np.testing.assert_allclose(ours[name], single.aggregator.errors_[i], atol=1e-6)


def test_dawid_skene_on_any_grouping_of_partitions(client):
    """The EM runs on groups of partitions (one per worker by default): any grouping gives
    the same posteriors, in each partition's order."""
    from cellconsensus.distributed._dawid_skene import fit_dawid_skene, posteriors
    from cellconsensus.labels import DawidSkeneAggregator

    rng = np.random.default_rng(5)
    n_cells = [7, 0, 12, 5, 9]
    votes = [
        pd.DataFrame(
            {
                "task": np.repeat(np.arange(n), 3),
                "annotator_id": rng.choice([f"a{i}" for i in range(6)], 3 * n),
                "answer": rng.choice([0, 0, 1, 2], 3 * n),
            }
        )
        for n in n_cells
    ]
    annotators = pd.Index(sorted({a for v in votes for a in v["annotator_id"]}))
    futures = client.scatter(votes)
    results = {}
    for n_groups in (1, 2, len(votes), None):
        aggregator = DawidSkeneAggregator()
        parts = fit_dawid_skene(client, futures, n_cells, annotators, aggregator, n_groups)
        got = [client.submit(posteriors, *part).result() for part in parts]
        results[n_groups] = (got, aggregator.n_iter_)
    reference, iterations = results[len(votes)]
    assert [len(p) for p in reference] == n_cells
    for got, n_iter in results.values():
        assert n_iter == iterations
        for a, b in zip(got, reference, strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)


THREE = ["alive", "dead", "mitotic"]


@pytest.fixture(scope="module")
def three_crowd() -> pd.DataFrame:
    truth = make_truth(n_images=40, mitotic_fraction=0.3, seed=3)
    return simulate_crowd(truth, n_annotators=6, seed=3, label_noise=0.2)


def _assert_same_classes(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """The same cells, every class probability (and p_real) to Dawid-Skene's tolerances."""
    got, expected = _sorted(got), _sorted(expected)
    numbers = [c for c in expected.columns if c.startswith("p_")]
    assert [c for c in got.columns if c.startswith("p_")] == numbers
    pd.testing.assert_frame_equal(got.drop(columns=numbers), expected.drop(columns=numbers),
                                  check_dtype=False, check_categorical=False)  # fmt: skip
    np.testing.assert_allclose(got[numbers], expected[numbers], rtol=0, atol=1e-6)


@pytest.mark.parametrize(("labels", "support_rule"),
                         [("majority", "threshold"), ("dawid-skene", "model")])  # fmt: skip
def test_three_classes_on_the_cluster_equal_one_process(
    client, three_crowd, tmp_path, labels, support_rule
):
    single = _find_consensus(three_crowd, "dbscan", labels, support_rule=support_rule)
    result = _find_consensus_on_cluster(three_crowd, "dbscan", labels, support_rule=support_rule,
                                        output=tmp_path / "c", npartitions=4, client=client)  # fmt: skip
    got = read_cells(result.path)
    assert [c for c in got.columns if c.startswith("p_")][:3] == [f"p_{c}" for c in THREE]
    _assert_same_classes(got, single.cells)
    if labels == "dawid-skene":
        assert result.aggregator.errors_.shape[1:] == (3, 4)  # K x (K + unsure)
        assert result.aggregator.n_iter_ == single.aggregator.n_iter_


def test_the_label_set_of_files_is_inferred_across_partitions(client, three_crowd, tmp_path):
    birds = three_crowd.copy()
    birds["label"] = (
        birds["label"]
        .astype(str)
        .map({"alive": "goose", "dead": "parrot", "mitotic": "chicken", "unsure": "unsure"})
    )
    birds.attrs = {}
    birds.to_parquet(tmp_path / "birds.parquet")
    result = _find_consensus_on_cluster(tmp_path / "birds.parquet", "dbscan", "majority",
                                        output=tmp_path / "b", npartitions=3, client=client)  # fmt: skip
    got = read_cells(result.path)
    assert [c for c in got.columns if c.startswith("p_") and c != "p_real"] == [
        "p_chicken", "p_goose", "p_parrot"
    ]  # fmt: skip
    _assert_same_classes(got, _find_consensus(birds, "dbscan", "majority").cells)
    # Mixed with alive / dead, a third label needs the classes, on a cluster as in one process.
    plain = three_crowd.copy()
    plain.attrs = {}
    plain.to_parquet(tmp_path / "three.parquet")
    with pytest.raises(CellConsensusInputError, match="mitotic"):
        _find_consensus_on_cluster(tmp_path / "three.parquet", "dbscan", "majority",
                                   output=tmp_path / "t", client=client)  # fmt: skip
    result = _find_consensus_on_cluster(tmp_path / "three.parquet", "dbscan", "majority",
                                        output=tmp_path / "t", client=client, classes=THREE)  # fmt: skip
    assert "p_mitotic" in read_cells(result.path)


def test_empty_runs_count_in_support(client, crowd, tmp_path):
    result = find_consensus_on_cluster(
        crowd, "dbscan", output=tmp_path / "c", npartitions=4, client=client
    )
    cells = read_cells(result.path)
    first = crowd.attrs["runs"]["image_id"].iloc[0]
    on_first = cells[cells["image_id"] == first]
    # Seven runs on that image (six annotators and the idle one) divide the support.
    np.testing.assert_allclose(on_first["support"], on_first["n_annotators"] / 7)
    assert result.report.n_images == crowd["image_id"].nunique() + 1  # the never-clicked image


def test_inputs_from_parquet_and_csv(client, crowd, tmp_path):
    plain = crowd.copy()
    plain.attrs = {}
    plain.to_parquet(tmp_path / "clicks.parquet")
    plain.to_csv(tmp_path / "clicks.csv", index=False)
    crowd.attrs["runs"].to_parquet(tmp_path / "runs.parquet")
    single = find_consensus(crowd, "dbscan")
    for name, source in (("p", tmp_path / "clicks.parquet"), ("c", str(tmp_path / "clicks.csv"))):
        result = find_consensus_on_cluster(
            source,
            "dbscan",
            output=tmp_path / name,
            runs=tmp_path / "runs.parquet",
            client=client,
        )
        cells = read_cells(result.path)
        _assert_same_cells(cells, single.cells)
        # How the cells were made, the input file included, as in one process.
        made = cells.attrs["provenance"]
        assert made["input_sources"] == [str(source)]
        assert made == single.cells.attrs["provenance"] | {"input_sources": [str(source)]}


def test_real_cellspotting_export(client, cellspotting_csv, tmp_path):
    clicks = read_cellspotting_csv(cellspotting_csv)
    single = find_consensus(clicks, "dbscan", "dawid-skene", params={"eps": "auto"})
    result = find_consensus_on_cluster(
        clicks,
        "dbscan",
        "dawid-skene",
        params={"eps": "auto"},
        output=tmp_path / "c",
        npartitions=4,
        client=client,
    )
    cells = read_cells(result.path)
    _assert_same_cells(cells, single.cells)
    # The reader's file is the recorded input, on both paths (not "<find_consensus clicks>").
    assert single.cells.attrs["provenance"]["input_sources"] == [str(cellspotting_csv)]
    assert cells.attrs["provenance"] == single.cells.attrs["provenance"]


class _DiesOnce(DBSCANStrategy):
    """DBSCAN whose first call on any worker kills that worker's process (once per marker)."""

    def fit_predict_batch(self, X, image_index, annotators):
        marker = os.environ.get(KILL_MARKER)
        if marker and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)  # the worker process dies mid-task
        return super().fit_predict_batch(X, image_index, annotators)


def test_killed_worker_loses_and_duplicates_nothing(crowd, tmp_path, monkeypatch):
    marker = tmp_path / "killed"
    monkeypatch.setenv(KILL_MARKER, str(marker))  # inherited by the workers started below
    single = find_consensus(crowd, "dbscan")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    with cluster, distributed.Client(cluster) as c:
        result = find_consensus_on_cluster(
            crowd, _DiesOnce(), output=tmp_path / "c", npartitions=6, client=c
        )
    assert marker.exists()  # a worker really died
    got = read_cells(result.path)
    assert not got.duplicated(["image_id", "cell_id"]).any()
    _assert_same_cells(got, single.cells)


class _Fails(DBSCANStrategy):
    def fit_predict_batch(self, X, image_index, annotators):
        raise RuntimeError("boom")


def test_failed_run_leaves_no_finished_output(client, crowd, tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        find_consensus_on_cluster(crowd, _Fails(), output=tmp_path / "c", client=client)
    assert not (tmp_path / "c").exists()
    with pytest.raises(CellConsensusInputError, match="not a finished"):
        read_cells(tmp_path / "c.partial")
    # A rerun starts clean and finishes; an existing output needs overwrite=True.
    find_consensus_on_cluster(crowd, "dbscan", output=tmp_path / "c", client=client)
    with pytest.raises(FileExistsError):
        find_consensus_on_cluster(crowd, "dbscan", output=tmp_path / "c", client=client)
    find_consensus_on_cluster(crowd, "dbscan", output=tmp_path / "c", overwrite=True, client=client)
    assert not (tmp_path / "c.partial").exists()


def test_missing_columns_named(client, tmp_path):
    bad = pd.DataFrame({"image_id": ["a"], "x": [1.0], "y": [1.0]})
    with pytest.raises(CellConsensusInputError, match="annotator_id"):
        find_consensus_on_cluster(bad, output=tmp_path / "c", client=client)


@settings(max_examples=30, deadline=None)
@given(
    images=st.lists(st.integers(0, 30), min_size=1, max_size=200),
    n_in=st.integers(1, 5),
    n_out=st.integers(1, 8),
)
def test_no_image_spans_two_partitions(images, n_in, n_out):
    clicks = pd.DataFrame(
        {
            "image_id": [f"img{i}" for i in images],
            "annotator_id": "u",
            "x": 1.0,
            "y": 1.0,
            "label": "alive",
        }
    )
    import dask.dataframe as dd

    frame = dd.from_pandas(clicks, npartitions=min(n_in, len(clicks)))
    with dask.config.set({"scheduler": "sync", "dataframe.shuffle.method": "tasks"}):
        parts = [p.compute() for p in partition_clicks(frame, npartitions=n_out).to_delayed()]
    owner: dict[str, int] = {}
    for k, part in enumerate(parts):
        for image in part["image_id"].unique():
            assert owner.setdefault(image, k) == k
    assert sum(len(p) for p in parts) == len(clicks)


@pytest.fixture(scope="module")
def threads_client():
    with distributed.Client(processes=False, n_workers=2, dashboard_address=":0") as c:
        yield c


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    arrays=st.lists(
        st.lists(st.sampled_from([0.0, 1.0, 2.5, 7.0]) | st.floats(0, 100), max_size=40),
        min_size=1,
        max_size=5,
    ),
    limit=st.integers(1, 10),
)
def test_distributed_median_is_exact(threads_client, monkeypatch, arrays, limit):
    monkeypatch.setattr(_select, "GATHER_LIMIT", limit)  # force the narrowing rounds
    parts = [threads_client.scatter(np.sort(np.array(a, float)), hash=False) for a in arrays]
    got, n = _select.distributed_median(threads_client, parts)
    assert n == sum(len(a) for a in arrays)
    values = np.concatenate([np.array(a, float) for a in arrays])
    if len(values):
        assert got == np.median(values)
    else:
        assert np.isnan(got)
