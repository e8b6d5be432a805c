"""Readers and writers: every source is normalised to the Clicks table.

- :func:`read_cellspotting_csv` -- the Cell Spotting CSV export (Python 2 repr arrays);
- :func:`read_pybossa` -- PyBossa task-run exports (JSON or CSV) and task lists;
- :func:`read_voc` -- Pascal VOC ground truth (one row per box);
- :func:`read_clicks` / :func:`write_clicks`, :func:`read_cells` / :func:`write_cells`
  -- plain CSV/Parquet of the tables.
"""

from .cellspotting import CELLSPOTTING_CANVAS, read_cellspotting_csv
from .pybossa import read_pybossa
from .tabular import read_cells, read_clicks, write_cells, write_clicks
from .voc import read_voc

__all__ = [
    "CELLSPOTTING_CANVAS",
    "read_cellspotting_csv",
    "read_pybossa",
    "read_voc",
    "read_clicks",
    "write_clicks",
    "read_cells",
    "write_cells",
]
