"""Write a consensus strategy of your own and compare it with the built-in ones.

    python examples/custom_strategy.py          # synthetic truth and crowd (seconds)
    python examples/custom_strategy.py --real   # a crowd simulated over the LDC expert cells

A strategy only clusters the clicks of one image; the library does the rest
(the one-vote rule, centres, labels, filters, ``"auto"`` scales). Register it
for this process with ``register_strategy``, or package it with an entry point
(``examples/strategy_plugin``) so everyone finds it by name.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from _common import parser, real
from scipy.cluster.hierarchy import fcluster, linkage

from cellconsensus import make_truth, read_voc, simulate_crowd
from cellconsensus.compare import compare_strategies
from cellconsensus.params import Interval, StrOptions
from cellconsensus.strategies import BaseStrategy, register_strategy


@register_strategy
class AverageLinkageStrategy(BaseStrategy):
    """Average-linkage clustering cut at ``distance`` pixels.

    Parameters
    ----------
    distance : float or "auto", default 20.0
        Largest mean distance between the clicks of two merged groups.
    """

    name = "average-linkage"
    _parameter_constraints = {
        "distance": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})]
    }
    _auto_scale = {"distance": 3.0}

    def __init__(self, *, distance: float | str = 20.0) -> None:
        self.distance = distance

    def _cluster_image(self, X: np.ndarray, annotators: np.ndarray) -> np.ndarray:
        if len(X) < 2:
            return np.zeros(len(X), np.int64)
        ids = fcluster(linkage(X, "average"), float(self.distance), criterion="distance")
        _, dense = np.unique(ids, return_inverse=True)
        return dense.astype(np.int64)


def main() -> None:
    args = parser(__doc__).parse_args()
    if args.real:
        truth = read_voc(sorted(real("ldc", "images").glob("*.xml"))[:300])
    else:
        truth = make_truth(n_images=30, seed=0)
    clicks = simulate_crowd(truth, 5, seed=0)
    table = compare_strategies(
        clicks, ["average-linkage", "dbscan", "agglomerative"], truth=truth, auto_scale=True
    )
    print(table[["strategy", "params", "n_cells", "f1", "label_accuracy"]].to_string(index=False))


if __name__ == "__main__":
    main()
