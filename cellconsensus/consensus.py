"""The public entry point: ``find_consensus``.

One engine serves every strategy, in stages (:mod:`cellconsensus.engine`):

1. validate the clicks and sort them canonically (image, x, y, annotator,
   label), so that results never depend on the order of the input rows
   (:class:`~cellconsensus.clustering.ClickArrays`);
2. resolve ``"auto"`` scale parameters once, over all clicks;
3. the strategy makes candidate cells (its one hook,
   :meth:`~cellconsensus.strategies.BaseStrategy.make_cells`; by default:
   cluster each image, one vote per annotator, centres, spread and support,
   :func:`~cellconsensus.clustering.cluster_cells`);
4. keep the cells the support rule accepts (:func:`~cellconsensus.support.keep_cells`);
5. aggregate labels across all images at once (so Dawid-Skene learns each
   annotator's skill from every image), unless the strategy labelled its cells;
6. number cells per image by position (top to bottom, then left to right).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import defaults
from .clustering import ClickArrays
from .engine import finish_cells, new_report, resolve_scale
from .labels import BaseAggregator, get_aggregator
from .params import Interval, StrOptions, validate_params
from .result import ASSIGNMENT_STATUS, Consensus, ConsensusReport, input_sources, provenance
from .strategies import BaseStrategy, get_strategy
from .support import SUPPORT_RULES, keep_cells
from .tables.vocabulary import Vocabulary

if TYPE_CHECKING:
    from .distributed import DistributedConsensus

__all__ = ["find_consensus", "Consensus", "ConsensusReport", "ASSIGNMENT_STATUS"]

logger = logging.getLogger(__name__)

_CONSTRAINTS = {
    "min_support": [Interval(Real, 0, 1, closed="both")],
    "min_annotators": [Interval(Integral, 1, None, closed="left")],
    "support_rule": [StrOptions(set(SUPPORT_RULES)), None],
    "n_jobs": [Interval(Integral, None, None, closed="neither")],
}


def find_consensus(
    clicks: pd.DataFrame,
    strategy: str | BaseStrategy = defaults.STRATEGY,
    labels: str | BaseAggregator = defaults.LABELS,
    *,
    params: dict[str, Any] | None = None,
    min_support: float = defaults.MIN_SUPPORT,
    min_annotators: int = defaults.MIN_ANNOTATORS,
    support_rule: str | None = None,
    runs: pd.DataFrame | None = None,
    n_jobs: int = 1,
    progress: bool = False,
    client=None,
    output=None,
    npartitions: int | None = None,
    overwrite: bool = False,
    classes: Vocabulary | Sequence[str] | None = None,
) -> Consensus | DistributedConsensus:
    """Find consensus cells in crowd clicks.

    Parameters
    ----------
    clicks : DataFrame
        A Clicks table (any reader's output, or your own with the columns
        ``image_id, annotator_id, x, y, label``).
    strategy : str or BaseStrategy, default "dbscan"
        A name from :func:`~cellconsensus.strategies.available_strategies` or
        an instance (see :mod:`cellconsensus.defaults`). With a scale set to
        ``"auto"``, ``result.strategy`` shows the resolved value, e.g.
        ``DBSCANStrategy(eps=11.3)``.
    labels : str or BaseAggregator, default "dawid-skene"
        Label aggregation: ``mean``, ``majority``, ``dawid-skene`` or an
        instance (its ``unsure_margin`` sets the ``unsure`` band). The
        default is the measured best (:mod:`cellconsensus.defaults`).
    params : dict, optional
        Strategy parameters, e.g. ``{"eps": "auto"}``.
    min_support : float in [0, 1], default 0.3
        Drop cells clicked by fewer than this fraction of the image's
        annotators. With up to 6 annotators the default changes nothing
        beyond ``min_annotators=2``; with more it keeps random coincidences
        (spammers, stray clicks) from becoming cells as crowds grow: on the
        benchmark's 10-annotator crowds with spammers, F1 0.86 -> 0.96 (LDC)
        and 0.83 -> 0.95 (synthetic), see docs/benchmarks.md.
    min_annotators : int, default 2
        Drop cells clicked by fewer annotators, capped at the number of
        annotators of the image: on an image that only one person annotated,
        that person's clicks are the consensus.
    support_rule : {"threshold", "model"}, optional
        Which clusters are cells (:func:`~cellconsensus.support.keep_cells`; a
        strategy with a rule of its own, the thesis', decides this itself). ``"threshold"``: ``min_support`` and
        ``min_annotators``. ``"model"``: every cluster and every lone click is
        a candidate, kept when its posterior of being real is at least 0.5
        under a model of each annotator's detection and stray-click rates
        learnt across images (:mod:`cellconsensus.cell_model`, started from
        the threshold rule); the posterior is the ``p_real`` column (NaN on
        an image with one run, whose clicks are kept as with the threshold:
        one run says nothing of who strays). It trusts
        a cell one careful annotator found where a spammer and a hasty one
        did not: on the consensus-accuracy grid (48 crowd conditions, 2
        seeds) mean cell F1 0.918 -> 0.934, worst margin to panoptes' tuned
        DBSCAN -0.048 -> -0.024 (docs/benchmarks.md); the default
        (:data:`cellconsensus.defaults.SUPPORT_RULE`), on a cluster too (its EM
        runs across partitions).
    runs : DataFrame, optional
        Every (``image_id``, ``annotator_id``) that worked on an image, runs
        without a click included; default ``clicks.attrs["runs"]`` (readers set it).
    n_jobs : int, default 1
        Processes for the clustering (-1: all cores). Results are identical
        for any value.
    progress : bool, default False
        Show a progress bar (for command-line use).
    client : distributed.Client or str, optional
        Run on this Dask cluster (:mod:`cellconsensus.distributed.consensus`): a
        client, a scheduler address (``"tcp://host:8786"``) or ``"local:N"`` (a
        :func:`~cellconsensus.distributed.local_cluster` of N workers for this
        call). ``clicks`` may then also be Parquet/CSV paths or a Dask
        DataFrame, the cells are written as partitioned Parquet to ``output``,
        and the result is a :class:`~cellconsensus.distributed.DistributedConsensus`;
        the cells equal those of one process with the same options.
    output : path, optional
        With ``client``: the folder the cells are written to (required).
    npartitions : int, optional
        With ``client``: partitions of whole images (default:
        :func:`~cellconsensus.distributed.choose_npartitions`).
    overwrite : bool, default False
        With ``client``: replace an existing ``output``.
    classes : Vocabulary or sequence of str, optional
        The label set (default: ``clicks.attrs["classes"]``, else inferred from the
        labels: alive / dead / unsure when either class is among them). For any other
        set the Cells table holds a ``p_<class>`` column per class instead of ``p_alive``
        (on a cluster too).

    Returns
    -------
    Consensus
        ``.cells``, ``.assignments``, ``.report``; with a ``client``, a
        ``DistributedConsensus`` (``.path``, ``.report``; the cells through
        :func:`~cellconsensus.read_cells`).

    Examples
    --------
    >>> from cellconsensus.synthetic import make_truth
    >>> from cellconsensus.simulate import simulate_crowd
    >>> truth = make_truth(n_images=3, seed=1)
    >>> result = find_consensus(simulate_crowd(truth, n_annotators=5, seed=1), "dbscan")
    >>> list(result.cells.columns)
    ['image_id', 'cell_id', 'x', 'y', 'n_annotators', 'support', 'p_alive', 'label', 'spread', 'p_real']
    >>> bool(result.cells["p_alive"].between(0, 1).all())
    True
    """
    validate_params(
        _CONSTRAINTS,
        {
            "min_support": min_support,
            "min_annotators": min_annotators,
            "support_rule": support_rule,
            "n_jobs": n_jobs,
        },
        "find_consensus",
    )
    if n_jobs == 0:
        raise ValueError("n_jobs must not be 0; use 1 for one process or -1 for all cores")
    support_rule = support_rule or defaults.SUPPORT_RULE
    if client is not None:
        from .distributed import connect
        from .distributed.consensus import consensus_on_cluster

        if output is None:
            raise ValueError("find_consensus on a cluster writes its cells: pass output=FOLDER")
        with connect(client) as connected:
            return consensus_on_cluster(
                clicks,
                strategy,
                labels,
                output=output,
                runs=runs,
                params=params,
                min_support=min_support,
                min_annotators=min_annotators,
                support_rule=support_rule,
                npartitions=npartitions,
                overwrite=overwrite,
                client=connected,
                progress=progress,
                classes=classes,
            )
    start = time.perf_counter()
    input_report = clicks.attrs.get("report") if isinstance(clicks, pd.DataFrame) else None
    sources = input_sources(clicks)
    if runs is None and isinstance(clicks, pd.DataFrame):
        runs = clicks.attrs.get("runs")
    arrays = ClickArrays.encode(clicks, runs, source="<find_consensus clicks>", classes=classes)
    strategy = get_strategy(strategy, **(params or {}))
    aggregator = get_aggregator(labels)
    strategy, scale = resolve_scale(strategy, arrays)
    report = new_report(
        strategy,
        aggregator,
        scale,
        arrays,
        input_report.to_dict() if input_report is not None else None,
    )
    draft = strategy.make_cells(arrays, n_jobs=n_jobs, progress=progress)
    outcome = keep_cells(draft, arrays, support_rule, min_support, min_annotators)
    cells, assignments = finish_cells(arrays, outcome, aggregator, report)
    report.seconds = time.perf_counter() - start
    logger.info(
        "consensus: %d clicks -> %d cells in %.3f s",
        report.n_clicks,
        report.n_cells,
        report.seconds,
    )
    # How the cells were made travels with them (e.g. into a patch store's attributes).
    cells.attrs["provenance"] = provenance(
        report,
        min_support=min_support,
        min_annotators=min_annotators,
        support_rule=support_rule,
        sources=sources,
    )
    return Consensus(cells, assignments, report, strategy, aggregator)
