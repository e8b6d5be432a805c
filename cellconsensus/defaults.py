"""The library's defaults in one place, each with the benchmark figure that chose it.

Every public entry point (:func:`~cellconsensus.find_consensus`, its cluster
twin, :func:`~cellconsensus.compare.compare_strategies`, the command line)
takes its defaults from here, so a user who passes nothing gets what
``docs/benchmarks.md`` measured best:

- ``STRATEGY = "dbscan"`` (``eps=10``): the fastest strategy. Measured
  against ``eps="auto"`` on the full consensus-accuracy grid (LDC and
  synthetic truth, 48 crowd conditions, 2 seeds; docs/benchmarks.md,
  "Candidate defaults"): mean F1 0.816 at ``eps=10``, 0.884 with
  ``eps="auto"``, 0.897 with ``eps="auto"`` and ``support_rule="model"``;
  worst margin to panoptes' DBSCAN tuned by oracle -0.447 / -0.276 / -0.276;
  largest ECE 0.151 / 0.036 / 0.039. The grid says ``eps="auto"`` with the
  annotator model is the better default (``eps=10`` splits cells when clicks
  scatter: synthetic, 3 annotators, position noise 0.3, F1 0.25-0.37); switching
  is open in issue 14 (the tests' tiny and pixel-exact crowds, and the
  annotator model on a cluster). ``eps="auto"`` is weakest at 10 annotators
  with high noise and spammers (synthetic: -0.28 against the tuned peer,
  where ``eps=10`` is at -0.21).
- ``LABELS = "dawid-skene"`` (hierarchical, see
  :class:`~cellconsensus.labels.DawidSkeneAggregator`): on the same grid
  within 0.014 label accuracy of crowd-kit's ``DawidSkene`` on the same
  cells in every condition (ahead by up to 0.033; mean label accuracy 0.932
  at ``eps=10``, 0.942 with ``eps="auto"``); on the label-aggregation crowds
  (LDC votes, 5 annotators) within 0.005 of crowd-kit and 0.03-0.12 above
  majority vote (whose ties stay ``unsure``); on the real Cell Spotting
  export no lone vote overruled (99.7 % of single-volunteer cells agree with
  the majority, the rest being lone ``unsure`` answers; 0 of 1,435
  majority-dead cells alive, against 1,511 of 1,761 for classic
  Dawid-Skene with ``eps="auto"``).
- ``MIN_SUPPORT = 0.3`` and ``MIN_ANNOTATORS = 2``: no change up to six
  annotators; at ten annotators with spammers F1 0.86 -> 0.96 (LDC).
- ``SUPPORT_RULE = "threshold"``: the annotator model (``"model"``,
  :mod:`cellconsensus.cell_model`) is ahead on the grid (above; mean F1
  0.884 -> 0.897 with ``eps="auto"``, up to +0.09 with spammers, worst
  -0.017 at 10 annotators in high noise); it becomes the default with
  ``eps="auto"``, once it runs on a cluster too.
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
#: Which clusters are cells: the support threshold (see above for the annotator model).
SUPPORT_RULE = "threshold"
