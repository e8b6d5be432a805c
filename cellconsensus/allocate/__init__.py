"""Spend volunteers where they matter: per-image uncertainty and the next tasks to send.

- :func:`image_uncertainty` -- per image: expected missed cells, expected label errors,
  doubt about cells being real, and the expected gain of one more annotator;
- :func:`next_tasks` -- a budget of annotator runs spread over the images where they
  remove most expected errors, with a retire flag;
- :class:`DetectorRates`, :func:`detector_rates` -- an automatic detector's cells as
  evidence of where the crowd is wrong (``detections=`` of both);
- :func:`write_pybossa_updates`, :func:`write_zooniverse_retirement` -- files a project
  loads (PyBossa ``n_answers`` per task; a Zooniverse retirement / subject-set CSV).
"""

from __future__ import annotations

from .detector_evidence import DetectorRates, detector_rates
from .exports import write_pybossa_updates, write_zooniverse_retirement
from .plan import NEXT_TASK_COLUMNS, RETIRE_BELOW, RUN_OVERHEAD, allocate_budget, next_tasks
from .uncertainty import UNCERTAINTY_COLUMNS, CrowdRates, crowd_rates, image_uncertainty

__all__ = [
    "image_uncertainty",
    "crowd_rates",
    "CrowdRates",
    "DetectorRates",
    "detector_rates",
    "next_tasks",
    "allocate_budget",
    "write_pybossa_updates",
    "write_zooniverse_retirement",
    "NEXT_TASK_COLUMNS",
    "UNCERTAINTY_COLUMNS",
    "RETIRE_BELOW",
    "RUN_OVERHEAD",
]
