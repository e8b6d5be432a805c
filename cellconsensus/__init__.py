"""cellconsensus: from crowdsourced clicks on microscopy images to trustworthy labelled cells.

>>> from cellconsensus import find_consensus, read_cellspotting_csv
>>> clicks = read_cellspotting_csv("../shared/data/cellspotting/runs/task_runs_1000.csv")  # doctest: +SKIP
>>> result = find_consensus(clicks)  # the measured best defaults  # doctest: +SKIP
>>> result.cells.head()  # doctest: +SKIP
"""

from importlib.metadata import PackageNotFoundError, version

from .consensus import Consensus, ConsensusReport, find_consensus
from .errors import CellConsensusInputError
from .io import (
    read_cells,
    read_cellspotting_csv,
    read_clicks,
    read_export,
    read_pybossa,
    read_voc,
    write_cells,
    write_clicks,
)
from .labels import available_aggregators, get_aggregator
from .metrics import Score, score
from .simulate import simulate_crowd
from .simulate_votes import simulate_votes
from .strategies import available_strategies, get_strategy
from .synthetic import make_truth
from .tables import validate_cells, validate_clicks

try:
    __version__ = version("cellconsensus")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = [
    "__version__",
    "CellConsensusInputError",
    "Consensus",
    "ConsensusReport",
    "Score",
    "available_aggregators",
    "available_strategies",
    "find_consensus",
    "get_aggregator",
    "get_strategy",
    "make_truth",
    "read_cells",
    "read_cellspotting_csv",
    "read_clicks",
    "read_export",
    "read_pybossa",
    "read_voc",
    "score",
    "simulate_crowd",
    "simulate_votes",
    "validate_cells",
    "validate_clicks",
    "write_cells",
    "write_clicks",
]
