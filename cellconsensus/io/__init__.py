"""Readers and writers: every source is normalised to the Clicks table.

- :func:`read_cellspotting_csv` -- the Cell Spotting CSV export (Python 2 repr arrays);
- :func:`read_pybossa` -- PyBossa task-run exports (JSON or CSV) and task lists;
- :func:`write_pybossa` -- a Clicks table as a PyBossa JSON export (the reader's inverse);
- :func:`read_zooniverse` / :func:`write_zooniverse` -- Zooniverse classification exports
  (point marks);
- :func:`read_voc` / :func:`write_voc` -- Pascal VOC ground truth (one row per box);
- :func:`read_clicks` / :func:`write_clicks`, :func:`read_cells` / :func:`write_cells`,
  :func:`read_truth` / :func:`write_truth` -- plain CSV/Parquet of the tables;
  :func:`read_table` / :func:`write_table` -- any other table, format by suffix;
- :func:`read_export` / :func:`detect_format` -- any of the above exports by its look.
"""

from ._files import atomic_write
from .cellspotting import CELLSPOTTING_CANVAS, read_cellspotting_csv
from .exports import EXPORT_FORMATS, detect_format, read_export
from .pybossa import read_pybossa, write_pybossa
from .tabular import (
    read_cells,
    read_clicks,
    read_table,
    read_truth,
    write_cells,
    write_clicks,
    write_table,
    write_truth,
)
from .voc import read_voc, write_voc
from .zooniverse import read_zooniverse, write_zooniverse

__all__ = [
    "atomic_write",
    "CELLSPOTTING_CANVAS",
    "read_cellspotting_csv",
    "read_pybossa",
    "write_pybossa",
    "read_voc",
    "write_voc",
    "read_zooniverse",
    "write_zooniverse",
    "read_truth",
    "write_truth",
    "read_clicks",
    "write_clicks",
    "read_cells",
    "write_cells",
    "read_table",
    "write_table",
    "EXPORT_FORMATS",
    "detect_format",
    "read_export",
]
