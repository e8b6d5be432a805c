"""The library's defaults in one place, each with the benchmark figure that chose it.

Every public entry point (:func:`~cellconsensus.find_consensus`, its cluster
twin, :func:`~cellconsensus.compare.compare_strategies`, the command line)
takes its defaults from here, so a user who passes nothing gets what
``docs/benchmarks.md`` measured best:

- ``STRATEGY = "dbscan"`` (``eps=10``): the fastest strategy and, with the
  scale estimated (``eps="auto"``), among the most accurate on the
  consensus-accuracy grid. Whether ``eps="auto"`` should be the default is
  being measured: on tiny or pixel-exact crowds the estimate is fragile.
- ``LABELS = "dawid-skene"`` (hierarchical, see
  :class:`~cellconsensus.labels.DawidSkeneAggregator`): on the label-aggregation
  crowds (LDC votes, 5 annotators, 5 or 25 % label noise, with and without
  spammers) accuracy equal to classic Dawid-Skene (crowd-kit's) within 0.005
  and 0.03-0.12 above majority vote (whose ties stay ``unsure``), expected
  calibration error 0.003-0.03, and on the real Cell Spotting export no lone
  vote overruled (99.7 % of single-volunteer cells agree with the majority,
  the rest being lone ``unsure`` answers; 0 of 1,761 majority-dead cells
  alive, against 1,511 for classic Dawid-Skene). Open (issue 14): on the
  consensus grid's hardest 3-annotator crowds it is still behind crowd-kit's
  ``DawidSkene`` on the same cells (by up to 0.125 label accuracy), while
  ahead of majority vote in every condition.
- ``MIN_SUPPORT = 0.3`` and ``MIN_ANNOTATORS = 2``: no change up to six
  annotators; at ten annotators with spammers F1 0.86 -> 0.96 (LDC).
- ``SUPPORT_RULE = "threshold"``: the annotator model (``"model"``,
  :mod:`cellconsensus.cell_model`) was ahead on 22 simulated crowds (mean
  cell F1 0.866 against 0.841, worst -0.008); it becomes the default if the
  full grid confirms it, and once it runs on a cluster too.
"""

from __future__ import annotations

__all__ = ["STRATEGY", "LABELS", "MIN_SUPPORT", "MIN_ANNOTATORS", "SUPPORT_RULE"]

#: Consensus strategy (with its own defaults: ``eps=10``).
STRATEGY = "dbscan"
#: Label aggregation.
LABELS = "dawid-skene"
#: Smallest share of an image's annotators that must click a cell.
MIN_SUPPORT = 0.3
#: Fewest annotators that must click a cell (capped at the image's annotators).
MIN_ANNOTATORS = 2
#: Which clusters are cells: the support threshold (the annotator model, "model", is
#: being measured on the full grid).
SUPPORT_RULE = "threshold"
