"""Peer libraries behind our tables: Zooniverse's panoptes-aggregation and crowd-kit.

Both are optional (``pip install -e '.[bench]'``; ``make bench`` installs them
in ``.venv-bench``); each function raises ``ImportError`` with that hint when
its peer is missing, and :func:`available` says which are there.

panoptes-aggregation's point reducers take one *extract* per classification,
``{"frame0": {"T0_tool0_x": [...], "T0_tool0_y": [...]}}``, with the
classifying ``user_id``; a Zooniverse project that marks alive and dead cells
gives each label its own tool (``per_label=True``): the reducer clusters each
tool's points separately and every cluster is a cell of that tool's label. With
one tool (``per_label=False``) clusters mix labels; the cell's label is then the
majority of its points' labels (our own post-processing: panoptes has none).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd

__all__ = ["available", "panoptes_consensus", "crowdkit_aggregate", "CROWDKIT_METHODS"]

HINT = "install the benchmark extra: pip install -e '.[bench]' (or run make bench)"
#: Zooniverse task/tool keys of the labels when each label has its own tool.
TOOLS = {"alive": "T0_tool0", "dead": "T0_tool1", "unsure": "T0_tool2"}
CROWDKIT_METHODS = ("MajorityVote", "DawidSkene", "GLAD", "MACE")


def available() -> dict[str, bool]:
    """Which peers are importable."""
    return {
        "panoptes-aggregation": importlib.util.find_spec("panoptes_aggregation") is not None,
        "crowd-kit": importlib.util.find_spec("crowdkit") is not None,
    }


def _reducer(name: str):
    try:
        if name == "dbscan":
            from panoptes_aggregation.reducers.point_reducer_dbscan import (
                point_reducer_dbscan as reducer,
            )
        elif name == "hdbscan":
            from panoptes_aggregation.reducers.point_reducer_hdbscan import (
                point_reducer_hdbscan as reducer,
            )
        else:
            raise ValueError(f"panoptes reducer must be 'dbscan' or 'hdbscan', got {name!r}")
    except ImportError as exc:
        raise ImportError(f"panoptes-aggregation is not installed: {HINT}") from exc
    return reducer


def _extracts(annotator, x, y, labels, people: list, per_label: bool):
    """One extract per annotator of an image (in ``people`` order) and, for one tool,
    the label of every point in the order the reducer concatenates them."""
    extracts, point_labels = [], []
    for person in people:
        mine = annotator == person
        frame: dict[str, list] = {}
        if per_label:
            for label in np.unique(labels[mine]):
                tool = TOOLS[label]
                chosen = mine & (labels == label)
                frame[f"{tool}_x"] = x[chosen].tolist()
                frame[f"{tool}_y"] = y[chosen].tolist()
        elif mine.any():
            frame = {"T0_tool0_x": x[mine].tolist(), "T0_tool0_y": y[mine].tolist()}
            point_labels.extend(labels[mine])
        extracts.append({"frame0": frame})
    return extracts, np.array(point_labels, dtype=object)


def panoptes_consensus(
    clicks: pd.DataFrame, reducer: str = "dbscan", *, per_label: bool = True, **params
) -> pd.DataFrame:
    """Consensus cells from panoptes-aggregation's point reducer, image by image.

    Parameters
    ----------
    clicks : DataFrame
        A Clicks table (``image_id, annotator_id, x, y, label``); its
        ``attrs["runs"]`` (annotators who clicked nothing) are passed too.
    reducer : {"dbscan", "hdbscan"}
        ``point_reducer_dbscan`` or ``point_reducer_hdbscan``.
    per_label : bool, default True
        One tool per label (how Zooniverse projects mark classes), else one tool.
    **params
        The reducer's parameters (``eps``, ``min_samples``, ``min_cluster_size``).

    Returns
    -------
    DataFrame
        ``image_id, x, y, label, support`` (points in the cluster).
    """
    reduce = _reducer(reducer)
    runs = clicks.attrs.get("runs")
    if runs is None or not len(runs):
        runs = clicks[["image_id", "annotator_id"]].drop_duplicates()
    people_of = runs.groupby("image_id", sort=False)["annotator_id"].agg(list).to_dict()
    # Plain arrays sliced per image: pandas would copy the attrs into every group.
    order = np.argsort(clicks["image_id"].to_numpy(dtype=object), kind="stable")
    image = clicks["image_id"].to_numpy(dtype=object)[order]
    annotator = clicks["annotator_id"].to_numpy(dtype=object)[order]
    labels = clicks["label"].astype(str).to_numpy(dtype=object)[order]
    x, y = clicks["x"].to_numpy()[order], clicks["y"].to_numpy()[order]
    starts = np.flatnonzero(np.r_[True, image[1:] != image[:-1]]) if len(image) else []
    bounds = np.r_[starts, len(image)]
    rows = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        image_id = image[a]
        people = list(dict.fromkeys(people_of.get(image_id, []))) or list(
            dict.fromkeys(annotator[a:b])
        )
        extracts, point_labels = _extracts(
            annotator[a:b], x[a:b], y[a:b], labels[a:b], people, per_label
        )
        frame = reduce(extracts, user_id=people, **params).get("frame0", {})
        tools = TOOLS.items() if per_label else [(None, "T0_tool0")]
        for label, tool in tools:
            xs = frame.get(f"{tool}_clusters_x", [])
            ys = frame.get(f"{tool}_clusters_y", [])
            counts = frame.get(f"{tool}_clusters_count", [])
            if label is None and xs:
                members = np.asarray(frame[f"{tool}_cluster_labels"])
                ids = sorted(set(members.tolist()) - {-1})
                names = [_majority(point_labels[members == k]) for k in ids]
            else:
                names = [label] * len(xs)
            rows.extend(
                (image_id, x, y, name, n)
                for x, y, name, n in zip(xs, ys, names, counts, strict=True)
            )
    return pd.DataFrame(rows, columns=["image_id", "x", "y", "label", "support"])


def _majority(labels: np.ndarray) -> str:
    alive, dead = int((labels == "alive").sum()), int((labels == "dead").sum())
    return "alive" if alive > dead else "dead" if dead > alive else "unsure"


def crowdkit_aggregate(votes: pd.DataFrame, method: str, **params) -> pd.Series:
    """Labels per task from one of crowd-kit's aggregators.

    Parameters
    ----------
    votes : DataFrame
        ``task, worker, label``.
    method : str
        One of :data:`CROWDKIT_METHODS`.
    **params
        Passed to the aggregator (e.g. ``n_iter``).

    Returns
    -------
    Series
        The label of every task, indexed by task.
    """
    try:
        from crowdkit import aggregation
    except ImportError as exc:
        raise ImportError(f"crowd-kit is not installed: {HINT}") from exc
    if method not in CROWDKIT_METHODS:
        raise ValueError(f"method must be one of {CROWDKIT_METHODS}, got {method!r}")
    return getattr(aggregation, method)(**params).fit_predict(votes)
