"""Run several strategies on one input, side by side, optionally scored against truth."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from . import defaults
from .consensus import find_consensus
from .disagreement import strategy_agreement
from .metrics import score
from .result import Consensus
from .strategies import available_strategies, get_strategy

__all__ = ["compare_strategies", "run_strategies", "comparison_table", "format_comparison"]


def run_strategies(
    clicks: pd.DataFrame,
    strategies: Iterable[str] | None = None,
    *,
    labels: str = defaults.LABELS,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    auto_scale: bool = False,
    progress: bool = False,
    **consensus_kwargs: Any,
) -> dict[str, Consensus]:
    """Run each strategy on the same clicks; the consensus of each, by run name.

    Parameters are those of :func:`compare_strategies`; a run with scales set to
    ``"auto"`` is named ``"<strategy> (auto)"``.

    Examples
    --------
    >>> from cellconsensus.synthetic import make_truth
    >>> from cellconsensus.simulate import simulate_crowd
    >>> runs = run_strategies(simulate_crowd(make_truth(2, seed=0), seed=0), ["dbscan", "kmeans"])
    >>> list(runs)
    ['dbscan', 'kmeans']
    """
    names = list(strategies) if strategies is not None else available_strategies()
    runs: list[tuple[str, dict]] = []
    for name in names:
        given = dict((params or {}).get(name, {}))
        runs.append((name, given))
        scale_params = get_strategy(name)._auto_scale
        if auto_scale and scale_params:
            runs.append((f"{name} (auto)", {**given, **dict.fromkeys(scale_params, "auto")}))
    results = {}
    for label, given in tqdm(runs, desc="strategies", disable=not progress):
        name = label.removesuffix(" (auto)")
        results[label] = find_consensus(clicks, name, labels, params=given, **consensus_kwargs)
    return results


def comparison_table(
    results: Mapping[str, Consensus], truth: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per run of :func:`run_strategies`: cells, speed, agreement, and scores.

    ``agreement`` is the run's mean detection F1 against every other run
    (:func:`~cellconsensus.disagreement.strategy_agreement`): without truth, a run
    far from the others is the one to look at. With truth: precision, recall, F1,
    label accuracy, balanced label accuracy and localisation error.

    Examples
    --------
    >>> from cellconsensus.synthetic import make_truth
    >>> from cellconsensus.simulate import simulate_crowd
    >>> runs = run_strategies(simulate_crowd(make_truth(2, seed=0), seed=0), ["dbscan", "radius"])
    >>> comparison_table(runs)["agreement"].between(0, 1).all()
    np.True_
    """
    agreement = None
    if len(results) > 1:
        matrix = strategy_agreement({k: r.cells for k, r in results.items()})
        agreement = (matrix.sum(axis=1) - 1) / (len(matrix) - 1)
    rows = []
    for label, result in results.items():
        row: dict[str, Any] = {
            "strategy": label,
            "params": repr(result.strategy),
            "n_cells": result.report.n_cells,
            "seconds": result.report.seconds,
            "clicks_per_s": result.report.n_clicks / max(result.report.seconds, 1e-9),
        }
        if agreement is not None:
            row["agreement"] = float(agreement[label])
        if truth is not None:
            s = score(result.cells, truth)
            row.update(
                precision=s.precision,
                recall=s.recall,
                f1=s.f1,
                label_accuracy=s.label_accuracy,
                balanced_label_accuracy=s.balanced_label_accuracy,
                localisation_error=s.localisation_error,
            )
        rows.append(row)
    return pd.DataFrame(rows)


def compare_strategies(
    clicks: pd.DataFrame,
    strategies: Iterable[str] | None = None,
    *,
    truth: pd.DataFrame | None = None,
    labels: str = defaults.LABELS,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    auto_scale: bool = False,
    progress: bool = False,
    **consensus_kwargs: Any,
) -> pd.DataFrame:
    """Run each strategy on the same clicks and tabulate the results.

    Parameters
    ----------
    clicks : DataFrame
        A Clicks table.
    strategies : iterable of str, optional
        Strategy names (default: all available).
    truth : DataFrame, optional
        Ground truth (``image_id, x, y, label``, ``size``); adds precision,
        recall, F1, label accuracy and localisation error.
    labels : str, default "dawid-skene"
        Label aggregation for every strategy.
    params : mapping, optional
        Per-strategy parameters, e.g. ``{"dbscan": {"eps": 12}}``.
    auto_scale : bool, default False
        Also run every strategy that has scale parameters with them set to
        ``"auto"`` (rows named ``<strategy> (auto)``).
    progress : bool, default False
        Show a progress bar.
    **consensus_kwargs
        Passed to :func:`~cellconsensus.find_consensus` (``min_support``, ``n_jobs``...).

    Returns
    -------
    DataFrame
        One row per run: ``strategy, params, n_cells, seconds, clicks_per_s``,
        ``agreement`` (mean detection F1 against the other runs; with two runs or
        more) and, with truth, ``precision, recall, f1, label_accuracy,
        balanced_label_accuracy, localisation_error``
        (:func:`comparison_table`).

    Examples
    --------
    >>> from cellconsensus.synthetic import make_truth
    >>> from cellconsensus.simulate import simulate_crowd
    >>> truth = make_truth(n_images=3, seed=0)
    >>> table = compare_strategies(simulate_crowd(truth, seed=0), ["dbscan", "radius"], truth=truth)
    >>> table["strategy"].tolist()
    ['dbscan', 'radius']
    """
    results = run_strategies(
        clicks,
        strategies,
        labels=labels,
        params=params,
        auto_scale=auto_scale,
        progress=progress,
        **consensus_kwargs,
    )
    return comparison_table(results, truth)


def format_comparison(table: pd.DataFrame) -> str:
    """A strategy comparison as fixed-width text (without the ``params`` column).

    Examples
    --------
    >>> print(format_comparison(pd.DataFrame({"strategy": ["dbscan"], "params": ["{}"], "f1": [0.9]})))
    strategy    f1
      dbscan 0.900
    """
    shown = table.drop(columns=["params"], errors="ignore")
    with pd.option_context(
        "display.width", 200, "display.max_columns", 20, "display.float_format", "{:.3f}".format
    ):
        return shown.to_string(index=False)
