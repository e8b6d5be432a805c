"""The library's defaults in one place, each with the benchmark figure that chose it.

Every public entry point (:func:`~cellconsensus.find_consensus`, its cluster
twin, :func:`~cellconsensus.compare.compare_strategies`, the command line)
takes its defaults from here, so a user who passes nothing gets what
``docs/benchmarks.md`` measured best:

- ``STRATEGY = "dbscan"`` with its default ``eps="auto"``: the click noise
  estimated from the clicks, times the multiple that keeps the crowd's
  one-click-per-cell rule best (:mod:`cellconsensus.strategies.consistency`).
  On the full consensus-accuracy grid (LDC and synthetic truth, 48 crowd
  conditions, 2 seeds; docs/benchmarks.md, "The default and its
  alternatives"): mean cell F1 0.934, worst margin to panoptes' DBSCAN
  reducer tuned by oracle on the very crowds -0.024 (LDC, 5 annotators, label
  noise 0.25, spammers), ahead of it by up to +0.127 (3 annotators, high
  position noise). The previous default, ``eps=10`` with the support
  threshold: mean F1 0.816, worst margin -0.447 (``eps=10`` splits cells when
  clicks scatter); three times the noise without the consistency choice:
  worst margin -0.276 (it chains neighbouring cells at 10 annotators in high
  noise).
- ``LABELS = "dawid-skene"`` (hierarchical, see
  :class:`~cellconsensus.labels.DawidSkeneAggregator`): on the same grid
  within 0.012 label accuracy of crowd-kit's ``DawidSkene`` on the same
  cells in every condition (ahead by up to 0.029; mean label accuracy
  0.943), largest expected calibration error of ``p_alive`` 0.042 (synthetic,
  5 annotators, high noise, spammers; 0.034 or less elsewhere); on the
  label-aggregation crowds (LDC votes, 5 annotators) within 0.005 of
  crowd-kit and 0.03-0.12 above majority vote (whose ties stay ``unsure``);
  on the real Cell Spotting export no lone vote overruled (99.6 % of
  single-volunteer cells agree with the majority, the rest being lone
  ``unsure`` answers; no majority-dead cell alive, against 1,511 of 1,761
  for classic Dawid-Skene with ``eps="auto"``).
- ``SUPPORT_RULE = "model"``: the annotator model
  (:mod:`cellconsensus.cell_model`) keeps a candidate by its posterior of
  being real. On the grid, mean F1 0.934 against 0.918 for the support
  threshold, worst margin to the tuned peer -0.024 against -0.048. One
  process only: :mod:`cellconsensus.distributed` keeps the threshold.
- ``MIN_SUPPORT = 0.3`` and ``MIN_ANNOTATORS = 2``: the support threshold (the
  annotator model's starting point, and the rule on a cluster). No change up
  to six annotators; at ten annotators with spammers F1 0.86 -> 0.96 (LDC).
- ``DOUBLE_CLICK = 6.0`` px: an annotator's second click this close to their
  first on the same image is a double click, taken out before clustering
  (docs/benchmarks.md, "Double clicks": crowds with 2 % and 10 % double clicks
  over LDC and synthetic truth). Mean F1 0.955 without the rule, 0.9676 at
  6 px, 0.9680 at 8 px (the gain from 6 to 8 px only on synthetic cells twice
  LDC's size); 6 px stays well below the closest two true cells of LDC
  (9.6 px), where a larger radius would merge two cells one annotator clicked.
"""

from __future__ import annotations

__all__ = [
    "STRATEGY",
    "LABELS",
    "MIN_SUPPORT",
    "MIN_ANNOTATORS",
    "SUPPORT_RULE",
    "DOUBLE_CLICK",
]

#: Consensus strategy (with its own defaults: ``eps="auto"``).
STRATEGY = "dbscan"
#: Label aggregation.
LABELS = "dawid-skene"
#: Smallest share of an image's annotators that must click a cell.
MIN_SUPPORT = 0.3
#: Fewest annotators that must click a cell (capped at the image's annotators).
MIN_ANNOTATORS = 2
#: Which clusters are cells: the annotator model (one process; the threshold on a cluster).
SUPPORT_RULE = "model"
#: Distance (px) within which an annotator's second click on an image is a double click
#: (taken out before clustering; see :mod:`cellconsensus._one_vote`).
DOUBLE_CLICK = 6.0
